"""The signal-quality plugin: raw EEG in, each channel's verdict out on the ``quality`` topic.

Every ``hop_s`` of samples (half a second by default) it judges the last ``window_s`` of the
raw stream with ``eegd.dsp.quality``: railed and clipping against the channel's declared
physical range (from ``source_connected``), or the ADC's 24-bit counts for a source without
one; flat; 50/60 Hz line noise; electrode off from the source's ``lead_off`` events. A gap
or a new session starts the window again, so a verdict never spans discontinuous data.

The latest verdicts are kept for the readers that are not clients: ``summary()``,
``status()`` (``/api/status``: the channels they call bad and warn) and ``gauges()``
(``/metrics``: each channel's verdict, grade and measures); ``stats()`` counts them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Annotated, Any, ClassVar, get_args

import msgspec

from eegd.dsp.quality import ChannelQuality, Level, QualityWindow, Verdict
from eegd.events import (
    EegPacket,
    FrameKind,
    OutputEvent,
    OutputTopic,
    SystemEvent,
    SystemEventKind,
    Topic,
)
from eegd.plugin import GaugeFamily, StatusFigure, TransformPlugin
from eegd.sources.adc import COUNT_MAX, COUNT_MIN
from eegd.validation import convert

__all__ = ["QUALITY", "QualityOptions", "SignalQuality"]

#: The topic the verdicts go out on: JSON text, about two a second.
QUALITY = OutputTopic("quality", FrameKind.TEXT, frames_per_s=2.0)

_Seconds = Annotated[float, msgspec.Meta(gt=0, le=10)]
_LEVELS: tuple[Level, ...] = get_args(Level)
_VERDICTS: tuple[Verdict, ...] = get_args(Verdict)


class QualityOptions(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """``[plugin.signal_quality]``: the window judged and how often."""

    window_s: _Seconds = 1.0
    """Seconds of raw samples each verdict is on."""
    hop_s: _Seconds = 0.5
    """Seconds of samples between two verdicts; at most ``window_s``."""

    def __post_init__(self) -> None:
        if self.hop_s > self.window_s:
            raise msgspec.ValidationError(
                f"hop_s ({self.hop_s:g}) must not exceed window_s ({self.window_s:g})"
            )


@dataclass(frozen=True, slots=True)
class _Session:
    """What the judging needs of the session: its id, channels and ranges."""

    id: str | None
    channels: tuple[str, ...]
    declared: tuple[tuple[float, float], ...] | None


class SignalQuality(TransformPlugin):
    """Judges each channel's raw signal every hop and publishes the verdicts on ``quality``."""

    name: ClassVar[str] = "signal_quality"
    consumes: ClassVar[tuple[Topic, ...]] = (Topic.RAW_EEG, Topic.SYSTEM)
    produces: ClassVar[tuple[OutputTopic, ...]] = (QUALITY,)

    def __init__(self, options: QualityOptions | None = None) -> None:
        self.options = options if options is not None else QualityOptions()
        self.verdicts_published = 0
        self._levels = {f"channel_verdicts_{level}": 0 for level in ("good", "warn", "bad")}
        self.latest: dict[str, Any] | None = None
        """The last verdicts as published (the ``quality`` payload), None before any."""
        self._judged: tuple[tuple[str, ChannelQuality], ...] = ()
        """The last verdicts, each with its channel's name."""
        self._session = _Session(None, (), None)
        self._lead_off: frozenset[str] = frozenset()
        self._window: QualityWindow | None = None
        self._origin = 0
        """The session's index of the window's first sample since its last restart."""
        self._next_sample: int | None = None

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> SignalQuality:
        """A plugin configured by ``[plugin.signal_quality]``; bad keys name themselves."""
        return cls(convert(dict(options), QualityOptions, f"plugin.{cls.name}"))

    def stats(self) -> Mapping[str, int]:
        """Counters since start (``/api/status``, ``/metrics``): verdicts published, and the
        channel verdicts at each level among them (their rates say how often a channel was
        bad)."""
        return {"verdicts_published": self.verdicts_published, **self._levels}

    def status(self) -> list[StatusFigure]:
        """For ``/api/status``: how many channels the latest verdicts call bad and warn
        (``quality_channels_bad``, ``quality_channels_warn``), 0 before any."""
        levels = [channel["level"] for channel in (self.latest or {}).get("channels", [])]
        return [
            StatusFigure(f"quality_channels_{level}", levels.count(level))
            for level in ("bad", "warn")
        ]

    def gauges(self) -> list[GaugeFamily]:
        """For ``/metrics``: each channel's latest verdict (a state set, one series per
        verdict, 1 for the one it got), its grade (0 good, 1 warn, 2 bad), its peak-to-peak,
        its share of samples at full scale and its line noise; none before any verdict."""
        judged = self._judged
        if not judged:
            return []
        per_channel: dict[str, tuple[str, Callable[[ChannelQuality], float]]] = {
            "eegd_channel_quality_grade": (
                "Each channel's latest signal-quality grade: 0 good, 1 warn, 2 bad.",
                lambda q: float(_LEVELS.index(q.level)),
            ),
            "eegd_channel_peak_to_peak_volts": (
                "Each channel's peak-to-peak over the latest quality window.",
                lambda q: q.peak_to_peak_uv * 1e-6,
            ),
            "eegd_channel_full_scale_ratio": (
                "Share of the latest quality window's samples at either end of the channel's "
                "range.",
                lambda q: q.near_rail_share,
            ),
        }
        return [
            GaugeFamily(
                "eegd_channel_quality",
                "1 for the verdict each channel's latest quality window got, 0 for the others.",
                ("channel", "verdict"),
                tuple(
                    ((name, verdict), float(quality.verdict == verdict))
                    for name, quality in judged
                    for verdict in _VERDICTS
                ),
            ),
            *(
                GaugeFamily(
                    metric, text, ("channel",), tuple(((name,), read(q)) for name, q in judged)
                )
                for metric, (text, read) in per_channel.items()
            ),
            GaugeFamily(
                "eegd_channel_line_noise_volts",
                "Amplitude of the mains sine in each channel's latest quality window, per "
                "frequency (measured from 144 samples/s up).",
                ("channel", "frequency"),
                tuple(
                    ((name, str(hz)), uv * 1e-6)
                    for name, quality in judged
                    for hz, uv in (quality.line_uv or {}).items()
                ),
            ),
        ]

    def summary(self) -> dict[str, Any] | None:
        """The latest verdicts (the ``quality`` payload with its ``timestamp``), or None."""
        return None if self.latest is None else dict(self.latest)

    def process(self, event: object) -> list[OutputEvent]:
        """The ``quality`` events ``event`` leads to (usually none or one)."""
        if isinstance(event, SystemEvent):
            self._note(event)
            return []
        if not isinstance(event, EegPacket):
            return []
        window = self._window_for(event)
        scaled = event.raw if self._session.declared is None else event.volts
        return [
            self._publishable(event, first, verdicts)
            for first, verdicts in window.push(event.volts, scaled)
        ]

    def _note(self, event: SystemEvent) -> None:
        """Take the session's channels and ranges, and the electrodes reported off."""
        detail = event.detail
        if event.session is not None:
            announced = event.session
            session = _Session(announced.id, announced.channels, announced.physical_range)
            if session != self._session or not announced.resumed:
                self._lead_off = frozenset()
            self._session = session
            self._window = None
        elif event.kind is SystemEventKind.LEAD_OFF:
            self._lead_off = frozenset(str(name) for name in detail.get("electrodes", ()))
            if self._window is not None:
                self._window.lead_off = self._rows_off()

    def _rows_off(self) -> frozenset[int]:
        return frozenset(
            row for row, name in enumerate(self._session.channels) if name in self._lead_off
        )

    def _window_for(self, packet: EegPacket) -> QualityWindow:
        """The window for ``packet``: rebuilt for a new shape or rate, restarted after a gap."""
        window = self._window
        channels = packet.volts.shape[0]
        if (
            window is None
            or window.sample_rate != packet.sample_rate
            or (len(window.ranges) != channels)
        ):
            declared = self._session.declared
            ranges = declared if declared is not None and len(declared) == channels else None
            if ranges is None:
                self._session = _Session(self._session.id, packet.channel_names, None)
                ranges = ((COUNT_MIN, COUNT_MAX),) * channels
            window = QualityWindow(
                packet.sample_rate, ranges, self.options.window_s, self.options.hop_s
            )
            window.lead_off = self._rows_off()
            self._window = window
            self._next_sample = None
        if packet.first_sample != self._next_sample:
            window.restart()
            self._origin = packet.first_sample
        self._next_sample = packet.first_sample + packet.n_samples
        return window

    def _publishable(
        self, packet: EegPacket, first: int, verdicts: tuple[ChannelQuality, ...]
    ) -> OutputEvent:
        """The ``quality`` event of one verdict on the window starting at ``first``, stamped
        with the packet's last sample (the clock model's)."""
        names = packet.channel_names
        payload = {
            "session": self._session.id,
            "first_sample": self._origin + first,
            "window_s": self.options.window_s,
            "channels": [
                {"name": name, **verdict.as_dict()}
                for name, verdict in zip(names, verdicts, strict=True)
            ],
        }
        timestamp = int(packet.timestamps[-1])
        self.latest = {"timestamp": timestamp, **payload}
        self._judged = tuple(zip(names, verdicts, strict=True))
        self.verdicts_published += 1
        for verdict in verdicts:
            self._levels[f"channel_verdicts_{verdict.level}"] += 1
        return OutputEvent(QUALITY, payload, timestamp=timestamp)
