"""Plays an EDF, EDF+, BDF or BDF+ file as if a device were streaming it.

The file's channels, names, rate, units and annotations are device facts (``eegd.sources.edf``
reads them). ``speed`` 1 plays in real time, 4 four times faster, 0 as fast as the pipeline
takes it; pacing follows a ``BlockingClock`` from ``open``, so no drift accumulates and tests
run in virtual time. Each annotation travels with the block that holds its onset sample, as
an ``annotation`` event (onset sample and seconds, duration, text) and as a marker at that
sample (its text the label), so a recording of the played file keeps it.

``start_s`` starts the playing that far into the file (a seek): the stream's samples still
count from 0 at ``open``, so a session that starts mid-file loses nothing.

At the end of the file the source raises ``SourceEnded``: the acquisition loop publishes
``source_ended`` and the daemon serves on. With ``loop`` the file starts again in the same
session: frame ids and sample indices go on, a ``source_looped`` event marks the sample where
the file restarts, and the annotations come again at their new samples.
"""

from __future__ import annotations

import bisect
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Annotated, Any, ClassVar

import msgspec
import numpy as np

from eegd.clock import SYSTEM_BLOCKING_CLOCK, BlockingClock
from eegd.errors import ConfigError, SourceEnded, SourceError
from eegd.events import SystemEventKind
from eegd.sources.base import (
    SampleBlock,
    SharedSourceOptions,
    Source,
    SourceEvent,
    SourceMarker,
    parse_options,
    placed,
)
from eegd.sources.edf import Annotation, EdfRecording, open_recording
from eegd.sources.files import allowed_file
from eegd.validation import Settings

__all__ = ["PlaybackSettings", "PlaybackSource"]

logger = logging.getLogger(__name__)


class PlaybackSettings(Settings, frozen=True):
    """The file to play, how fast, whether to loop, and what the user expects of it.

    The ``[source.playback]`` table, with ``channels``, ``sample_rate`` and
    ``channel_names`` of ``[source]`` when the user set them (None: the file's);
    ``recording`` checks them against the file.
    """

    path: str = ""
    """The EDF, EDF+, BDF or BDF+ file, inside one of the playback directories; a relative
    path is looked up in each of them in turn."""
    speed: Annotated[float, msgspec.Meta(ge=0, le=1000)] = 1.0
    """1 is real time, 4 four times faster, 0 as fast as the pipeline takes it."""
    loop: bool = False
    """Start again at the end, in the same session; else ``source_ended`` and serve on."""
    start_s: Annotated[float, msgspec.Meta(ge=0)] = 0.0
    """Where in the file to start, in seconds (a seek); before its end."""
    channels: int | None = None
    sample_rate: float | None = None
    channel_names: tuple[str, ...] | None = None
    directories: tuple[str, ...] = ()
    """Where files may come from (``eegd.sources.files.allowed_file``), as
    ``[source.playback] directories`` sets them; none: no file."""

    @property
    def file(self) -> Path:
        """``path`` with ``~`` expanded."""
        return Path(self.path).expanduser()

    def recording(self) -> EdfRecording:
        """Open the file and check the values the user set against it.

        ``SourceError`` when the file cannot be played, ``ConfigError`` (naming the key)
        when it differs from what the user set.
        """
        path, directories = self.file, tuple(Path(item) for item in self.directories)
        recording = open_recording(allowed_file(path, directories), path)
        played = len(recording.channel_names)
        if self.channels is not None and self.channels != played:
            raise ConfigError(
                f"channels: {self.channels} is not what {self.file} holds "
                f"({played} channels played; leave channels unset to use them)"
            )
        if self.sample_rate is not None and float(self.sample_rate) != recording.sample_rate:
            raise ConfigError(
                f"sample_rate: {_show(self.sample_rate)} is not the rate of {self.file} "
                f"({_show(recording.sample_rate)} Hz; leave sample_rate unset to use it)"
            )
        if self.start_s >= recording.duration_s:
            raise ConfigError(
                f"start_s: {_show(self.start_s)} is not before the end of {self.file} "
                f"({recording.duration_s:.3f} s)"
            )
        if self.channel_names is not None and (
            tuple(self.channel_names) != recording.channel_names
        ):
            raise ConfigError(
                f"channel_names: {list(self.channel_names)} are not those of {self.file} "
                f"({list(recording.channel_names)}; leave channel_names unset to use them)"
            )
        return recording


def _show(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(value)


@dataclass(frozen=True, slots=True)
class _Onsets:
    """A file's annotations in the order of their onset samples, for bisection."""

    samples: list[int]
    annotations: list[Annotation]


def _onsets(recording: EdfRecording) -> _Onsets:
    """Onsets as sample indices, clamped into the file (an onset past the end plays last)."""
    rate, last = recording.sample_rate, recording.n_samples - 1
    placed = sorted(
        ((min(max(item.onset_sample(rate), 0), last), item) for item in recording.annotations),
        key=lambda pair: pair[0],
    )
    return _Onsets([onset for onset, _ in placed], [item for _, item in placed])


class PlaybackSource(Source):
    """Streams a recorded file's samples, paced by ``speed``, with its annotations as events.

    Construction opens the file once (raising ``ConfigError`` naming ``path`` when it cannot
    be played, or lies outside ``directories``), so a bad file fails the daemon's start;
    ``open`` opens it afresh. Both read the file: call them in a worker thread.
    """

    kind: ClassVar[str] = "playback"

    @classmethod
    def from_options(
        cls, shared: SharedSourceOptions, options: Mapping[str, Any]
    ) -> PlaybackSource:
        """A file from ``[source.playback]``, checked against what ``[source]`` set.

        The file is opened here, so one that cannot be played fails the start with an
        error naming ``source.playback.path``, the file and the problem.
        """
        explicit = shared.facts(set_only=True)
        directories = tuple(str(directory) for directory in shared.file_directories)
        settings = parse_options(
            options, PlaybackSettings, cls.kind, {**explicit, "directories": directories}
        )
        if not settings.path:
            problem = "missing (allowed: the EDF or BDF file to play)"
            raise ConfigError.at(f"source.{cls.kind}.path", problem)
        try:
            return cls(settings)
        except ConfigError as exc:
            raise placed(exc, cls.kind) from None

    def __init__(self, settings: PlaybackSettings, clock: BlockingClock | None = None) -> None:
        self._settings = settings
        self._clock = clock if clock is not None else SYSTEM_BLOCKING_CLOCK
        try:
            facts = settings.recording()
        except SourceError as exc:
            raise ConfigError(f"path: {exc}") from None
        self._facts = facts
        self._onsets = _onsets(facts)
        self._unopened: EdfRecording | None = facts
        """The file as read by the constructor, which the first ``open`` takes over."""
        self._recording: EdfRecording | None = None
        self._start = 0
        """The file's sample where the stream's sample 0 is (``start_s``)."""
        self._position = 0
        self._opened_at = 0.0
        logger.info(
            "playback of %s (%s): %d channels at %g Hz, %.3f s, %d annotations",
            settings.file,
            facts.format,
            len(facts.channel_names),
            facts.sample_rate,
            facts.duration_s,
            len(facts.annotations),
        )

    @property
    def sample_rate(self) -> float:
        """The file's samples per second per channel."""
        return self._facts.sample_rate

    @property
    def channel_names(self) -> tuple[str, ...]:
        """The played signals' labels, in the file's order."""
        return self._facts.channel_names

    @property
    def physical_range(self) -> tuple[tuple[float, float], ...]:
        """Each channel's (min, max) in volts, from the file's header."""
        return self._facts.physical_range

    @property
    def recording(self) -> EdfRecording:
        """The file as it was read when the source was built."""
        return self._facts

    def open(self) -> None:
        """Start playing at ``start_s`` (the first sample by default); ``SourceError`` if the
        file cannot be read."""
        if self._recording is not None:
            raise SourceError(f"playback of {self._settings.file} is already open")
        recording, self._unopened = self._unopened, None
        if recording is None:
            recording = self._settings.recording()
            if (recording.channel_names, recording.sample_rate) != (
                self._facts.channel_names,
                self._facts.sample_rate,
            ):
                raise SourceError(f"{self._settings.file}: the file changed since eegd started")
            self._facts, self._onsets = recording, _onsets(recording)
        self._recording = recording
        self._start = min(
            round(self._settings.start_s * recording.sample_rate), recording.n_samples - 1
        )
        self._position = 0
        self._opened_at = self._clock.monotonic()

    def read(self, n_samples: int) -> SampleBlock:
        """The next ``n_samples`` (fewer at the very end), waiting for their time if paced."""
        if isinstance(n_samples, bool) or not isinstance(n_samples, int) or n_samples < 1:
            raise ValueError(f"n_samples: {n_samples!r} must be a positive integer")
        recording = self._recording
        if recording is None:
            raise SourceError(f"playback of {self._settings.file} is not open")
        length = recording.n_samples
        first = self._position
        start = self._start
        if not self._settings.loop:
            if start + first >= length:
                raise SourceEnded(f"{self._settings.file} played to its end")
            n_samples = min(n_samples, length - start - first)
        pieces = []
        events: list[SourceEvent] = []
        markers: list[SourceMarker] = []
        position = first
        while position < first + n_samples:
            offset = (start + position) % length
            take = min(first + n_samples - position, length - offset)
            if offset == 0 and position > 0:
                events.append(
                    SourceEvent(
                        SystemEventKind.SOURCE_LOOPED,
                        position,
                        MappingProxyType({"loop": (start + position) // length}),
                    )
                )
            pieces.append(recording.digital(offset, offset + take))
            for onset, item in self._annotations(offset, offset + take):
                sample = position - offset + onset
                events.append(_annotation_event(sample, onset, item))
                markers.append(SourceMarker(sample, item.text, item.duration_s))
            position += take
        raw = pieces[0] if len(pieces) == 1 else np.concatenate(pieces, axis=1)
        self._position = position
        if self._settings.speed > 0:
            rate = recording.sample_rate * self._settings.speed
            self._wait_until(self._opened_at + position / rate)
        return SampleBlock(
            first_sample=first,
            raw=raw,
            volts=recording.to_volts(raw),
            events=tuple(events),
            markers=tuple(markers),
        )

    def close(self) -> None:
        """Stop playing; reading again needs ``open``. Safe to call twice."""
        self._recording = None

    def _annotations(self, start: int, stop: int) -> list[tuple[int, Annotation]]:
        """The annotations whose onset falls in the file's samples ``start:stop``, each with
        its onset sample in the file."""
        samples = self._onsets.samples
        first, last = bisect.bisect_left(samples, start), bisect.bisect_left(samples, stop)
        return list(zip(samples[first:last], self._onsets.annotations[first:last], strict=True))

    def _wait_until(self, deadline: float) -> None:
        delay = deadline - self._clock.monotonic()
        if delay > 0:
            self._clock.sleep(delay)


def _annotation_event(sample: int, onset: int, annotation: Annotation) -> SourceEvent:
    """The ``annotation`` event of ``annotation``, at ``onset`` in the file and ``sample``
    of the stream."""
    return SourceEvent(
        SystemEventKind.ANNOTATION,
        sample,
        MappingProxyType(
            {
                "onset_sample": onset,
                "onset_s": annotation.onset_s,
                "duration_s": annotation.duration_s,
                "text": annotation.text,
            }
        ),
    )
