"""The binary data frames of the wire protocol: raw_eeg, filtered_eeg, fft and aux.

A frame is a fixed 56-byte little-endian header, then float32 arrays at 4-byte aligned
offsets. Names and the frequency axis are not repeated per frame: decoding takes them from
the session hello, and a system event, which has no binary form, is encoded as JSON text.
"""

from __future__ import annotations

import dataclasses
import struct
from typing import Any, Final, overload

import numpy as np
import numpy.typing as npt

from eegd.events import (
    AuxPacket,
    EegPacket,
    Event,
    FftPacket,
    FilteredEegPacket,
    MarkerEvent,
    OutputEvent,
    SystemEvent,
    Topic,
)
from eegd.frozen import frozen_array
from eegd.net.protocol.messages import (
    PROTOCOL_VERSION,
    ErrorCode,
    Hello,
    MarkerMessage,
    ProtocolViolation,
    SystemMessage,
    encode_output,
    encode_server_message,
)
from eegd.timestamps import packet_timestamps, sample_timestamps

__all__ = [
    "FLAG_DECIMATED",
    "HEADER",
    "AuxFrame",
    "EegFrame",
    "FrameHeader",
    "decode_frame",
    "encode_decimated",
    "encode_event",
    "parse_header",
]

#: Header flag bit 0: an EEG payload of interleaved (min, max) pairs for display.
FLAG_DECIMATED: Final = 0x0001

#: The data-frame header: version u8, topic u8, flags u16, channel_count u16, band_count u16,
#: sample_count u32, 4 reserved bytes, frame_id u64, first_sample u64, timestamp_us u64,
#: monotonic_ns u64, sample_rate f64. Every field sits at a multiple of its own size.
HEADER: Final = struct.Struct("<BBHHHI4xQQQQd")

_WIRE_FLOAT: Final = np.dtype("<f4")
_UV_PER_VOLT: Final = 1e6
_EEG_TOPICS: Final = (Topic.RAW_EEG, Topic.FILTERED_EEG)
_DATA_TOPICS: Final = (*_EEG_TOPICS, Topic.FFT, Topic.AUX)
_ALLOWED_DATA_TOPICS: Final = ", ".join(f"{topic.value} {topic.label}" for topic in _DATA_TOPICS)


@dataclasses.dataclass(frozen=True, slots=True)
class FrameHeader:
    """The fixed header of one data frame, checked against the frame's length."""

    version: int
    topic: Topic
    flags: int
    channel_count: int
    band_count: int
    sample_count: int
    frame_id: int
    first_sample: int
    timestamp_us: int
    monotonic_ns: int
    sample_rate: float

    @property
    def decimated(self) -> bool:
        """Whether the EEG payload holds (min, max) pairs instead of samples."""
        return bool(self.flags & FLAG_DECIMATED)

    def payload_layout(self) -> tuple[tuple[str, int, tuple[int, int]], ...]:
        """Each float32 array of the payload as ``(name, byte offset in the frame, shape)``."""
        per_channel = self.sample_count * (2 if self.decimated else 1)
        first = (self.channel_count, per_channel)
        if self.topic is not Topic.FFT:
            return (("samples", HEADER.size, first),)
        band_offset = HEADER.size + first[0] * first[1] * _WIRE_FLOAT.itemsize
        return (
            ("psd", HEADER.size, first),
            ("band_power", band_offset, (self.channel_count, self.band_count)),
        )

    @property
    def frame_size(self) -> int:
        """Total frame length in bytes that this header announces."""
        _, offset, (rows, columns) = self.payload_layout()[-1]
        return offset + rows * columns * _WIRE_FLOAT.itemsize


def _bad_frame(message: str) -> ProtocolViolation:
    return ProtocolViolation(ErrorCode.BAD_FRAME, message)


def parse_header(data: bytes | bytearray | memoryview) -> FrameHeader:
    """Read and check the header of a data frame, including that the frame length matches."""
    if len(data) < HEADER.size:
        raise _bad_frame(
            f"data frame is {len(data)} bytes, shorter than the {HEADER.size}-byte header"
        )
    version, topic_id, flags, channels, bands, samples, *stamps = HEADER.unpack_from(data)
    if version != PROTOCOL_VERSION:
        raise ProtocolViolation(
            ErrorCode.UNSUPPORTED_VERSION,
            f"data frame has protocol version {version}; this decoder reads {PROTOCOL_VERSION}",
        )
    if topic_id not in _DATA_TOPICS:
        raise _bad_frame(
            f"unknown data-frame topic id {topic_id} (allowed: {_ALLOWED_DATA_TOPICS})"
        )
    topic = Topic(topic_id)
    if flags & ~FLAG_DECIMATED or (flags and topic not in _EEG_TOPICS):
        raise _bad_frame(f"flags 0x{flags:04x} are not defined for {topic.label} frames")
    if topic is not Topic.FFT and bands:
        raise _bad_frame(f"{topic.label} frame declares {bands} bands; only fft frames have them")
    header = FrameHeader(version, topic, flags, channels, bands, samples, *stamps)
    if header.frame_size != len(data):
        raise _bad_frame(
            f"{topic.label} frame is {len(data)} bytes but its header "
            f"({channels} channels × {samples} samples/bins, {bands} bands) "
            f"announces {header.frame_size}"
        )
    return header


def _pack_header(
    topic: Topic, flags: int, shape: tuple[int, ...], bands: int, stamps: tuple[Any, ...]
) -> bytes:
    """Pack a header; ``stamps`` is (frame_id, first_sample, timestamp_us, monotonic_ns, rate)."""
    try:
        return HEADER.pack(PROTOCOL_VERSION, topic, flags, shape[0], bands, shape[1], *stamps)
    except struct.error as exc:
        raise ValueError(f"cannot encode a {topic.label} frame header: {exc}") from exc


def _matrix(values: npt.ArrayLike, name: str) -> npt.NDArray[Any]:
    array = np.asarray(values)
    if array.ndim != 2:
        raise ValueError(f"{name} must be channels × samples (2-D), got shape {array.shape}")
    return array


def _encode_eeg(packet: EegPacket | FilteredEegPacket) -> bytes:
    uv = np.multiply(_matrix(packet.samples, "samples"), _UV_PER_VOLT, dtype=_WIRE_FLOAT)
    timestamp_us = int(packet.timestamps[0]) if uv.shape[1] else 0
    stamps = (packet.frame_id, packet.first_sample, timestamp_us, packet.monotonic_ns)
    header = _pack_header(packet.topic, 0, uv.shape, 0, (*stamps, packet.sample_rate))
    return b"".join((header, uv.data))


def _encode_aux(packet: AuxPacket) -> bytes:
    values = np.ascontiguousarray(_matrix(packet.values, "values"), dtype=_WIRE_FLOAT)
    timestamp_us = int(packet.timestamps[0]) if values.shape[1] else 0
    stamps = (packet.frame_id, packet.first_sample, timestamp_us, packet.monotonic_ns)
    header = _pack_header(Topic.AUX, 0, values.shape, 0, (*stamps, packet.sample_rate))
    return b"".join((header, values.data))


def _encode_fft(packet: FftPacket) -> bytes:
    psd = np.ascontiguousarray(_matrix(packet.psd, "psd"), dtype=_WIRE_FLOAT)
    band_power = np.ascontiguousarray(_matrix(packet.band_power, "band_power"), dtype=_WIRE_FLOAT)
    if band_power.shape[0] != psd.shape[0]:
        raise ValueError(
            f"psd has {psd.shape[0]} channels but band_power has {band_power.shape[0]}"
        )
    stamps = (packet.frame_id, 0, packet.timestamp, packet.monotonic_ns)
    header = _pack_header(
        Topic.FFT, 0, psd.shape, band_power.shape[1], (*stamps, packet.sample_rate)
    )
    return b"".join((header, psd.data, band_power.data))


@overload
def encode_event(event: EegPacket | FilteredEegPacket | FftPacket | AuxPacket) -> bytes: ...
@overload
def encode_event(event: SystemEvent | MarkerEvent) -> str: ...
@overload
def encode_event(event: Event) -> bytes | str: ...
def encode_event(event: Event) -> bytes | str:
    """Encode one bus event for the wire: a binary data frame, or JSON text for a system event
    or a marker; a plugin topic's event as its topic's frame kind says (``encode_output``).

    EEG samples go out in µV (volts × 1e6, float32); raw ADC counts are not sent. Aux
    values go out in their channels' own units.
    """
    if isinstance(event, EegPacket | FilteredEegPacket):
        return _encode_eeg(event)
    if isinstance(event, AuxPacket):
        return _encode_aux(event)
    if isinstance(event, FftPacket):
        return _encode_fft(event)
    if isinstance(event, MarkerEvent):
        return encode_server_message(MarkerMessage.from_event(event))
    if isinstance(event, OutputEvent):
        return encode_output(event)
    return encode_server_message(SystemMessage.from_event(event))


def encode_decimated(
    topic: Topic,
    minima: npt.ArrayLike,
    maxima: npt.ArrayLike,
    *,
    frame_id: int,
    first_sample: int,
    timestamp_us: int,
    monotonic_ns: int,
    pair_rate: float,
) -> bytes:
    """Encode a display-decimated EEG frame from per-bucket minima and maxima in volts.

    ``minima`` and ``maxima`` are channels × m float32 volts (as on the bus); the payload
    interleaves them per channel as min, max in µV. ``frame_id`` is the last source frame
    covered, ``first_sample`` and ``timestamp_us`` those of the first source sample covered,
    ``pair_rate`` pairs per second per channel.
    """
    if topic not in _EEG_TOPICS:
        raise ValueError(f"only EEG topics can be decimated, not {Topic(topic).label}")
    low, high = _matrix(minima, "minima"), _matrix(maxima, "maxima")
    if low.shape != high.shape:
        raise ValueError(f"minima {low.shape} and maxima {high.shape} differ in shape")
    pairs = np.empty((low.shape[0], 2 * low.shape[1]), dtype=_WIRE_FLOAT)
    np.multiply(low, _UV_PER_VOLT, out=pairs[:, 0::2], dtype=_WIRE_FLOAT)
    np.multiply(high, _UV_PER_VOLT, out=pairs[:, 1::2], dtype=_WIRE_FLOAT)
    stamps = (frame_id, first_sample, timestamp_us, monotonic_ns, pair_rate)
    header = _pack_header(Topic(topic), FLAG_DECIMATED, low.shape, 0, stamps)
    return b"".join((header, pairs.data))


@dataclasses.dataclass(frozen=True, slots=True, eq=False)
class EegFrame:
    """A decoded raw_eeg or filtered_eeg frame, in µV, with the hello's channel names.

    When ``decimated``, ``samples_uv`` is channels × 2m with min, max interleaved per pair,
    ``sample_rate`` is pairs per second and ``frame_id`` the last source frame covered.
    """

    topic: Topic
    frame_id: int
    first_sample: int
    timestamp_us: int
    monotonic_ns: int
    sample_rate: float
    channel_names: tuple[str, ...]
    samples_uv: npt.NDArray[np.float32]
    decimated: bool
    time_anchor_us: int

    @property
    def n_samples(self) -> int:
        """Samples per channel, or (min, max) pairs per channel when decimated."""
        return int(self.samples_uv.shape[1]) // (2 if self.decimated else 1)

    @property
    def timestamps(self) -> npt.NDArray[np.uint64]:
        """µs since the epoch per sample (or per pair's first source sample when decimated).

        A full-rate frame's stamps follow from its first as the clock model lays out each
        packet's (``eegd.acquisition.clock_model``), so the result equals the bus packet's
        timestamps.
        """
        if self.decimated:
            return sample_timestamps(self.timestamp_us, 0, self.n_samples, self.sample_rate)
        return packet_timestamps(
            self.timestamp_us, self.first_sample, self.n_samples, self.sample_rate
        )


@dataclasses.dataclass(frozen=True, slots=True, eq=False)
class AuxFrame:
    """A decoded aux frame: ``values`` are aux channels × samples in the units of the
    hello's ``aux``; ``first_sample`` counts the aux stream's own samples; ``frame_id`` is
    the EEG frame it was read with."""

    frame_id: int
    first_sample: int
    timestamp_us: int
    monotonic_ns: int
    sample_rate: float
    channel_names: tuple[str, ...]
    units: tuple[str, ...]
    values: npt.NDArray[np.float32]

    @property
    def n_samples(self) -> int:
        """Aux samples per channel."""
        return int(self.values.shape[1])

    @property
    def timestamps(self) -> npt.NDArray[np.uint64]:
        """µs since the epoch per aux sample: section 2.4's rule at the aux rate."""
        return packet_timestamps(
            self.timestamp_us, self.first_sample, self.n_samples, self.sample_rate
        )


def decode_frame(
    data: bytes | bytearray | memoryview, hello: Hello
) -> EegFrame | FftPacket | AuxFrame:
    """Decode a binary data frame, taking names, the frequency axis and the aux stream's
    description from the session hello.

    The arrays are read-only views of the frame (a mutable buffer is copied once first).
    """
    frame = data if isinstance(data, bytes) else bytes(data)
    header = parse_header(frame)
    if header.topic is Topic.AUX:
        if hello.aux is None:
            raise _bad_frame("aux frame arrived while the hello describes no aux stream")
        names: tuple[str, ...] = hello.aux.channels
    else:
        names = hello.channels
    if header.channel_count != len(names):
        raise _bad_frame(
            f"{header.topic.label} frame has {header.channel_count} channels "
            f"but the hello names {len(names)}"
        )
    arrays = [
        np.frombuffer(frame, _WIRE_FLOAT, rows * columns, offset).reshape(rows, columns)
        for _, offset, (rows, columns) in header.payload_layout()
    ]
    if header.topic is Topic.AUX and hello.aux is not None:
        return AuxFrame(
            frame_id=header.frame_id,
            first_sample=header.first_sample,
            timestamp_us=header.timestamp_us,
            monotonic_ns=header.monotonic_ns,
            sample_rate=header.sample_rate,
            channel_names=names,
            units=hello.aux.units,
            values=arrays[0],
        )
    if header.topic is not Topic.FFT:
        return EegFrame(
            topic=header.topic,
            frame_id=header.frame_id,
            first_sample=header.first_sample,
            timestamp_us=header.timestamp_us,
            monotonic_ns=header.monotonic_ns,
            sample_rate=header.sample_rate,
            channel_names=hello.channels,
            samples_uv=arrays[0],
            decimated=header.decimated,
            time_anchor_us=hello.time_anchor_us,
        )
    spectrum = hello.spectrum
    if spectrum is None:
        raise _bad_frame("fft frame arrived before a hello with a spectrum")
    if (header.sample_count, header.band_count) != (len(spectrum.freqs), len(spectrum.bands)):
        raise _bad_frame(
            f"fft frame has {header.sample_count} bins and {header.band_count} bands but the "
            f"hello's spectrum has {len(spectrum.freqs)} and {len(spectrum.bands)}"
        )
    return FftPacket(
        source_frame_id=header.frame_id,
        timestamp=header.timestamp_us,
        freqs=frozen_array(spectrum.freqs, np.float32),
        psd=arrays[0],
        band_power=arrays[1],
        fft_size=spectrum.fft_size,
        window=spectrum.window,
        sample_rate=header.sample_rate,
        channel_names=hello.channels,
        monotonic_ns=header.monotonic_ns,
        bands=tuple((band.name, band.low, band.high) for band in spectrum.bands),
    )
