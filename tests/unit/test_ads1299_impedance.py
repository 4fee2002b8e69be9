"""The impedance estimate's pure part: the excitation, the filter's gain, the lock-in, grades.

The oracles are independent of the code: the sinc³ filter's gain is scipy's ``freqz`` of
three boxcars of the decimation ratio, the signals are built by numpy from their definition.
"""

from __future__ import annotations

import functools
import math

import numpy as np
import pytest
import scipy.signal
from hypothesis import given, settings
from hypothesis import strategies as st

from eegd.errors import ConfigError
from eegd.sources.ads1299.fields import LeadOffFrequency
from eegd.sources.ads1299.impedance import (
    Grade,
    assess,
    excitation_hz,
    filter_gain,
    grade,
    response_amplitude,
)
from eegd.sources.ads1299.registers import Register
from eegd.sources.ads1299.settings import REFERENCE_SENSE, ADS1299Settings, register_values

MODULATOR_HZ = 1_024_000  # SBAS499: fMOD = fCLK / 2 with the 2.048 MHz oscillator


@pytest.mark.parametrize(
    ("frequency", "rate", "hz"),
    [("7.8", 250, 7.8125), ("31.2", 250, 31.25), ("31.2", 1000, 31.25), ("fdr/4", 500, 125.0)],
)
def test_the_excitation_is_at_the_datasheets_frequency(
    frequency: str, rate: int, hz: float
) -> None:
    assert excitation_hz(LeadOffFrequency(frequency), rate) == hz


def test_dc_lead_off_has_no_excitation_to_measure() -> None:
    with pytest.raises(ValueError, match="DC"):
        excitation_hz(LeadOffFrequency.DC, 250)


@functools.cache
def sinc3_taps(rate: int) -> np.ndarray:
    """The decimation filter: three boxcars of fMOD / fDR modulator samples in a row."""
    ratio = MODULATOR_HZ // rate
    return np.convolve(np.convolve(np.ones(ratio), np.ones(ratio)), np.ones(ratio)) / ratio**3


def sinc3(hz: np.ndarray, rate: int) -> np.ndarray:
    """The filter's gain at each of ``hz``, by scipy."""
    _, response = scipy.signal.freqz(sinc3_taps(rate), worN=hz, fs=MODULATOR_HZ)
    return np.abs(response)


@pytest.mark.parametrize(("hz", "rate"), [(7.8125, 250), (31.25, 250), (62.5, 250), (125, 500)])
def test_the_filter_gain_is_that_of_three_boxcars_of_the_decimation_ratio(
    hz: float, rate: int
) -> None:
    assert filter_gain(hz, rate) == pytest.approx(sinc3(np.array([hz]), rate)[0], rel=1e-6)


def test_the_filter_has_a_null_at_the_data_rate() -> None:
    assert filter_gain(250.0, 250) < 1e-9


def square_response(amplitude: float, hz: float, rate: int, n: int, phase: float) -> np.ndarray:
    """What the chip outputs for a square of ``amplitude``: its odd harmonics, each
    ``4 / (π k)`` of it, through the filter, sampled (aliases included)."""
    t = np.arange(n) / rate
    harmonics = np.arange(1, 400, 2)
    gains = 4 / (math.pi * harmonics) * sinc3(harmonics * hz, rate)
    waves = np.sin(np.outer(harmonics, 2 * np.pi * hz * t + phase))
    return amplitude * gains @ waves


@pytest.mark.parametrize(("hz", "rate"), [(7.8125, 250), (31.25, 250), (62.5, 250), (31.25, 2000)])
def test_the_square_waves_amplitude_comes_back_through_drift_and_noise(
    hz: float, rate: int
) -> None:
    rng = np.random.default_rng(3)
    n = 2 * rate
    signal = square_response(50e-6, hz, rate, n, phase=0.7)
    drift = 1e-3 + 20e-6 * np.arange(n) / n  # an electrode's offset, drifting 20 µV
    noise = rng.standard_normal(n) * 0.5e-6
    assert response_amplitude(signal + drift + noise, rate, hz) == pytest.approx(50e-6, rel=0.02)


def test_a_window_shorter_than_a_period_is_refused() -> None:
    with pytest.raises(ValueError, match="no whole period"):
        response_amplitude(np.zeros(20), 250, 7.8125)


@settings(max_examples=30, deadline=None)
@given(st.floats(1e-7, 1e-2), st.floats(0, 2 * math.pi))
def test_the_amplitude_scales_with_the_signal_whatever_its_phase(
    amplitude: float, phase: float
) -> None:
    signal = square_response(amplitude, 31.25, 250, 400, phase)
    assert response_amplitude(signal, 250, 31.25) == pytest.approx(amplitude, rel=0.01)


@pytest.mark.parametrize(
    ("kohm", "expected"),
    [(0.0, Grade.GREEN), (10.0, Grade.GREEN), (10.04, Grade.GREEN), (10.06, Grade.YELLOW),
     (10.1, Grade.YELLOW), (50.0, Grade.YELLOW), (50.04, Grade.YELLOW), (50.1, Grade.RED),
     (None, Grade.RED)],
)  # fmt: skip
def test_grades_follow_the_documented_limits(kohm: float | None, expected: Grade) -> None:
    assert grade(kohm) is expected


def test_assess_takes_out_the_series_resistance_and_names_a_railed_channel() -> None:
    rate, hz, current = 250, 31.25, 6e-9
    total = [10e3, 25e3, 1e3]  # electrode plus the 5 kΩ series resistor, ohms
    volts = np.array([square_response(current * ohms, hz, rate, 500, 0.0) for ohms in total])
    volts[2] += np.linspace(-0.2, 0.2, 500)  # far beyond gain 24's ±187.5 mV
    result = assess(["Fp1", "Fp2", "Cz"], volts, rate, hz, 6, [0.1875] * 3, 5e3)
    fp1, fp2, cz = result.electrodes
    assert fp1.kohm == pytest.approx(5.0, rel=0.02)
    assert fp2.kohm == pytest.approx(20.0, rel=0.02)
    assert (fp1.grade, fp2.grade) == (Grade.GREEN, Grade.YELLOW)
    assert (cz.kohm, cz.grade, cz.railed) == (None, Grade.RED, True)
    as_dict = result.as_dict()
    assert [e["grade"] for e in as_dict["electrodes"]] == ["green", "yellow", "red"]
    assert as_dict["current_na"] == 6
    assert as_dict["window_s"] == 2.0


def test_an_impedance_below_the_series_resistance_is_zero_not_negative() -> None:
    volts = np.array([square_response(6e-9 * 3e3, 31.25, 250, 500, 0.0)])
    (electrode,) = assess(["Fp1"], volts, 250, 31.25, 6, [0.1875], 5e3).electrodes
    assert electrode.kohm == 0.0


def test_the_boards_declare_their_series_resistance() -> None:
    assert ADS1299Settings.from_mapping({}).series_resistance_ohms == 4990.0
    assert ADS1299Settings.from_mapping({"board": "pieeg"}).series_resistance_ohms == 0.0
    mine = ADS1299Settings.from_mapping({"board": "pieeg", "series_resistance_ohms": 2200})
    assert mine.series_resistance_ohms == 2200


@pytest.mark.parametrize("value", [-1, 2e6, "2k", True, float("nan")])
def test_a_bad_series_resistance_is_named(value: object) -> None:
    with pytest.raises(ConfigError, match=r"source\.ads1299\.series_resistance_ohms"):
        ADS1299Settings.from_mapping({"series_resistance_ohms": value})


@pytest.mark.parametrize(("frequency", "sensn"), [("dc", REFERENCE_SENSE), ("31.2", 0)])
def test_the_shared_reference_is_excited_by_dc_lead_off_only(frequency: str, sensn: int) -> None:
    settings = ADS1299Settings(lead_off=True, lead_off_frequency=frequency)
    registers = register_values(settings, 8, 250)
    assert registers[Register.LOFF_SENSP] == 0xFF
    assert registers[Register.LOFF_SENSN] == sensn
