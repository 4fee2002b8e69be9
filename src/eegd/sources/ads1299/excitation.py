"""The lead-off current an emulated ADS1299 drives through its electrodes, as the channels see it.

Written from SBAS499 ("Lead-Off Detection", the LOFF, LOFF_SENSP and LOFF_FLIP registers,
"Digital Decimation Filter") on its own: it shares no constant or code with the impedance
measurement (``impedance``), for which it is the outside truth. With a positive input
selected in LOFF_SENSP the chip sources ILEAD_OFF into it (DC, pulled towards AVDD; flipped
by LOFF_FLIP), or with an AC FLEAD_OFF alternately sources and sinks it, a square wave at
fCLK / 2^18, fCLK / 2^16 or a quarter of the data rate. The current flows through the
board's series resistor and the electrode into the body (held by the bias electrode), so
the input sees I × (R + Z); the decimation filter (three cascaded moving averages of N
modulator samples, N = fMOD / data rate) smooths the square's edges before the samples
come out. The emulator computes one period of that filtered wave at the modulator rate and
repeats it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt

from eegd.sources.ads1299.registers import CHANNELS_PER_CHIP, Register

__all__ = ["LeadOffDrive", "filtered_square"]

_OSCILLATOR_HZ: Final = 2_048_000  # SBAS499: the internal oscillator, fCLK
_MODULATOR_HZ: Final = _OSCILLATOR_HZ // 2  # fMOD = fCLK / 2
# LOFF[3:2] ILEAD_OFF: 00 6 nA, 01 24 nA, 10 6 µA, 11 24 µA
_CURRENT_A: Final = (6e-9, 24e-9, 6e-6, 24e-6)
# LOFF[1:0] FLEAD_OFF: modulator samples per excitation period (None: DC); 11 is fDR / 4
_AC_CLOCKS: Final = {0b01: 2**18, 0b10: 2**16}
_FILTER_ORDER: Final = 3  # sinc³


def filtered_square(period_samples: int, decimation: int) -> npt.NDArray[np.float64]:
    """One period (``period_samples`` conversions) of a ±1 square wave after the sinc³ filter.

    The square (high for the first half period) runs at the modulator rate; each
    conversion is the filter's output at the last modulator sample of its decimation step.
    """
    length = period_samples * decimation
    wave = np.where(np.arange(length) < length // 2, 1.0, -1.0)
    for _ in range(_FILTER_ORDER):  # a circular moving average of ``decimation`` samples
        total = np.cumsum(np.concatenate((wave[length - decimation :], wave)))
        wave = (total[decimation:] - total[:-decimation]) / decimation
    return wave[decimation - 1 :: decimation]


@dataclass(frozen=True, slots=True)
class LeadOffDrive:
    """What the lead-off current adds to each channel, per ohm of R + Z, as the registers set it.

    ``current_a`` is signed per channel (0 where no current flows, negative where LOFF_FLIP
    reverses it); ``wave`` is one period of the filtered excitation (a single 1.0 for DC).
    """

    current_a: npt.NDArray[np.float64]
    wave: npt.NDArray[np.float64]

    @classmethod
    def from_registers(cls, registers: Sequence[Sequence[int]], rate: int) -> LeadOffDrive:
        """The drive of a chain whose chips hold ``registers``, converting at ``rate`` SPS."""
        currents = []
        for values in registers:
            amps = _CURRENT_A[values[Register.LOFF] >> 2 & 0b11]
            sensp, flip = values[Register.LOFF_SENSP], values[Register.LOFF_FLIP]
            for position in range(CHANNELS_PER_CHIP):
                on = sensp >> position & 1
                currents.append(amps * on * (-1.0 if flip >> position & 1 else 1.0))
        frequency = registers[0][Register.LOFF] & 0b11
        decimation = _MODULATOR_HZ // rate
        if frequency == 0b00:
            wave = np.ones(1)
        elif frequency == 0b11:
            wave = filtered_square(4, decimation)
        else:
            wave = filtered_square(_AC_CLOCKS[frequency] // 2 // decimation, decimation)
        return cls(np.array(currents), wave)

    def volts(
        self, index: npt.NDArray[np.int64], ohms: npt.NDArray[np.float64]
    ) -> npt.NDArray[np.float64]:
        """Volts at the inputs for sample indices ``index``: channels × samples, for each
        channel's R + Z in ``ohms``."""
        wave = self.wave[np.mod(index, len(self.wave))]
        return (self.current_a * ohms)[:, np.newaxis] * wave[np.newaxis, :]
