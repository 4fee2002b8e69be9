"""A reader of elata-eeg's ``/ws/data`` messages, written from the old kiosk's rules alone.

The rules (its ``EegDataHandler.tsx`` and the old daemon's ``event.rs``): every binary message
is ``[u8 version = 1][u8 topic]`` then the payload; topic 0 is ``[u32 LE N]``, N u64 LE
timestamps (µs since the Unix epoch), N f32 LE samples in volts, value ``i·C + c`` being
channel ``c`` of sample ``i`` with C the length of ``/config``'s ``channels``; topic 1 is
UTF-8 JSON ``{timestamp, source_frame_id, psd_packets: [{channel, psd}], fft_config:
{fft_size, sample_rate, window_function}}`` whose bin ``j`` the kiosk draws at
``j · (sample_rate / 2) / (bins - 1)`` Hz; topic 255 is a UTF-8 text line. Nothing here comes
from eegd: it is the test's outside view of the bytes.
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class EegMessage:
    """Topic 0, split per channel as the kiosk splits it."""

    values: list[list[float]]
    """Per channel, its samples in volts."""
    timestamps: list[list[int]]
    """Per channel, each sample's µs timestamp."""

    @property
    def samples(self) -> int:
        return len(self.values[0]) if self.values else 0


@dataclass(frozen=True)
class SpectrumMessage:
    """Topic 1, the decoded JSON and the frequency the kiosk gives each bin."""

    packet: dict[str, Any]

    def frequencies(self) -> list[float]:
        bins = len(self.packet["psd_packets"][0]["psd"])
        nyquist = self.packet["fft_config"]["sample_rate"] / 2
        return [j * nyquist / (bins - 1) for j in range(bins)]


@dataclass(frozen=True)
class LogMessage:
    """Topic 255."""

    text: str


class NotElata(ValueError):
    """The bytes break the old format's rules."""


def decode(data: bytes, channels: int) -> EegMessage | SpectrumMessage | LogMessage:
    """One binary message; ``channels`` is the length of ``/config``'s ``channels``."""
    if len(data) < 2:
        raise NotElata(f"{len(data)} bytes: shorter than version and topic")
    if data[0] != 1:
        raise NotElata(f"version {data[0]}")
    topic, payload = data[1], data[2:]
    if topic == 0:
        return _eeg(payload, channels)
    if topic == 1:
        packet = json.loads(payload.decode("utf-8"))
        if set(packet) != {"timestamp", "source_frame_id", "psd_packets", "fft_config"}:
            raise NotElata(f"spectrum keys {sorted(packet)}")
        if set(packet["fft_config"]) != {"fft_size", "sample_rate", "window_function"}:
            raise NotElata(f"fft_config keys {sorted(packet['fft_config'])}")
        return SpectrumMessage(packet)
    if topic == 255:
        return LogMessage(payload.decode("utf-8"))
    raise NotElata(f"unknown topic {topic}")


def _eeg(payload: bytes, channels: int) -> EegMessage:
    if len(payload) < 4:
        raise NotElata("no value count")
    (count,) = struct.unpack_from("<I", payload, 0)
    if len(payload) != 4 + 12 * count:
        raise NotElata(f"{len(payload)} payload bytes for {count} values")
    stamps = struct.unpack_from(f"<{count}Q", payload, 4)
    values = struct.unpack_from(f"<{count}f", payload, 4 + 8 * count)
    if count % channels:
        raise NotElata(f"{count} values do not split into {channels} channels")
    samples = count // channels
    return EegMessage(
        values=[[values[i * channels + c] for i in range(samples)] for c in range(channels)],
        timestamps=[[stamps[i * channels + c] for i in range(samples)] for c in range(channels)],
    )
