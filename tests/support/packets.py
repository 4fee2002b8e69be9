"""Packets as the bus carries them, built for tests in one place.

Every builder stamps timestamps the way the acquisition loop does (from ``anchor_us``, the
first sample and the rate) unless given some, freezes its arrays like the real packets, and
names channels ``C0``, ``C1``, … unless told otherwise. Fields a test does not care about
have fixed defaults so packets built twice compare equal.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from eegd.events import EegPacket, FftPacket, FilteredEegPacket, frozen_array
from eegd.timestamps import sample_timestamps

__all__ = ["chunks", "eeg_packet", "fft_packet", "filtered_packet"]


def _names(channel_names: Sequence[str] | None, rows: int) -> tuple[str, ...]:
    if channel_names is None:
        return tuple(f"C{i}" for i in range(rows))
    return tuple(channel_names)


def _timestamps(
    timestamps: npt.ArrayLike | None, anchor_us: int, first_sample: int, n: int, rate: float
) -> npt.ArrayLike:
    if timestamps is not None:
        return timestamps
    return sample_timestamps(anchor_us, first_sample, n, rate)


def eeg_packet(
    volts: npt.ArrayLike,
    *,
    frame_id: int = 0,
    first_sample: int = 0,
    sample_rate: float = 250.0,
    channel_names: Sequence[str] | None = None,
    raw: npt.ArrayLike | None = None,
    timestamps: npt.ArrayLike | None = None,
    anchor_us: int = 0,
    monotonic_ns: int | None = None,
) -> EegPacket:
    """A raw packet of ``volts`` (channels × samples); ``raw`` counts are zeros unless given.

    ``monotonic_ns`` None is "now", as ``EegPacket.create`` has it.
    """
    array = np.asarray(volts)
    rows, n = array.shape
    return EegPacket.create(
        frame_id=frame_id,
        first_sample=first_sample,
        timestamps=_timestamps(timestamps, anchor_us, first_sample, n, sample_rate),
        raw=np.zeros((rows, n), dtype=np.int32) if raw is None else raw,
        volts=array,
        sample_rate=sample_rate,
        channel_names=_names(channel_names, rows),
        monotonic_ns=monotonic_ns,
    )


def filtered_packet(
    samples: npt.ArrayLike,
    *,
    frame_id: int = 0,
    first_sample: int = 0,
    sample_rate: float = 250.0,
    channel_names: Sequence[str] | None = None,
    timestamps: npt.ArrayLike | None = None,
    anchor_us: int = 0,
    monotonic_ns: int = 0,
) -> FilteredEegPacket:
    """A filtered packet of ``samples`` in volts (channels × samples)."""
    array = np.asarray(samples)
    rows, n = array.shape
    return FilteredEegPacket(
        frame_id=frame_id,
        first_sample=first_sample,
        timestamps=frozen_array(
            _timestamps(timestamps, anchor_us, first_sample, n, sample_rate), np.uint64
        ),
        samples=frozen_array(array, np.float32),
        sample_rate=float(sample_rate),
        channel_names=_names(channel_names, rows),
        monotonic_ns=monotonic_ns,
    )


def fft_packet(
    psd: npt.ArrayLike,
    band_power: npt.ArrayLike,
    freqs: npt.ArrayLike,
    *,
    source_frame_id: int = 0,
    timestamp: int = 0,
    fft_size: int = 500,
    window: str = "hann",
    sample_rate: float = 250.0,
    channel_names: Sequence[str] | None = None,
    monotonic_ns: int = 0,
    **fields: Any,
) -> FftPacket:
    """A spectrum: ``psd`` channels × bins at ``freqs``, ``band_power`` channels × bands.

    Further ``FftPacket`` fields (``bands``) pass through as given.
    """
    power = np.asarray(psd)
    return FftPacket(
        source_frame_id=source_frame_id,
        timestamp=timestamp,
        freqs=frozen_array(freqs, np.float32),
        psd=frozen_array(power, np.float32),
        band_power=frozen_array(band_power, np.float32),
        fft_size=fft_size,
        window=window,
        sample_rate=float(sample_rate),
        channel_names=_names(channel_names, power.shape[0]),
        monotonic_ns=monotonic_ns,
        **fields,
    )


def chunks(signal: npt.NDArray[Any], size: int) -> Iterator[tuple[int, npt.NDArray[Any]]]:
    """``(start, block)`` for consecutive blocks of ``size`` samples (the last may be short)."""
    for start in range(0, signal.shape[1], size):
        yield start, signal[:, start : start + size]
