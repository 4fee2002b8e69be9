"""The events that travel on the bus: EEG packets, filtered packets, spectra, a source's aux
samples and system events (a ``source_connected`` carries its session typed,
``SourceSession``, with its aux stream's description, ``AuxStream``, when it has one).

Packets are immutable: their numpy arrays are frozen (``eegd.frozen``), so every subscriber
can share the very same array object and none can change it.
"""

from __future__ import annotations

import dataclasses
import enum
import time
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, ClassVar, TypeAlias

import numpy as np
import numpy.typing as npt

from eegd.aux_stream import AuxStream
from eegd.dsp.bands import BANDS
from eegd.errors import ProtocolError
from eegd.frozen import PacketEquality, frozen_array
from eegd.timestamps import wall_clock_us

__all__ = [
    "AnyTopic",
    "AuxPacket",
    "DataPacket",
    "EegPacket",
    "Event",
    "FftPacket",
    "FilteredEegPacket",
    "FrameKind",
    "MarkerEvent",
    "OutputEvent",
    "OutputTopic",
    "SourceSession",
    "SystemEvent",
    "SystemEventKind",
    "Topic",
]


class Topic(enum.IntEnum):
    """What an event is about. The numeric ids go on the wire and never change."""

    RAW_EEG = 1
    FILTERED_EEG = 2
    FFT = 3
    SYSTEM = 4
    MARKER = 5
    AUX = 6
    """A source's aux stream (accelerometer, analog, battery, GPIO), when it has one."""

    @property
    def label(self) -> str:
        """The name clients use for the topic, e.g. ``"filtered_eeg"``."""
        return self.name.lower()

    @classmethod
    def from_label(cls, label: str) -> Topic:
        """Parse a client-facing topic name, naming the valid ones when it is unknown."""
        try:
            return cls[label.upper()]
        except KeyError:
            allowed = ", ".join(topic.label for topic in cls)
            raise ProtocolError(f"unknown topic {label!r} (allowed: {allowed})") from None


class SystemEventKind(enum.StrEnum):
    """What happened, for ``SystemEvent.kind``."""

    RECORDING_STARTED = "recording_started"
    RECORDING_STOPPED = "recording_stopped"
    CONFIG_CHANGED = "config_changed"
    TASK_FAILED = "task_failed"
    TASK_RESTARTED = "task_restarted"
    TASK_GAVE_UP = "task_gave_up"
    SOURCE_CONNECTED = "source_connected"
    SOURCE_LOST = "source_lost"
    SAMPLES_LOST = "samples_lost"
    BLOCK_REJECTED = "block_rejected"
    """The source delivered a malformed block (wrong shape, NaN); it was discarded."""
    SOURCE_ENDED = "source_ended"
    """A finite source (a file played back) delivered its last sample; the daemon serves on."""
    SOURCE_LOOPED = "source_looped"
    """A file played in a loop starts again; the session, its frame ids and samples go on."""
    ANNOTATION = "annotation"
    """An annotation of the source (an EDF+ event, a marker) at one of its samples."""
    CLOCK_STEPPED = "clock_stepped"
    """The wall clock stepped (NTP); sample stamps keep the session's map (``step_us``, the
    epoch µs of one monotonic moment ``before_us`` and ``after_us`` the step)."""
    LEAD_OFF = "lead_off"
    """The set of electrodes whose lead-off detection trips changed (``electrodes``)."""
    DEVICE_RESET = "device_reset"
    """The source's device lost its configuration (a reset, a power dip) and was set up
    again in the same session (``chips``, ``found_by``, ``count``)."""
    PLUGIN_OUTPUT_INVALID = "plugin_output_invalid"
    PLUGIN_PACKET_FAILED = "plugin_packet_failed"
    """A plugin that skips failed packets skipped its first one (``plugin``, ``error``)."""
    SELFTEST_STARTED = "selftest_started"
    """``POST /api/selftest`` ended the session to test the source (``source``)."""
    SELFTEST_FINISHED = "selftest_finished"
    """The self-test is over (``passed``, ``failed`` channels, or ``error``); a session follows."""
    IMPEDANCE_STARTED = "impedance_started"
    """``POST /api/impedance`` ended the session to measure the electrodes (``source``)."""
    IMPEDANCE_FINISHED = "impedance_finished"
    """The impedance check is over: its result (``electrodes`` with kΩ and grade), or ``error``."""
    AUDIT = "audit"
    """A change was asked for (``action``) by ``role`` (``via``) from ``address``: ``accepted``
    or not, and ``outcome``."""
    SHUTDOWN = "shutdown"


@dataclasses.dataclass(frozen=True, eq=False, slots=True)
class EegPacket(PacketEquality):
    """A batch of samples as the source delivered them.

    ``raw`` holds int32 ADC counts and ``volts`` the same samples in volts, both
    channels × samples. ``timestamps`` are µs since the epoch per sample, derived from
    the sample index so they never jump. ``monotonic_ns`` is when the acquisition thread
    read the samples from the source, for end-to-end latency measurement.
    """

    topic: ClassVar[Topic] = Topic.RAW_EEG

    frame_id: int
    first_sample: int
    timestamps: npt.NDArray[np.uint64]
    raw: npt.NDArray[np.int32]
    volts: npt.NDArray[np.float32]
    sample_rate: float
    channel_names: tuple[str, ...]
    monotonic_ns: int

    @classmethod
    def create(
        cls,
        *,
        frame_id: int,
        first_sample: int,
        timestamps: npt.ArrayLike,
        raw: npt.ArrayLike,
        volts: npt.ArrayLike,
        sample_rate: float,
        channel_names: tuple[str, ...],
        monotonic_ns: int | None = None,
    ) -> EegPacket:
        """Build a packet, freezing its arrays (taken over without a copy when possible)."""
        return cls(
            frame_id=frame_id,
            first_sample=first_sample,
            timestamps=frozen_array(timestamps, np.uint64),
            raw=frozen_array(raw, np.int32),
            volts=frozen_array(volts, np.float32),
            sample_rate=float(sample_rate),
            channel_names=tuple(channel_names),
            monotonic_ns=time.monotonic_ns() if monotonic_ns is None else monotonic_ns,
        )

    @property
    def samples(self) -> npt.NDArray[np.float32]:
        """The samples in volts, ``volts`` under the name every EEG packet shares."""
        return self.volts

    @property
    def n_samples(self) -> int:
        """Samples per channel in this packet."""
        return int(self.volts.shape[1])


@dataclasses.dataclass(frozen=True, eq=False, slots=True)
class FilteredEegPacket(PacketEquality):
    """The samples of one ``EegPacket`` after the voltage filter, in volts (float32)."""

    topic: ClassVar[Topic] = Topic.FILTERED_EEG

    frame_id: int
    first_sample: int
    timestamps: npt.NDArray[np.uint64]
    samples: npt.NDArray[np.float32]
    sample_rate: float
    channel_names: tuple[str, ...]
    monotonic_ns: int

    @classmethod
    def from_source(cls, source: EegPacket, samples: npt.ArrayLike) -> FilteredEegPacket:
        """Wrap filtered ``samples`` with the identity and timing of their source packet."""
        return cls(
            frame_id=source.frame_id,
            first_sample=source.first_sample,
            timestamps=source.timestamps,
            samples=frozen_array(samples, np.float32),
            sample_rate=source.sample_rate,
            channel_names=source.channel_names,
            monotonic_ns=source.monotonic_ns,
        )

    @property
    def n_samples(self) -> int:
        """Samples per channel in this packet."""
        return int(self.samples.shape[1])


@dataclasses.dataclass(frozen=True, eq=False, slots=True)
class FftPacket(PacketEquality):
    """A power spectrum of the latest window of filtered EEG, per channel.

    ``psd`` is one-sided, in µV²/Hz, channels × bins at ``freqs`` (Hz); ``band_power`` is
    in µV², channels × bands, one column per entry of ``bands`` (name, low Hz, high Hz).
    ``timestamp`` is the µs timestamp of the window's last sample.
    """

    topic: ClassVar[Topic] = Topic.FFT

    source_frame_id: int
    timestamp: int
    freqs: npt.NDArray[np.float32]
    psd: npt.NDArray[np.float32]
    band_power: npt.NDArray[np.float32]
    fft_size: int
    window: str
    sample_rate: float
    channel_names: tuple[str, ...]
    monotonic_ns: int
    bands: tuple[tuple[str, float, float], ...] = BANDS

    @property
    def frame_id(self) -> int:
        """``source_frame_id``, under the name every data packet shares."""
        return self.source_frame_id


@dataclasses.dataclass(frozen=True, eq=False, slots=True)
class AuxPacket(PacketEquality):
    """A batch of a source's aux samples (``SourceSession.aux`` describes the channels),
    read with the EEG packet ``frame_id`` and published just before it.

    ``first_sample`` counts aux samples since the session started (the aux stream's own
    count, at its own ``sample_rate``); ``values`` are channels × samples in each channel's
    unit; ``timestamps`` µs since the epoch per aux sample. Both arrays are frozen
    (``frozen_array``).
    """

    topic: ClassVar[Topic] = Topic.AUX

    frame_id: int
    first_sample: int
    timestamps: npt.NDArray[np.uint64]
    values: npt.NDArray[np.float32]
    sample_rate: float
    channel_names: tuple[str, ...]
    monotonic_ns: int

    @property
    def n_samples(self) -> int:
        """Aux samples per channel in this packet."""
        return int(self.values.shape[1])


@dataclasses.dataclass(frozen=True, slots=True)
class SourceSession:
    """A source session as its ``source_connected`` event announces it, typed, so that no
    consumer (the hello, the recorder, the LSL outlet, ...) parses the event's detail.

    ``channels`` are the channel names; ``time_anchor_us`` is the wall-clock µs of sample 0
    as the session started; ``utc_offset_us`` its epoch µs minus its monotonic µs;
    ``batch_size`` the samples in each of its packets; ``physical_range`` each channel's
    (min, max) in volts, for a source that declares it. ``resumed`` marks an opening that
    goes on with the session after an outage, from sample ``first_sample``. ``aux``
    describes the source's aux stream; None when it has none.
    """

    id: str
    sample_rate: float
    channels: tuple[str, ...]
    time_anchor_us: int
    utc_offset_us: int
    batch_size: int
    physical_range: tuple[tuple[float, float], ...] | None = None
    resumed: bool = False
    first_sample: int | None = None
    aux: AuxStream | None = None

    def event(self) -> SystemEvent:
        """The ``source_connected`` event that carries it; its detail is what clients see."""
        span = self.physical_range
        detail: dict[str, Any] = {
            "session": self.id,
            "sample_rate": self.sample_rate,
            "channels": list(self.channels),
            "time_anchor_us": self.time_anchor_us,
            "utc_offset_us": self.utc_offset_us,
            **({"physical_range": [list(pair) for pair in span]} if span is not None else {}),
            **({"aux": self.aux.as_json()} if self.aux is not None else {}),
            **({"resumed": True, "first_sample": self.first_sample} if self.resumed else {}),
        }
        return SystemEvent(
            SystemEventKind.SOURCE_CONNECTED, MappingProxyType(detail), wall_clock_us(), self
        )


@dataclasses.dataclass(frozen=True, eq=False, slots=True)
class SystemEvent(PacketEquality):
    """Something that happened to the daemon: a task failed, the source was lost, ..."""

    topic: ClassVar[Topic] = Topic.SYSTEM

    kind: SystemEventKind
    detail: Mapping[str, Any]
    timestamp: int
    session: SourceSession | None = None
    """The session a ``source_connected`` event announces (``SourceSession.event``); None
    on every other kind."""

    @classmethod
    def now(cls, kind: SystemEventKind, **detail: Any) -> SystemEvent:
        """An event stamped with the current wall-clock time; ``detail`` is frozen."""
        return cls(kind=kind, detail=MappingProxyType(dict(detail)), timestamp=wall_clock_us())


@dataclasses.dataclass(frozen=True, eq=False, slots=True)
class MarkerEvent(PacketEquality):
    """A moment someone marked (``POST /api/markers``): a label, optionally a duration.

    ``timestamp`` is the wall-clock µs of the moment marked; ``sample`` the index (in
    ``session``) of the sample at that moment, when a session was running.
    """

    topic: ClassVar[Topic] = Topic.MARKER

    label: str
    timestamp: int
    duration_s: float | None = None
    sample: int | None = None
    session: str | None = None


class FrameKind(enum.Enum):
    """How the events of an ``OutputTopic`` go on the wire (docs/protocol.md, section 4.4)."""

    TEXT = "text"
    """A JSON object typed by the topic's label: ``{"type": label, "timestamp": µs, ...}``."""
    BINARY = "binary"
    """A binary message: the version byte, the topic's ``wire_id``, then the plugin's bytes."""


@dataclasses.dataclass(frozen=True, slots=True)
class OutputTopic:
    """A topic a plugin adds for its own output by naming it in its ``produces``.

    The daemon registers every plugin's topics (``eegd.topics.TopicRegistry``), so clients
    may subscribe to them by ``label``. A binary topic also has a ``wire_id`` (128-255, the
    plugins' range of the frame's topic byte). ``frames_per_s`` sizes client queues.
    """

    label: str
    frame: FrameKind = FrameKind.TEXT
    wire_id: int | None = None
    frames_per_s: float = 1.0


AnyTopic: TypeAlias = Topic | OutputTopic
"""A built-in topic or one a plugin added."""


@dataclasses.dataclass(frozen=True, eq=False, slots=True)
class OutputEvent(PacketEquality):
    """An event of a plugin's own topic: a JSON object (text topic) or bytes (binary topic);
    ``timestamp`` is epoch µs."""

    topic: OutputTopic
    payload: Mapping[str, Any] | bytes
    timestamp: int

    def __post_init__(self) -> None:
        text = self.topic.frame is FrameKind.TEXT
        if text != isinstance(self.payload, Mapping) or (text and "type" in self.payload):
            wanted = "a mapping without 'type'" if text else "bytes"
            raise ValueError(f"{self.topic.label} events carry {wanted}")


DataPacket: TypeAlias = EegPacket | FilteredEegPacket | FftPacket | AuxPacket
"""The events that go out as binary data frames; each has a ``frame_id``."""

Event: TypeAlias = (
    EegPacket | FilteredEegPacket | FftPacket | AuxPacket | SystemEvent | MarkerEvent | OutputEvent
)
