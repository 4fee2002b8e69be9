"""The emulator's electrodes under the lead-off current, against SBAS499 as printed.

The register values and the sinc³ frequency response below are retyped from the datasheet
(LOFF: COMP_TH[7:5], ILEAD_OFF[3:2], FLEAD_OFF[1:0]; "Digital Decimation Filter"), not
taken from eegd, so a wrong bit or constant in the emulator fails here.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from eegd.errors import ConfigError
from eegd.sources.ads1299.emulator import ADS1299Emulator
from eegd.sources.ads1299.excitation import filtered_square
from eegd.sources.ads1299.registers import Register
from eegd.sources.ads1299.settings import ADS1299Settings
from tests.unit.test_ads1299_emulator import counts, powered, stream, write

F_MOD = 1.024e6  # fCLK / 2, fCLK = 2.048 MHz
CONFIG1_16K = 0x90  # daisy-chain bit reserved 1, DR = 000: 16 kSPS
CH_NORMAL_GAIN_1 = 0x00  # CHnSET: powered, gain 1, SRB2 open, normal electrode input
LOFF_24UA_7_8HZ = 0b000_011_01  # ILEAD_OFF 11 (24 µA), FLEAD_OFF 01 (fCLK / 2^18)
LOFF_6UA_DC = 0b000_010_00  # ILEAD_OFF 10 (6 µA), FLEAD_OFF 00 (DC)
CONFIG4_COMPARATORS = 0x02  # PD_LOFF_COMP: comparators on
ELECTRODES = [1e3, 5e3, 20e3, None, 2e3, 0.0, 10e3, 50e3]
SERIES = 4990.0


def sinc3_gain(f: float, n: int) -> float:
    """SBAS499's sinc³ frequency response at ``f`` for decimation ``n``."""
    return abs(math.sin(n * math.pi * f / F_MOD) / (n * math.sin(math.pi * f / F_MOD))) ** 3


def electrodes() -> ADS1299Emulator:
    """An emulator with the electrodes above, past tPOR and a reset, in SDATAC, 16 kSPS."""
    emulator = powered(electrode_ohms=ELECTRODES, series_ohms=SERIES)
    write(emulator, Register.CONFIG1, CONFIG1_16K)
    write(emulator, Register.CH1SET, *[CH_NORMAL_GAIN_1] * 8)
    return emulator


@pytest.mark.parametrize(("period", "n"), [(8, 4096), (32, 4096), (4, 4096), (512, 64)])
def test_the_filtered_square_has_the_datasheet_sinc3_response(period: int, n: int) -> None:
    wave = filtered_square(period, n)
    assert len(wave) == period
    fundamental = 2 * abs(np.fft.fft(wave)[1]) / period
    square_fundamental = 4 / math.pi
    f = F_MOD / n / period
    if period > 4:  # with four samples a period the third harmonic aliases onto it
        assert fundamental == pytest.approx(square_fundamental * sinc3_gain(f, n), rel=1e-3)
    assert wave.mean() == pytest.approx(0.0, abs=1e-9)


def test_ac_lead_off_is_a_square_wave_of_current_times_series_and_electrode() -> None:
    emulator = electrodes()
    write(emulator, Register.LOFF, LOFF_24UA_7_8HZ)
    write(emulator, Register.LOFF_SENSP, 0xFF)
    volts = counts(stream(emulator, 4 * 2048)).astype(np.float64) * (9.0 / 2**24)
    for channel, ohms in enumerate(ELECTRODES):
        if ohms is None:
            continue
        row = volts[channel] - volts[channel].mean()  # four whole periods
        level = 24e-6 * (ohms + SERIES)
        high, low = np.median(row[row > 0]), np.median(row[row < 0])
        assert (high - low) / 2 == pytest.approx(level, rel=0.005)
        edges = np.flatnonzero(np.diff(row > 0))
        assert np.diff(edges) == pytest.approx(16000 / 7.8125 / 2, abs=2)


def test_only_the_sensed_inputs_carry_the_current_and_dc_is_an_offset() -> None:
    emulator = electrodes()
    write(emulator, Register.LOFF, LOFF_6UA_DC)
    write(emulator, Register.LOFF_SENSP, 0b0000_0110)  # channels 2 and 3
    volts = counts(stream(emulator, 1600)).astype(np.float64) * (9.0 / 2**24)
    means = volts.mean(axis=1)
    assert means[1] == pytest.approx(6e-6 * (5e3 + SERIES), rel=0.01)
    assert means[2] == pytest.approx(6e-6 * (20e3 + SERIES), rel=0.01)
    assert np.abs(means[[0, 4, 5, 6, 7]]).max() < 1e-3  # EEG only: tens of µV


def test_an_electrode_that_is_off_rails_its_input_and_shows_lead_off() -> None:
    emulator = electrodes()
    write(emulator, Register.LOFF_SENSP, 0xFF)
    write(emulator, Register.CONFIG4, CONFIG4_COMPARATORS)
    [frame] = stream(emulator, 1)
    assert counts([frame])[3][0] == 2**23 - 1  # positive full scale
    statp = (frame[0] & 0x0F) << 4 | frame[1] >> 4
    assert statp == 0b0000_1000


def test_the_configured_impedances_and_their_errors() -> None:
    settings = ADS1299Settings.from_mapping({"emulated_impedance_kohm": [2, 5.5, "off", 0]})
    assert settings.emulated_impedance_ohms(4) == (2e3, 5.5e3, None, 0.0)
    assert ADS1299Settings().emulated_impedance_ohms(2) == (5e3, 5e3)
    for value, problem in [
        (-1, 'kΩ in 0..100000 (e.g. 5), or "off"'),
        (math.inf, "a finite number"),
        ("open", 'kΩ in 0..100000 (e.g. 5), or "off"'),
        (True, 'kΩ in 0..100000 (e.g. 5), or "off"'),
        ([1, "x"], 'kΩ in 0..100000 (e.g. 5), or "off"'),
    ]:
        with pytest.raises(ConfigError, match=r"source\.ads1299\.emulated_impedance_kohm") as e:
            ADS1299Settings.from_mapping({"emulated_impedance_kohm": value})
        assert problem in str(e.value)
    settings = ADS1299Settings.from_mapping({"emulated_impedance_kohm": [1, 2, 3]})
    with pytest.raises(ConfigError, match="one value or 8, one per channel"):
        settings.emulated_impedance_ohms(8)
