"""The ADS1299's typical input-referred noise with its inputs shorted, by gain and data rate.

The emulator draws shorted-input noise at these levels and the self-test compares a chip
against them. Source: TI SBAS499, Table 1 "Input-Referred Noise (µVRMS/µVPP) in Normal
Mode, 5-V Analog Supply and 4.5-V Reference". The gain 1 and gain 2 columns are the
table's figures. For gains 4 to 24 eegd uses a two-term model fitted to them: a part that
scales with 1 / gain (the modulator's quantisation noise referred to the input) plus a
white amplifier floor that does not depend on gain. The floor is set to the datasheet's
headline figure of about 1 µVpp (0.14 µVrms) in a 70 Hz band at gain 24 and 250 SPS. Check
these columns against Table 1 of your datasheet revision before you tighten a limit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final

from eegd.sources.adc import ADS1299_GAINS, ADS1299_SAMPLE_RATES

__all__ = ["BANDWIDTH_FRACTION", "NoiseFigure", "typical_noise"]

#: The digital filter's −3 dB bandwidth as a fraction of the data rate (65 Hz at 250 SPS).
BANDWIDTH_FRACTION: Final = 0.262

# SBAS499 Table 1, PGA gain 1 and 2: µVrms and µVpp at each data rate.
_TABLE: Final[dict[int, dict[int, tuple[float, float]]]] = {
    16000: {1: (21.70, 151.89), 2: (10.85, 75.94)},
    8000: {1: (6.93, 48.53), 2: (3.65, 25.52)},
    4000: {1: (4.33, 30.34), 2: (2.28, 15.95)},
    2000: {1: (3.06, 21.45), 2: (1.61, 11.29)},
    1000: {1: (2.17, 15.17), 2: (1.14, 7.98)},
    500: {1: (1.53, 10.73), 2: (0.81, 5.65)},
    250: {1: (1.08, 7.59), 2: (0.57, 3.99)},
}

_FLOOR_RMS_250: Final = math.sqrt(0.14**2 - (1.08 / 24) ** 2)
"""The gain-independent floor at 250 SPS that makes gain 24 read 0.14 µVrms."""


@dataclass(frozen=True, slots=True)
class NoiseFigure:
    """Typical shorted-input noise over the chip's whole bandwidth (0.262 × data rate)."""

    rms_uv: float
    peak_to_peak_uv: float
    bandwidth_hz: float
    from_table: bool
    """True for the datasheet's own figures (gain 1 and 2), False for the model's."""

    def in_band(self, low_hz: float, high_hz: float) -> NoiseFigure:
        """The same noise seen through a band inside the chip's bandwidth (white noise)."""
        width = min(high_hz, self.bandwidth_hz) - max(low_hz, 0.0)
        factor = math.sqrt(max(width, 0.0) / self.bandwidth_hz)
        return NoiseFigure(
            rms_uv=self.rms_uv * factor,
            peak_to_peak_uv=self.peak_to_peak_uv * factor,
            bandwidth_hz=width,
            from_table=self.from_table,
        )


def typical_noise(gain: int, sample_rate: int) -> NoiseFigure:
    """The typical input-referred noise at a PGA gain and data rate (SBAS499 Table 1)."""
    if gain not in ADS1299_GAINS:
        raise ValueError(f"gain: {gain} is not an ADS1299 gain")
    if sample_rate not in ADS1299_SAMPLE_RATES:
        raise ValueError(f"sample_rate: {sample_rate} is not an ADS1299 rate")
    row = _TABLE[sample_rate]
    bandwidth = BANDWIDTH_FRACTION * sample_rate
    if gain in row:
        rms, pp = row[gain]
        return NoiseFigure(rms, pp, bandwidth, from_table=True)
    rms_g1, pp_g1 = row[1]
    floor = _FLOOR_RMS_250 * math.sqrt(sample_rate / 250)
    quantisation = math.sqrt(rms_g1**2 - floor**2)
    rms = math.hypot(quantisation / gain, floor)
    return NoiseFigure(rms, rms * pp_g1 / rms_g1, bandwidth, from_table=False)
