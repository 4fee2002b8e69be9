"""The old daemon's (elata-eeg's) ``/ws/data`` messages, sans-I/O: events in, bytes out.

Every message is binary: ``[u8 version = 1][u8 topic]`` then the payload. Topic 0 is
filtered EEG: ``[u32 N]``, N u64 timestamps (µs since the Unix epoch), N float32 samples in
volts, all little-endian, N = samples × channels in sample-major order (value ``i·C + c`` is
channel ``c`` of sample ``i``; every channel of a sample shares its timestamp). Topic 1 is a
spectrum as UTF-8 JSON (``FftPacket``), topic 255 a UTF-8 log line. ``docs/protocol.md``
section 9 gives it byte by byte; eegd's own format is on ``/ws``.
"""

from __future__ import annotations

import enum
import struct
from collections.abc import Mapping
from typing import Final

import msgspec
import numpy as np
import numpy.typing as npt

from eegd.acquisition.clock_model import sample_stamps_us
from eegd.events import Event, FftPacket, FilteredEegPacket, SystemEvent, SystemEventKind, Topic

__all__ = [
    "LEGACY_TOPICS",
    "LEGACY_VERSION",
    "LOGGED_KINDS",
    "LOG_PSD_DECIMALS",
    "PSD_FLOOR",
    "LegacyTopic",
    "encode_fft",
    "encode_filtered_eeg",
    "encode_legacy",
    "encode_log",
    "log_line",
    "sample_times",
    "value_timestamps",
]

#: The first byte of every message.
LEGACY_VERSION: Final = 1

#: Spectra go out as log10 of the PSD in µV²/Hz; a PSD below this (a flat channel) is sent
#: as log10 of it, so that every number is finite JSON.
PSD_FLOOR: Final = 1e-12
#: Decimals of each log10 value sent: the PSD to about one part in a million (float32's own
#: resolution is about 1e-7), in short JSON numbers.
LOG_PSD_DECIMALS: Final = 6

_COUNT = struct.Struct("<I")


class LegacyTopic(enum.IntEnum):
    """The second byte of every message."""

    FILTERED_EEG = 0
    FFT = 1
    LOG = 255


#: The bus topics a legacy client gets (system events: only those in ``LOGGED_KINDS``).
LEGACY_TOPICS: Final = frozenset({Topic.FILTERED_EEG, Topic.FFT, Topic.SYSTEM})

#: The system events that go out as log lines (topic 255), with their level.
LOGGED_KINDS: Mapping[SystemEventKind, str] = {
    SystemEventKind.TASK_FAILED: "error",
    SystemEventKind.TASK_GAVE_UP: "error",
    SystemEventKind.PLUGIN_OUTPUT_INVALID: "error",
    SystemEventKind.SOURCE_LOST: "warning",
    SystemEventKind.SAMPLES_LOST: "warning",
    SystemEventKind.BLOCK_REJECTED: "warning",
    SystemEventKind.PLUGIN_PACKET_FAILED: "warning",
}


def _header(topic: LegacyTopic) -> bytes:
    return bytes((LEGACY_VERSION, topic))


def sample_times(packet: FilteredEegPacket) -> npt.NDArray[np.uint64]:
    """Each sample's time, µs since the epoch: its stamp from the session's clock model
    (``eegd.acquisition.clock_model.sample_stamps_us``), dejittered, never stepping back; this is
    the one place the legacy stream reads sample times from."""
    return sample_stamps_us(packet)


def value_timestamps(packet: FilteredEegPacket) -> npt.NDArray[np.uint64]:
    """One timestamp per value, sample-major: sample ``i``'s time ``C`` times over."""
    return np.repeat(sample_times(packet), packet.samples.shape[0])


def encode_filtered_eeg(packet: FilteredEegPacket) -> bytes:
    """Topic 0: the packet's samples in volts, sample-major, with per-value timestamps."""
    values = packet.samples.T  # samples × channels: C order is sample-major
    return b"".join(
        (
            _header(LegacyTopic.FILTERED_EEG),
            _COUNT.pack(values.size),
            value_timestamps(packet).astype("<u8", copy=False).tobytes(),
            np.ascontiguousarray(values, dtype="<f4").tobytes(),
        )
    )


class _FftConfig(msgspec.Struct):
    fft_size: int
    sample_rate: float
    window_function: str


class _PsdPacket(msgspec.Struct):
    channel: int
    psd: list[float]


class _LegacyFft(msgspec.Struct):
    timestamp: int
    source_frame_id: int
    psd_packets: list[_PsdPacket]
    fft_config: _FftConfig


def _fft_config(packet: FftPacket) -> _FftConfig:
    """The FFT that yields exactly the bins sent: ``fft_size`` 2·(bins − 1) at
    ``sample_rate`` twice the highest frequency, so bin ``j`` lies at
    ``j · sample_rate / fft_size`` Hz (the old kiosk places it there). It is the real
    size and rate when the spectrum reaches the Nyquist frequency."""
    bins = packet.freqs.size
    if bins < 2:
        return _FftConfig(packet.fft_size, packet.sample_rate, packet.window.capitalize())
    return _FftConfig(2 * (bins - 1), 2 * float(packet.freqs[-1]), packet.window.capitalize())


def encode_fft(packet: FftPacket) -> bytes:
    """Topic 1: the spectrum as the old ``FftPacket`` JSON, psd as log10(µV²/Hz)."""
    finite = np.where(np.isfinite(packet.psd), packet.psd, 0.0).astype(np.float64)
    log_psd = np.round(np.log10(np.maximum(finite, PSD_FLOOR)), LOG_PSD_DECIMALS)
    message = _LegacyFft(
        timestamp=packet.timestamp,
        source_frame_id=packet.source_frame_id,
        psd_packets=[_PsdPacket(channel, row) for channel, row in enumerate(log_psd.tolist())],
        fft_config=_fft_config(packet),
    )
    return _header(LegacyTopic.FFT) + msgspec.json.encode(message)


def encode_log(text: str) -> bytes:
    """Topic 255: one line of text."""
    return _header(LegacyTopic.LOG) + text.encode()


def log_line(event: SystemEvent) -> str | None:
    """``"LEVEL kind: {detail}"`` for a warning or an error, None for other events."""
    level = LOGGED_KINDS.get(event.kind)
    if level is None:
        return None
    detail = msgspec.json.encode(dict(event.detail), enc_hook=str).decode()
    return f"{level} {event.kind.value}: {detail}"


def encode_legacy(event: Event) -> bytes | None:
    """The message ``event`` becomes on ``/ws/data``, or None for those it does not carry."""
    if isinstance(event, FilteredEegPacket):
        return encode_filtered_eeg(event)
    if isinstance(event, FftPacket):
        return encode_fft(event)
    if isinstance(event, SystemEvent):
        line = log_line(event)
        return None if line is None else encode_log(line)
    return None
