"""The ADS1299's typical input-referred noise with its inputs shorted, by gain and data rate.

The emulator draws shorted-input noise at these levels and the self-test compares a chip
against them. Source: TI SBAS499C, Tables 1 to 4 "Input-Referred Noise (µVRMS/µVPP) in
Normal Mode, 5-V Analog Supply and 4.5-V Reference": every gain (1 to 24) at every data
rate, as printed (typical figures, averaged over devices, at 25 °C).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final

from eegd.sources.adc import ADS1299_GAINS, ADS1299_SAMPLE_RATES

__all__ = ["BANDWIDTH_FRACTION", "NoiseFigure", "typical_noise"]

#: The digital filter's −3 dB bandwidth as a fraction of the data rate (65 Hz at 250 SPS).
BANDWIDTH_FRACTION: Final = 0.262

# SBAS499C Tables 1-4: (µVrms, µVpp) at each data rate, one pair per PGA gain 1, 2, 4, 6,
# 8, 12 and 24 in that order.
_TABLE: Final[dict[int, tuple[tuple[float, float], ...]]] = {
    16000: ((21.70, 151.89), (10.85, 75.94), (5.60, 39.23), (3.87, 27.10), (3.05, 21.32),
            (2.27, 15.89), (1.66, 11.64)),
    8000: ((6.93, 48.53), (3.65, 25.52), (1.98, 13.87), (1.31, 9.19), (1.11, 7.80),
           (0.92, 6.41), (0.80, 5.57)),
    4000: ((4.33, 30.34), (2.28, 15.95), (1.24, 8.66), (0.93, 6.50), (0.79, 5.52),
           (0.65, 4.53), (0.56, 3.94)),
    2000: ((3.06, 21.45), (1.61, 11.29), (0.88, 6.13), (0.66, 4.60), (0.56, 3.90),
           (0.46, 3.20), (0.40, 2.79)),
    1000: ((2.17, 15.17), (1.14, 7.98), (0.62, 4.34), (0.46, 3.25), (0.39, 2.76),
           (0.32, 2.26), (0.28, 1.97)),
    500: ((1.53, 10.73), (0.81, 5.65), (0.44, 3.07), (0.33, 2.30), (0.28, 1.95),
          (0.23, 1.61), (0.20, 1.39)),
    250: ((1.08, 7.59), (0.57, 3.99), (0.31, 2.16), (0.23, 1.62), (0.20, 1.38),
          (0.16, 1.13), (0.14, 0.98)),
}  # fmt: skip


@dataclass(frozen=True, slots=True)
class NoiseFigure:
    """Typical shorted-input noise over the chip's whole bandwidth (0.262 × data rate)."""

    rms_uv: float
    peak_to_peak_uv: float
    bandwidth_hz: float

    def in_band(self, low_hz: float, high_hz: float) -> NoiseFigure:
        """The same noise seen through a band inside the chip's bandwidth (white noise)."""
        width = min(high_hz, self.bandwidth_hz) - max(low_hz, 0.0)
        factor = math.sqrt(max(width, 0.0) / self.bandwidth_hz)
        return NoiseFigure(
            rms_uv=self.rms_uv * factor,
            peak_to_peak_uv=self.peak_to_peak_uv * factor,
            bandwidth_hz=width,
        )


def typical_noise(gain: int, sample_rate: int) -> NoiseFigure:
    """The typical input-referred noise at a PGA gain and data rate (SBAS499C Tables 1-4)."""
    if gain not in ADS1299_GAINS:
        raise ValueError(f"gain: {gain} is not an ADS1299 gain")
    if sample_rate not in ADS1299_SAMPLE_RATES:
        raise ValueError(f"sample_rate: {sample_rate} is not an ADS1299 rate")
    rms, pp = _TABLE[sample_rate][ADS1299_GAINS.index(gain)]
    return NoiseFigure(rms, pp, BANDWIDTH_FRACTION * sample_rate)
