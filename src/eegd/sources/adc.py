"""ADS1299 sample conversion: volts to 24-bit counts and back, and the chip's byte format.

The ADS1299 reports each channel sample as a 24-bit two's complement number, most
significant byte first; one count is ``2 * vref / gain / 2**24`` volts. Pure functions, so
the hardware driver, the synthetic source and the tests all agree on every bit.
"""

from __future__ import annotations

import typing
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

from eegd.errors import ProtocolError

__all__ = [
    "ADS1299_GAINS",
    "ADS1299_SAMPLE_RATES",
    "Ads1299Gain",
    "Ads1299Rate",
    "COUNT_MAX",
    "COUNT_MIN",
    "Ads1299Scale",
    "decode_24bit",
    "encode_24bit",
]

#: Programmable gains of the ADS1299 input amplifier.
Ads1299Gain = Literal[1, 2, 4, 6, 8, 12, 24]
"""A gain of the ADS1299's PGA (its CHnSET gains), as a settings field declares it."""
ADS1299_GAINS: tuple[int, ...] = typing.get_args(Ads1299Gain)

#: Output data rates of the ADS1299, in samples per second.
Ads1299Rate = Literal[250, 500, 1000, 2000, 4000, 8000, 16000]
"""A rate the ADS1299 samples at (its CONFIG1 data rates), as a settings field declares it."""
ADS1299_SAMPLE_RATES: tuple[int, ...] = typing.get_args(Ads1299Rate)

#: Smallest and largest 24-bit two's complement count.
COUNT_MIN = -(2**23)
COUNT_MAX = 2**23 - 1

_BYTES_PER_SAMPLE = 3


@dataclass(frozen=True, slots=True)
class Ads1299Scale:
    """The volts-per-count of one ADS1299 configuration (reference voltage and PGA gain)."""

    vref: float = 4.5
    gain: int = 24

    def __post_init__(self) -> None:
        if self.gain not in ADS1299_GAINS:
            allowed = ", ".join(str(gain) for gain in ADS1299_GAINS)
            raise ValueError(f"gain: {self.gain!r} is not an ADS1299 gain (allowed: {allowed})")
        if not self.vref > 0:
            raise ValueError(f"vref: {self.vref!r} must be a positive voltage")

    @property
    def lsb_volts(self) -> float:
        """Volts per count: ``2 * vref / gain / 2**24``."""
        return 2.0 * self.vref / self.gain / 2**24

    def to_counts(self, volts: npt.ArrayLike) -> npt.NDArray[np.int32]:
        """Volts to counts, rounded to the nearest count and clipped to the 24-bit range."""
        counts = np.divide(volts, self.lsb_volts, dtype=np.float64)
        np.rint(counts, out=counts)
        if np.isnan(counts).any():
            raise ValueError("cannot convert NaN volts to ADC counts")
        np.clip(counts, COUNT_MIN, COUNT_MAX, out=counts)
        return counts.astype(np.int32)

    def to_volts(self, counts: npt.ArrayLike) -> npt.NDArray[np.float32]:
        """Counts to volts (``counts * lsb_volts``), as float32."""
        volts = np.multiply(counts, self.lsb_volts, dtype=np.float64)
        return volts.astype(np.float32)


def decode_24bit(data: bytes, n_channels: int) -> npt.NDArray[np.int32]:
    """Decode big-endian 24-bit two's complement samples into counts, channels × samples.

    ``data`` holds whole samples, each ``n_channels`` consecutive 3-byte values (the chip's
    data after its status word).
    """
    if n_channels < 1:
        raise ValueError(f"n_channels: {n_channels} must be at least 1")
    frame = _BYTES_PER_SAMPLE * n_channels
    if len(data) % frame:
        raise ProtocolError(
            f"{len(data)} bytes of 24-bit samples is not a multiple of "
            f"3 bytes × {n_channels} channels = {frame} bytes"
        )
    octets = np.frombuffer(data, dtype=np.uint8).reshape(-1, _BYTES_PER_SAMPLE).astype(np.int32)
    counts = (octets[:, 0] << 16) | (octets[:, 1] << 8) | octets[:, 2]
    counts -= (counts & 0x800000) << 1
    return np.ascontiguousarray(counts.reshape(-1, n_channels).T)


def encode_24bit(counts: npt.ArrayLike) -> bytes:
    """Encode counts (channels × samples) the way the chip sends them: the inverse of decode."""
    values = np.asarray(counts)
    if values.ndim != 2 or not np.issubdtype(values.dtype, np.integer):
        raise ValueError(
            f"counts must be a 2-D integer array (channels × samples), "
            f"got {values.ndim}-D {values.dtype}"
        )
    if values.size and (values.min() < COUNT_MIN or values.max() > COUNT_MAX):
        raise ValueError(f"counts must lie in [{COUNT_MIN}, {COUNT_MAX}] to fit in 24 bits")
    words = np.ascontiguousarray(values.T.astype(np.int64) & 0xFFFFFF, dtype=">u4")
    return words.view(np.uint8).reshape(-1, 4)[:, 1:].tobytes()
