"""What the emulated chips' inputs see: the analog side of the ADS1299 emulator.

Each channel's input multiplexer picks its signal: the electrodes (eegd's synthetic EEG
model, with its 10 Hz alpha rhythm), the inputs shorted (Gaussian noise at the datasheet's
typical input-referred level for the channel's gain and the data rate, see
``eegd.sources.ads1299.noise``), the internal test square wave CONFIG2 selects, the
temperature sensor or the supply monitor. On electrode inputs the lead-off current adds
I × (R + Z) through each electrode's impedance Z and the board's series resistor R
(``eegd.sources.ads1299.excitation``); an electrode that is off (Z infinite) rails its input.
The PGA gain then scales it into 24-bit counts, clipped at full scale as the chip clips.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import numpy.typing as npt

from eegd.sources.adc import COUNT_MAX, COUNT_MIN
from eegd.sources.ads1299.excitation import LeadOffDrive
from eegd.sources.ads1299.fields import (
    ChannelSetting,
    Input,
    TestFrequency,
    square_wave_amplitude_volts,
    square_wave_frequency_hz,
)
from eegd.sources.ads1299.noise import typical_noise
from eegd.sources.ads1299.registers import CHANNELS_PER_CHIP
from eegd.sources.eeg_model import EegModel
from eegd.sources.montage import standard_channel_names

__all__ = ["VREF", "AnalogInputs", "ExtraSignal", "TestSignal"]

#: The reference voltage (internal buffer, 5 V analog supply).
VREF = 4.5

_TEMPERATURE_V = 145.3e-3  # SBAS499 "Temperature Sensor Monitor": 145,300 µV at 25 °C
_MVDD_V = 2.5  # (AVDD − AVSS) / 2 with a 5 V analog supply
_DVDD_QUARTER_V = 3.3 / 4  # channels 3 and 4 see DVDD / 4 instead

#: Volts added to a channel's input for sample indices ``k``, at the data rate: a test's
#: own signal (a sine per chip, say) on top of whatever the multiplexer selects.
ExtraSignal = Callable[[npt.NDArray[np.int64], float], npt.NDArray[np.float64]]


class TestSignal:
    """CONFIG2's internal test signal: amplitude code, frequency code, internal on/off."""

    __test__ = False  # not a pytest test class despite the name

    def __init__(self, amplitude: int, frequency: TestFrequency | None, internal: bool) -> None:
        self.amplitude = square_wave_amplitude_volts(amplitude, VREF) if internal else 0.0
        self.frequency = (
            square_wave_frequency_hz(frequency) if frequency is not None and internal else 0.0
        )
        self.dc = frequency is TestFrequency.DC

    def at(self, index: npt.NDArray[np.int64], rate: float) -> npt.NDArray[np.float64]:
        """The square wave at sample indices ``index``: +amplitude, then −amplitude."""
        if self.dc or self.frequency == 0.0:
            return np.full(index.shape, self.amplitude)
        phase = np.mod(index * (self.frequency / rate), 1.0)
        return np.where(phase < 0.5, self.amplitude, -self.amplitude)


class AnalogInputs:
    """The signals of every channel of the chain, turned into counts block by block."""

    def __init__(self, channels: int, seed: int) -> None:
        self.channels = channels
        self.offsets = np.zeros(channels)
        """Volts added to each channel whatever its input (a fault: an input at an offset)."""
        self.test_missing: set[int] = set()
        """Channels whose test signal never arrives (a fault: a broken input switch)."""
        self.extra: dict[int, ExtraSignal] = {}
        self.forced_codes: dict[int, int] = {}
        """Channels whose ADC output is stuck at one code (a fault, and exact test values)."""
        self.electrode_ohms = np.zeros(channels)
        """Each electrode's impedance to the body; ``inf`` for one that is off."""
        self.series_ohms = 0.0
        """The board's resistor between each electrode and its input pin."""
        self._seed = seed
        self._rng = np.random.default_rng(seed)
        self._names = standard_channel_names(channels)
        self._rate = 250.0
        self._settings: tuple[ChannelSetting, ...] = ()
        self._test = TestSignal(1, TestFrequency.SLOW, internal=False)
        self._drive = LeadOffDrive(np.zeros(channels), np.ones(1))
        self._model: EegModel | None = None
        self._lsb = np.ones(channels)
        self._noise_rms = np.zeros(channels)

    def configure(
        self,
        rate: float,
        settings: Sequence[ChannelSetting],
        test: TestSignal,
        drive: LeadOffDrive | None = None,
    ) -> None:
        """Take the chips' current CONFIG1 rate, CHnSET of every channel, CONFIG2 and the
        lead-off current (none by default)."""
        settings = tuple(settings)
        if rate != self._rate:
            self._model = None
        self._rate, self._settings, self._test = rate, settings, test
        self._drive = drive or LeadOffDrive(np.zeros(self.channels), np.ones(1))
        gains = np.array([s.gain or 1 for s in settings], dtype=np.float64)
        self._lsb = 2.0 * VREF / gains / 2**24
        self._noise_rms = np.array(
            [typical_noise(s.gain or 1, int(rate)).rms_uv * 1e-6 for s in settings]
        )

    def counts(self, first: int, n: int) -> npt.NDArray[np.int32]:
        """Counts of samples ``first .. first+n-1``, channels × samples; ``first`` moves on."""
        index = np.arange(first, first + n, dtype=np.int64)
        volts = self._rng.standard_normal((self.channels, n)) * self._noise_rms[:, np.newaxis]
        wants_eeg = np.array([s.input is Input.NORMAL for s in self._settings], dtype=bool)
        off = wants_eeg & np.isinf(self.electrode_ohms)
        if wants_eeg.any():
            eeg = self._eeg(n)
            volts[wants_eeg] += eeg[wants_eeg]
            on = wants_eeg & ~off
            ohms = np.where(on, self.electrode_ohms + self.series_ohms, 0.0)
            volts[on] += self._drive.volts(index, ohms)[on]
        test = self._test.at(index, self._rate)
        for channel, setting in enumerate(self._settings):
            row = volts[channel]
            if setting.input is Input.TEST and channel not in self.test_missing:
                row += test
            elif setting.input is Input.TEMPERATURE:
                row += _TEMPERATURE_V
            elif setting.input is Input.SUPPLY:
                row += _DVDD_QUARTER_V if channel % CHANNELS_PER_CHIP in (2, 3) else _MVDD_V
            if channel in self.extra:
                row += self.extra[channel](index, self._rate)
        volts += self.offsets[:, np.newaxis]
        volts[off] = VREF  # a floating input drifts to the rail
        counts = np.rint(volts / self._lsb[:, np.newaxis])
        np.clip(counts, COUNT_MIN, COUNT_MAX, out=counts)
        powered_down = np.array([s.power_down for s in self._settings], dtype=bool)
        counts[powered_down] = 0
        for channel, code in self.forced_codes.items():
            counts[channel] = code
        return counts.astype(np.int32)

    def _eeg(self, n: int) -> npt.NDArray[np.float64]:
        if self._model is None:
            self._model = EegModel(
                self._rate, self._names, seed=self._seed, line_noise_hz=None, blinks=False
            )
        return self._model.next(n)
