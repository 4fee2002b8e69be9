"""Tests of the PSD, band powers and the sliding, decimating spectrum against scipy's welch."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pytest
from scipy import signal

from eegd.dsp.bands import BAND_NAMES, BANDS
from eegd.dsp.spectrum import (
    SlidingSpectrum,
    SpectrumResult,
    SpectrumSettings,
    band_power,
    decimation_factor,
    hann_psd,
)
from eegd.errors import ConfigError
from eegd.validation import convert


def sines(
    rate: float, n_samples: int, components: list[tuple[float, float]], *, noise: float, seed: int
) -> npt.NDArray[np.float64]:
    """Two channels of summed sines (Hz, amplitude) plus white noise; channel 1 at half scale."""
    rng = np.random.default_rng(seed)
    t = np.arange(n_samples) / rate
    clean = sum(amplitude * np.sin(2 * np.pi * hz * t + 0.3) for hz, amplitude in components)
    x = np.vstack([clean, 0.5 * clean]) + rng.normal(0, noise, (2, n_samples))
    return x + 1e-3


def push_in_blocks(
    spectrum: SlidingSpectrum, x: npt.NDArray[np.float64], size: int
) -> list[SpectrumResult]:
    results: list[SpectrumResult] = []
    for start in range(0, x.shape[1], size):
        results.extend(spectrum.push(x[:, start : start + size]))
    return results


def test_the_band_table_is_the_clinical_bands_end_to_end() -> None:
    assert BAND_NAMES == ("delta", "theta", "alpha", "beta", "gamma")
    assert BANDS[0][1] == 1.0
    assert BANDS[-1][2] == 45.0
    assert all(
        high == next_low for (_, _, high), (_, next_low, _) in zip(BANDS, BANDS[1:], strict=False)
    )


@pytest.mark.parametrize("detrend", ["constant", "linear", None])
@pytest.mark.parametrize("n", [500, 501])
def test_hann_psd_equals_one_segment_welch(detrend: str | None, n: int) -> None:
    x = sines(250.0, n, [(10.0, 20e-6), (23.0, 5e-6)], noise=2e-6, seed=1)
    freqs, psd = hann_psd(x, 250.0, detrend)
    welch_freqs, expected = signal.welch(
        x,
        250.0,
        window="hann",
        nperseg=n,
        noverlap=0,
        detrend=detrend if detrend is not None else False,
        scaling="density",
    )
    np.testing.assert_allclose(freqs, welch_freqs)
    significant = expected >= 0.01 * expected.max()
    assert significant.sum() >= 4
    np.testing.assert_allclose(psd[significant], expected[significant], rtol=1e-5)
    np.testing.assert_allclose(psd, expected, rtol=1e-5, atol=1e-9 * expected.max())


def test_band_power_of_a_sine_is_half_its_squared_amplitude_in_its_band() -> None:
    amplitude = 20e-6
    x = sines(250.0, 500, [(10.0, amplitude)], noise=0.0, seed=0)
    powers = band_power(*hann_psd(x, 250.0))
    alpha = BAND_NAMES.index("alpha")
    assert powers.shape == (2, len(BANDS))
    assert powers[0, alpha] == pytest.approx(amplitude**2 / 2, rel=0.01)
    assert powers[1, alpha] == pytest.approx((amplitude / 2) ** 2 / 2, rel=0.01)
    others = np.delete(powers[0], alpha)
    assert np.all(others < 1e-3 * powers[0, alpha])


def test_band_edges_are_half_open() -> None:
    freqs = np.arange(0.0, 50.0, 1.0)
    psd = np.zeros((1, freqs.size))
    psd[0, freqs == 8.0] = 1.0
    powers = band_power(freqs, psd)
    assert powers[0].tolist() == [0.0, 0.0, 1.0, 0.0, 0.0]


@pytest.mark.parametrize(
    ("rate", "max_freq", "expected"),
    [(250.0, 100.0, 1), (16000.0, 100.0, 40), (1000.0, 100.0, 2), (500.0, 45.0, 2)],
)
def test_decimation_factor(rate: float, max_freq: float, expected: int) -> None:
    assert decimation_factor(rate, max_freq) == expected


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"window_s": 0.0}, "window_s: 0 is out of range (allowed: > 0 and <= 60)"),
        ({"hop_s": -1.0}, "hop_s: -1 is out of range (allowed: 0.01..60)"),
        (
            {"max_freq_hz": 30.0},
            "max_freq_hz: 30 is not allowed (allowed: 45..100000, at least the top of the gamma",
        ),
        ({"detrend": "quadratic"}, "detrend: 'quadratic' is not allowed (allowed: 'constant', "),
        ({"window_s": "2"}, "window_s: expected `float`, got `str` (value: '2')"),
    ],
)
def test_settings_reject_bad_values_naming_the_field(
    kwargs: dict[str, object], message: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        convert(kwargs, SpectrumSettings)
    assert str(caught.value).startswith(message)


def test_window_too_short_for_the_rate_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="^window_s: "):
        SlidingSpectrum(250.0, 2, SpectrumSettings(window_s=0.001))


def test_sliding_spectrum_counts_and_bookkeeping_at_250_hz() -> None:
    spectrum = SlidingSpectrum(250.0, 2, SpectrumSettings())
    assert (spectrum.fft_size, spectrum.hop, spectrum.decimation) == (500, 62, 1)
    x = sines(250.0, 2500, [(10.0, 20e-6)], noise=1e-6, seed=2)
    results = push_in_blocks(spectrum, x, 32)
    assert len(results) == 1 + (2500 - 500) // 62
    assert [r.end_sample for r in results] == [500 + k * 62 for k in range(len(results))]
    last = results[-1]
    assert last.freqs[-1] == 100.0
    assert last.psd.shape == (2, last.freqs.size)
    assert last.sample_rate == 250.0
    window = x[:, last.end_sample - 500 : last.end_sample]
    np.testing.assert_allclose(last.psd, hann_psd(window, 250.0)[1][:, : last.freqs.size])


def test_blocks_larger_than_the_hop_give_every_spectrum() -> None:
    spectrum = SlidingSpectrum(250.0, 2, SpectrumSettings(window_s=1.0, hop_s=0.1))
    x = sines(250.0, 2000, [(10.0, 20e-6)], noise=1e-6, seed=3)
    results = push_in_blocks(spectrum, x, 600)
    assert [r.end_sample for r in results] == list(range(250, 2001, 25))
    for result in results:
        window = x[:, result.end_sample - 250 : result.end_sample]
        np.testing.assert_allclose(result.psd, hann_psd(window, 250.0)[1][:, : result.freqs.size])


def test_fill_computes_nothing_and_push_then_yields_on_the_next_hop() -> None:
    spectrum = SlidingSpectrum(250.0, 2, SpectrumSettings())
    x = sines(250.0, 2000, [(10.0, 20e-6)], noise=1e-6, seed=4)
    for start in range(0, 1000, 10):
        spectrum.fill(x[:, start : start + 10])
    results = push_in_blocks(spectrum, x[:, 1000:], 1)
    assert results[0].end_sample <= 1000 + spectrum.hop
    assert results[0].end_sample == 500 + 62 * 9
    window = x[:, results[0].end_sample - 500 : results[0].end_sample]
    np.testing.assert_allclose(
        results[0].psd, hann_psd(window, 250.0)[1][:, : results[0].freqs.size]
    )


def test_decimated_spectrum_at_16_khz_matches_welch_of_the_full_rate_window() -> None:
    rate = 16000.0
    x = sines(rate, 3 * 16000, [(10.0, 20e-6), (20.0, 10e-6)], noise=2e-6, seed=5)
    spectrum = SlidingSpectrum(rate, 2, SpectrumSettings())
    assert spectrum.decimation == 40
    results = push_in_blocks(spectrum, x, 512)
    assert all(r.sample_rate == 400.0 and r.fft_size == 800 for r in results)
    last = results[-1]
    window = x[:, last.end_sample - 32000 : last.end_sample]
    freqs, expected = signal.welch(
        window, rate, window="hann", nperseg=32000, noverlap=0, detrend="constant"
    )
    kept = freqs <= 100.0
    np.testing.assert_allclose(last.freqs, freqs[kept])
    assert np.array_equal(np.argmax(last.psd, axis=1), np.argmax(expected[:, kept], axis=1))
    beta_peak = (last.freqs > 15) & (last.freqs < 25)
    assert last.freqs[beta_peak][np.argmax(last.psd[0, beta_peak])] == 20.0
    np.testing.assert_allclose(
        last.band_power, band_power(freqs[kept], expected[:, kept]), rtol=0.05
    )
