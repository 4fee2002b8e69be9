"""Tests of the streaming EEG filters against scipy's offline result."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pytest
from scipy import signal

from eegd.dsp.filters import (
    POLE_MARGIN,
    FilterSettings,
    StreamingFilter,
    design_sos,
    steady_state,
)
from eegd.errors import ConfigError
from eegd.validation import convert

RATE = 250.0


def eeg_like(
    n_channels: int, n_samples: int, *, dc_volts: float = 0.0, seed: int = 0
) -> npt.NDArray[np.float64]:
    """Low-passed noise of tens of µV plus a 10 Hz rhythm and a DC offset, in volts."""
    rng = np.random.default_rng(seed)
    noise: npt.NDArray[np.float64] = signal.lfilter(
        [1.0], [1.0, -0.9], rng.normal(0, 5e-6, (n_channels, n_samples))
    )
    t = np.arange(n_samples) / RATE
    alpha = 10e-6 * np.sin(2 * np.pi * 10 * t)
    return dc_volts + noise + alpha


def filter_in_blocks(
    stream: StreamingFilter, x: npt.NDArray[np.float64], sizes: list[int]
) -> npt.NDArray[np.float32]:
    """Feed ``x`` through ``stream`` in blocks of the given sizes, cycling them."""
    out, start, index = [], 0, 0
    while start < x.shape[1]:
        size = sizes[index % len(sizes)]
        out.append(stream.process(x[:, start : start + size]))
        start += size
        index += 1
    return np.concatenate(out, axis=1)


def max_relative_difference(actual: npt.ArrayLike, expected: npt.ArrayLike) -> float:
    expected_array = np.asarray(expected, dtype=np.float64)
    scale = np.max(np.abs(expected_array))
    return float(np.max(np.abs(np.asarray(actual, dtype=np.float64) - expected_array)) / scale)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"notch_hz": 55.0}, "notch_hz: 55 is not allowed (allowed: 50, 60 or off)"),
        (
            {"highpass_hz": -1.0},
            "highpass_hz: -1 is not allowed (allowed: a frequency above 0 Hz, or 0 for off)",
        ),
        ({"lowpass_hz": -0.5}, "lowpass_hz: -0.5 is not allowed"),
        ({"highpass_hz": 40.0, "lowpass_hz": 30.0}, "highpass_hz: 40 is not allowed"),
        ({"order": 0}, "order: 0 is out of range (allowed: 1..8)"),
        ({"order": 2.5}, "order: expected `int`, got `float` (value: 2.5)"),
        ({"notch_q": 0.0}, "notch_q: 0 is out of range (allowed: > 0)"),
        (
            {"highpass_hz": "fast"},
            "highpass_hz: expected `float | null`, got `str` (value: 'fast')",
        ),
        ({"lowpass_hz": float("nan")}, "lowpass_hz: nan is not allowed (allowed: a finite number)"),
        (
            {"highpass_hz": 10**400},
            "highpass_hz: an integer of 401 digits is not allowed (allowed: a finite",
        ),
        (
            {"notch_q": 10**5000},
            "notch_q: an integer of more than 4300 digits is not allowed (allowed: a fin",
        ),
        ({"order": 10**5000}, "order: an integer of more than 4300 digits is out of range"),
        (
            {"highpass_hz": "x" * 5000},
            "highpass_hz: expected `float | null`, got `str` (value: 'xxxx" + "x" * 32 + "...)",
        ),
    ],
)
def test_settings_reject_bad_values_naming_the_field(
    kwargs: dict[str, object], message: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        convert(kwargs, FilterSettings)
    assert str(caught.value).startswith(message)


def test_settings_accept_integers_and_off() -> None:
    settings = convert(
        {"highpass_hz": 1, "lowpass_hz": None, "notch_hz": 60, "notch_q": 20}, FilterSettings
    )
    assert settings.highpass_hz == 1.0
    assert isinstance(settings.highpass_hz, float)
    assert settings.lowpass_hz is None
    assert settings.notch_hz == 60.0
    off = FilterSettings(highpass_hz=0, lowpass_hz=0.0, notch_hz=0)  # as TOML writes off
    assert (off.highpass_hz, off.lowpass_hz, off.notch_hz) == (None, None, None)


def test_design_stacks_highpass_lowpass_and_notch() -> None:
    sos = design_sos(FilterSettings(), RATE)
    assert sos.shape == (5, 6)
    assert sos.dtype == np.float64
    _, response = signal.sosfreqz(sos, worN=[0.1, 10.0, 50.0, 100.0], fs=RATE)
    gain = np.abs(response)
    assert gain[0] < 0.05
    assert gain[1] == pytest.approx(1.0, abs=0.01)
    assert gain[2] < 1e-3
    assert gain[3] < 0.01


@pytest.mark.parametrize(
    ("settings", "rate", "field"),
    [
        (FilterSettings(notch_hz=60.0, lowpass_hz=None), 100.0, "notch_hz"),
        (FilterSettings(notch_hz=None), 80.0, "lowpass_hz"),
        (FilterSettings(highpass_hz=60.0, lowpass_hz=None, notch_hz=None), 100.0, "highpass_hz"),
    ],
)
def test_corner_at_or_above_nyquist_is_a_config_error(
    settings: FilterSettings, rate: float, field: str
) -> None:
    with pytest.raises(ConfigError, match=rf"^{field}: .* Nyquist"):
        design_sos(settings, rate)


@pytest.mark.parametrize(
    ("settings", "rate", "field"),
    [
        # Each one was accepted and filled filtered_eeg and fft with inf or NaN.
        (FilterSettings(notch_q=1e-300), 250.0, "notch_q"),
        (FilterSettings(notch_q=1e-10), 250.0, "notch_q"),
        (FilterSettings(notch_q=1e300), 16000.0, "notch_q"),
        (FilterSettings(lowpass_hz=124.99999, order=8), 250.0, "lowpass_hz"),
        (FilterSettings(lowpass_hz=float(np.nextafter(125.0, 0.0)), order=8), 250.0, "lowpass_hz"),
        (FilterSettings(highpass_hz=1e-300), 250.0, "highpass_hz"),
        (FilterSettings(highpass_hz=1e-300, lowpass_hz=None, notch_hz=None), 16e3, "highpass_hz"),
        (FilterSettings(highpass_hz=None, lowpass_hz=1e-300), 250.0, "lowpass_hz"),
        (FilterSettings(highpass_hz=1e-4, order=8), 250.0, "highpass_hz"),
    ],
)
def test_a_design_that_cannot_run_is_a_config_error_naming_the_key(
    settings: FilterSettings, rate: float, field: str
) -> None:
    with pytest.raises(ConfigError, match=rf"^{field}: .* is not allowed at {rate:g} Hz sampling"):
        design_sos(settings, rate)


def test_the_notch_refusal_says_which_quality_factors_are_allowed() -> None:
    with pytest.raises(ConfigError, match=r"notch_q: 1e-300 .* allowed: about 0\.4 to 6\.28e\+05"):
        design_sos(FilterSettings(notch_q=1e-300), 250.0)
    design_sos(FilterSettings(notch_q=0.5), 250.0)
    design_sos(FilterSettings(notch_q=6e5), 250.0)


@pytest.mark.parametrize(
    ("settings", "rate"),
    [
        (FilterSettings(), 250.0),
        (FilterSettings(), 16000.0),
        (FilterSettings(highpass_hz=0.05, lowpass_hz=None, order=8), 16000.0),
        (FilterSettings(lowpass_hz=124.9, order=8, notch_hz=None), 250.0),
        (FilterSettings(highpass_hz=0.01, lowpass_hz=None, order=2), 16000.0),
    ],
)
def test_accepted_designs_keep_every_pole_inside_the_margin(
    settings: FilterSettings, rate: float
) -> None:
    sos = design_sos(settings, rate)
    radii = [np.max(np.abs(np.roots(section[3:]))) for section in sos]
    assert max(radii) < 1.0 - POLE_MARGIN
    x = eeg_like(8, int(2 * rate), dc_volts=0.05)
    assert np.isfinite(StreamingFilter(sos, 8).process(x)).all()


def test_every_stage_off_is_the_identity() -> None:
    sos = design_sos(FilterSettings(highpass_hz=None, lowpass_hz=None, notch_hz=None), RATE)
    assert sos.shape == (0, 6)
    x = eeg_like(3, 100, dc_volts=0.02)
    stream = StreamingFilter(sos, 3)
    out = filter_in_blocks(stream, x, [7, 1, 30])
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, x.astype(np.float32))


def test_packet_by_packet_equals_offline_sosfilt() -> None:
    sos = design_sos(FilterSettings(), RATE)
    x = eeg_like(4, 3000, dc_volts=0.03)
    expected, _ = signal.sosfilt(sos, x, axis=1, zi=steady_state(sos, x[:, 0]))
    out = filter_in_blocks(StreamingFilter(sos, 4), x, [1, 17, 1, 1, 250, 3, 64, 1])
    assert out.dtype == np.float32
    assert out.shape == x.shape
    assert max_relative_difference(out, expected) < 1e-6


def test_steady_state_start_does_not_ring_on_a_dc_offset() -> None:
    sos = design_sos(FilterSettings(), RATE)
    constant = np.full((2, 500), 0.05)
    out = StreamingFilter(sos, 2).process(constant)
    assert np.max(np.abs(out)) < 1e-9
    rung, _ = signal.sosfilt(sos, constant, axis=1, zi=np.zeros((5, 2, 2)))
    assert np.max(np.abs(rung)) > 1e-3


def test_block_of_wrong_channel_count_is_rejected() -> None:
    stream = StreamingFilter(design_sos(FilterSettings(), RATE), 4)
    with pytest.raises(ValueError, match=r"\(4, samples\)"):
        stream.process(np.zeros((3, 10)))


def switched_and_references(
    old_settings: FilterSettings, new_settings: FilterSettings, switch: int, dc: float
) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Filter with ``old`` then ``new`` settings from sample ``switch`` on.

    Returns the output after the switch, the settled output of the new filter over the whole
    signal, and a fresh new filter started at the switch from the last input sample before it.
    """
    x = eeg_like(2, 5000, dc_volts=dc, seed=3)
    old = design_sos(old_settings, RATE)
    new = design_sos(new_settings, RATE)
    stream = StreamingFilter(old, 2)
    filter_in_blocks(stream, x[:, :switch], [32])
    stream.redesign(new)
    after = filter_in_blocks(stream, x[:, switch:], [32])
    settled, _ = signal.sosfilt(new, x, axis=1, zi=steady_state(new, x[:, 0]))
    fresh, _ = signal.sosfilt(new, x[:, switch:], axis=1, zi=steady_state(new, x[:, switch - 1]))
    return after, settled[:, switch:], fresh


def test_notch_switch_mid_stream_glitches_less_than_a_fresh_start() -> None:
    dc = 0.05
    after, settled, fresh = switched_and_references(
        FilterSettings(notch_hz=50.0), FilterSettings(notch_hz=60.0), 2503, dc
    )
    glitch = np.max(np.abs(after - settled))
    fresh_glitch = np.max(np.abs(fresh - settled))
    assert glitch <= fresh_glitch
    assert glitch < 1e-4 * dc


def test_highpass_switch_mid_stream_is_a_fresh_start_not_a_ringing_dc() -> None:
    dc = 0.05
    switch = 2503
    after, settled, fresh = switched_and_references(
        FilterSettings(highpass_hz=0.5), FilterSettings(highpass_hz=1.0), switch, dc
    )
    np.testing.assert_allclose(after, fresh, rtol=0, atol=1e-9)
    glitch = np.max(np.abs(after - settled))
    assert glitch < 1e-3 * dc
    new = design_sos(FilterSettings(highpass_hz=1.0), RATE)
    x = eeg_like(2, 5000, dc_volts=dc, seed=3)
    from_zero, _ = signal.sosfilt(new, x[:, switch:], axis=1, zi=np.zeros((5, 2, 2)))
    assert np.max(np.abs(from_zero - settled)) > 100 * glitch


def test_switching_the_notch_on_mid_stream_keeps_the_output_continuous() -> None:
    dc = 0.05
    after, settled, fresh = switched_and_references(
        FilterSettings(notch_hz=None), FilterSettings(notch_hz=50.0), 1000, dc
    )
    assert np.max(np.abs(after - settled)) <= np.max(np.abs(fresh - settled))


def test_redesign_with_the_same_coefficients_keeps_the_state() -> None:
    sos = design_sos(FilterSettings(), RATE)
    x = eeg_like(2, 1000, dc_volts=0.01)
    expected, _ = signal.sosfilt(sos, x, axis=1, zi=steady_state(sos, x[:, 0]))
    stream = StreamingFilter(sos, 2)
    first = stream.process(x[:, :400])
    stream.redesign(design_sos(FilterSettings(), RATE))
    second = stream.process(x[:, 400:])
    assert max_relative_difference(np.concatenate([first, second], axis=1), expected) < 1e-6


def test_reset_starts_fresh_from_the_next_block() -> None:
    sos = design_sos(FilterSettings(), RATE)
    x = eeg_like(2, 1000, dc_volts=0.01)
    stream = StreamingFilter(sos, 2)
    stream.process(x[:, :500])
    stream.reset()
    assert stream.zi is None
    restarted = stream.process(x[:, 500:])
    fresh = StreamingFilter(sos, 2).process(x[:, 500:])
    np.testing.assert_array_equal(restarted, fresh)
