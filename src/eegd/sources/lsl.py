"""A Lab Streaming Layer stream as eegd's source: an inlet on an amplifier's outlet.

``open`` resolves the stream by any subset of ``name``, ``type``, ``source_id`` and
``hostname`` (``[source.lsl]``), and takes its channel count, names (``channels/channel/
label`` in its description) and nominal rate from the stream; until then the ``[source]``
values stand. Irregular-rate and string streams are refused. A stream that disappears
(``LostError``: the inlet does not recover by itself) or sends nothing for
``stall_timeout_s`` raises ``SourceError``, so the supervisor re-resolves it.

eegd's timestamps stay sample-index based. Each block carries the LSL time of its first
sample with ``time_correction()`` applied (``SampleBlock.stream_time``: this machine's
monotonic clock), and the stream's ``source_id`` names it (``stream_id``), so when the same
stream comes back the ledger counts the samples its clock says were missed.

With ``markers`` set, the LSL stream of that name (a ``Markers`` stream: a stimulus
program's) is followed in a thread of its own (``eegd.sources.lsl_markers``), and each of
its markers is handed out with the next block as a marker at the sample of the EEG stream
taken at the marker's time (both times corrected into this machine's clock), so a
recording holds it at that sample.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from typing import Annotated, Any, ClassVar, Final

import msgspec
import numpy as np
import numpy.typing as npt

from eegd.errors import SourceError
from eegd.sources.adc import COUNT_MAX, COUNT_MIN
from eegd.sources.base import (
    MAX_STREAM_CHANNELS,
    OptionalDependency,
    SampleBlock,
    SharedSourceOptions,
    Source,
    SourceMarker,
    parse_options,
)
from eegd.sources.lsl_markers import MarkerReader, TimedMarker, lsl_errors
from eegd.validation import Settings

__all__ = ["MAX_ABS_VOLTS", "PHYSICAL_RANGE_UV", "LslOptions", "LslSource"]

logger = logging.getLogger(__name__)

#: The span of each channel the int32 counts cover, ±µV (as the BrainFlow source's).
PHYSICAL_RANGE_UV: Final = 187_500.0
#: The largest value a stream may send, in volts: LSL's metadata declares no range, and no
#: EEG amplifier measures a volt (3e38 µV once reached every client as infinity).
MAX_ABS_VOLTS: Final = 1.0
#: Longest single wait inside ``read``, so ``close`` and the stall check are noticed.
_PULL_S: Final = 0.05
_UNIT_SCALE: Final = {"microvolts": 1e-6, "uv": 1e-6, "µv": 1e-6, "millivolts": 1e-3, "mv": 1e-3}
_UNIT_SCALE_V: Final = {"volts": 1.0, "v": 1.0}


class LslOptions(Settings, frozen=True):
    """``[source.lsl]``: which stream to resolve, and how long to wait for it."""

    name: str = ""
    type: str = ""
    source_id: str = ""
    hostname: str = ""
    resolve_timeout_s: Annotated[float, msgspec.Meta(ge=0.1, le=3600)] = 10.0
    stall_timeout_s: Annotated[float, msgspec.Meta(ge=0.1, le=3600)] = 5.0
    markers: str = ""
    """The name of an LSL stream whose samples are markers (e.g. a PsychoPy experiment's)."""


def _pylsl() -> Any:
    try:
        import pylsl
    except ImportError as exc:
        raise SourceError(
            "the lsl source needs pylsl: install it with pip install 'eegd[lsl]'"
        ) from exc
    return pylsl


class LslSource(Source):
    """Streams an LSL stream's samples (in volts) block by block."""

    kind: ClassVar[str] = "lsl"
    requires: ClassVar[OptionalDependency | None] = OptionalDependency("lsl", "pylsl")

    @classmethod
    def from_options(cls, shared: SharedSourceOptions, options: Mapping[str, Any]) -> LslSource:
        """A source from ``[source.lsl]``; errors name the dotted key."""
        return cls(parse_options(options, LslOptions, cls.kind), shared)

    def __init__(self, options: LslOptions, shared: SharedSourceOptions | None = None) -> None:
        self._options = options
        shared = shared or SharedSourceOptions(kind="lsl")
        self._rate = float(shared.sample_rate)
        self._names = shared.channel_names or tuple(f"ch{i + 1}" for i in range(shared.channels))
        self._inlet: Any = None
        self._scale = 1e-6
        self._carry: list[list[float]] = []
        self._carry_times: list[float] = []
        self._position = 0
        self._closing = threading.Event()
        self._lsb_volts = 2.0 * PHYSICAL_RANGE_UV * 1e-6 / 2**24
        self._stream_id: str | None = None
        self._markers: MarkerReader | None = None
        self.time_correction = 0.0
        """The last ``time_correction()``: the outlet's clock minus this machine's."""

    @property
    def sample_rate(self) -> float:
        """The stream's nominal rate (the ``[source]`` value until opened)."""
        return self._rate

    @property
    def channel_names(self) -> tuple[str, ...]:
        """The stream's channel labels (the ``[source]`` names until opened)."""
        return self._names

    @property
    def stream_id(self) -> str | None:
        """The stream's ``source_id`` (its ``name@hostname`` when it has none), once open."""
        return self._stream_id

    @property
    def physical_range(self) -> tuple[tuple[float, float], ...]:
        """Each channel's (min, max) in volts: the span the int32 counts are scaled to."""
        span = PHYSICAL_RANGE_UV * 1e-6
        return tuple((-span, span) for _ in self._names)

    def _predicate(self) -> str:
        options = self._options
        parts = [
            f"{key}='{value}'"
            for key, value in (
                ("name", options.name),
                ("type", options.type),
                ("source_id", options.source_id),
                ("hostname", options.hostname),
            )
            if value
        ]
        return " and ".join(parts) or "channel_count>0"

    def open(self) -> None:
        """Resolve the stream and open an inlet on it; ``SourceError`` if none or unusable.

        With ``markers`` set, following the marker stream starts too; it need not exist yet.
        """
        pylsl = _pylsl()
        self._closing.clear()
        predicate = self._predicate()
        found = pylsl.resolve_bypred(predicate, 1, self._options.resolve_timeout_s)
        if not found:
            raise SourceError(
                f"lsl: no stream matching {predicate} within {self._options.resolve_timeout_s:g} s"
            )
        info = found[0]
        if info.nominal_srate() <= 0:
            raise SourceError(f"lsl stream {info.name()!r} has an irregular rate; eegd needs EEG")
        if info.channel_format() == pylsl.cf_string:
            raise SourceError(f"lsl stream {info.name()!r} carries strings, not samples")
        try:
            inlet = pylsl.StreamInlet(info, max_buflen=30, recover=False)
            full = inlet.info(timeout=self._options.resolve_timeout_s)
            inlet.open_stream(timeout=self._options.resolve_timeout_s)
            self.time_correction = inlet.time_correction(timeout=self._options.resolve_timeout_s)
        except lsl_errors(pylsl) as exc:
            raise SourceError(f"lsl stream {info.name()!r}: {exc or type(exc).__name__}") from exc
        if full.channel_count() > MAX_STREAM_CHANNELS:
            inlet.close_stream()
            raise SourceError(
                f"lsl stream {full.name()!r} has {full.channel_count()} channels "
                f"(allowed: at most {MAX_STREAM_CHANNELS})"
            )
        self._names, self._scale = _channels(full)
        self._rate = float(full.nominal_srate())
        self._stream_id = full.source_id() or f"{full.name()}@{full.hostname()}"
        self._inlet, self._carry, self._carry_times, self._position = inlet, [], [], 0
        logger.info(
            "lsl stream %r (%s): %d channels at %g Hz",
            full.name(),
            full.source_id(),
            len(self._names),
            self._rate,
        )
        if self._options.markers:
            self._markers = MarkerReader(pylsl, self._options.markers)
            self._markers.start()

    def read(self, n_samples: int) -> SampleBlock:
        """The next ``n_samples``, pulled from the inlet; ``SourceError`` if it stalls or goes.

        The block carries the markers that arrived meanwhile, at their samples.
        """
        inlet = self._inlet
        if inlet is None:
            raise SourceError("lsl source is not open")
        lost = lsl_errors(_pylsl())
        stall = self._options.stall_timeout_s
        silent = 0.0
        while len(self._carry) < n_samples:
            if self._closing.is_set():
                raise SourceError("lsl source was closed")
            try:
                chunk, stamps = inlet.pull_chunk(
                    timeout=_PULL_S, max_samples=n_samples - len(self._carry)
                )
            except lost as exc:
                raise SourceError("lsl stream was lost") from exc
            if chunk:
                self._carry.extend(chunk)
                self._carry_times.extend(stamps)
                silent = 0.0
            else:
                silent += _PULL_S
                if silent >= stall:
                    raise SourceError(f"lsl stream sent no samples for {stall:g} s")
        rows, self._carry = self._carry[:n_samples], self._carry[n_samples:]
        stream_time = self._carry_times[0] + self.time_correction
        del self._carry_times[:n_samples]
        volts = np.asarray(rows, dtype=np.float64).T * self._scale
        first_sample = self._position
        self._position += n_samples
        malformed = None
        with np.errstate(invalid="ignore"):
            beyond = int(np.count_nonzero(~(np.abs(volts) <= MAX_ABS_VOLTS)))
        if beyond:
            malformed = (
                f"{beyond} values outside ±{MAX_ABS_VOLTS:g} V (the stream declares no range)"
            )
        return SampleBlock(
            first_sample=first_sample,
            raw=self._to_counts(volts),
            volts=volts.astype(np.float32),
            markers=self._placed(self._markers.take(), first_sample, stream_time)
            if self._markers is not None
            else (),
            stream_time=stream_time,
            malformed=malformed,
        )

    def close(self) -> None:
        """Close the inlet and stop following the markers; safe to call twice, from any
        thread."""
        self._closing.set()
        inlet, self._inlet = self._inlet, None
        markers, self._markers = self._markers, None
        if markers is not None:
            markers.stop()
        if inlet is not None:
            inlet.close_stream()

    def interrupt(self) -> None:
        """End a ``read`` waiting in another thread within one pull (50 ms)."""
        self._closing.set()

    def _placed(
        self, markers: list[TimedMarker], first_sample: int, stream_time: float
    ) -> tuple[SourceMarker, ...]:
        """``markers`` at the samples of their times: ``first_sample`` was taken at
        ``stream_time``. One from before the stream's first sample has no place, and goes."""
        placed = []
        for marker in markers:
            sample = first_sample + round((marker.time - stream_time) * self._rate)
            if sample < 0:
                logger.warning("lsl marker %r precedes the stream's first sample", marker.label)
                continue
            placed.append(SourceMarker(sample, marker.label))
        return tuple(placed)

    def _to_counts(self, volts: npt.NDArray[np.float64]) -> npt.NDArray[np.int32]:
        counts = np.rint(volts / self._lsb_volts)
        np.nan_to_num(counts, copy=False, nan=0.0)
        np.clip(counts, COUNT_MIN, COUNT_MAX, out=counts)
        return counts.astype(np.int32)


def _channels(info: Any) -> tuple[tuple[str, ...], float]:
    """The labels of ``info``'s channels (``chN`` where none) and volts per stream unit."""
    count = int(info.channel_count())
    labels: list[str] = []
    unit = ""
    node = info.desc().child("channels").child("channel")
    while not node.empty() and len(labels) < count:
        labels.append(node.child_value("label") or f"ch{len(labels) + 1}")
        unit = unit or node.child_value("unit").strip().lower()
        node = node.next_sibling("channel")
    labels += [f"ch{index + 1}" for index in range(len(labels), count)]
    scale = _UNIT_SCALE_V.get(unit) or _UNIT_SCALE.get(unit, 1e-6)
    return tuple(labels), scale
