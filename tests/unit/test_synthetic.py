"""The synthetic source: settings, determinism, EEG-like content and real-time pacing."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
from scipy import signal

from eegd.errors import ConfigError, SourceError
from eegd.sources.adc import ADS1299_SAMPLE_RATES, Ads1299Scale
from eegd.sources.base import SharedSourceOptions
from eegd.sources.montage import DEFAULT_CHANNELS, region_of, standard_channel_names
from eegd.sources.synthetic import SyntheticSettings, SyntheticSource
from tests.support.clocks import FakeClock

UV = 1e-6


def opened(clock: FakeClock | None = None, **settings: Any) -> SyntheticSource:
    settings.setdefault("paced", False)
    source = SyntheticSource(SyntheticSettings(**settings), clock=clock)
    source.open()
    return source


def microvolts(seconds: float, **settings: Any) -> npt.NDArray[np.float64]:
    """``seconds`` of one run in µV, channels × samples."""
    source = opened(**settings)
    return source.read(round(seconds * source.sample_rate)).volts.astype(np.float64) / UV


def row(label: str, **settings: Any) -> int:
    return SyntheticSettings(**settings).resolved_channel_names.index(label)


# --- settings -------------------------------------------------------------------------------


def test_defaults_are_the_documented_montage() -> None:
    settings = SyntheticSettings()
    assert (settings.channels, settings.sample_rate) == (8, 250)
    assert settings.channel_names is None
    assert settings.resolved_channel_names == DEFAULT_CHANNELS
    source = SyntheticSource(settings)
    assert source.channel_names == DEFAULT_CHANNELS
    assert source.sample_rate == 250.0


@pytest.mark.parametrize(
    ("shared", "own", "expected"),
    [
        ({"channels": 0}, {}, r"^source\.channels: 0 is out of range \(allowed: 1\.\.32\)$"),
        ({"channels": 33}, {}, r"^source\.channels: 33 is out of range \(allowed: 1\.\.32\)$"),
        (
            {"sample_rate": 300},
            {},
            r"^source\.sample_rate: 300 is not allowed \(allowed: 250, 500, 1000, 2000, 4000, "
            r"8000, 16000\)$",
        ),
        ({"sample_rate": 256.0}, {}, r"^source\.sample_rate: 256 .*250, 500"),
        (
            {},
            {"line_noise_hz": 40},
            r"^source\.synthetic\.line_noise_hz: 40 is not allowed \(allowed: 0, 50, 60\)$",
        ),
        ({}, {"seed": -1}, r"^source\.synthetic\.seed: -1 is out of range \(allowed: >= 0\)$"),
        ({}, {"channels": 4}, r"^source\.synthetic\.channels: unknown key \(allowed: seed, "),
        (
            {"channel_names": ("O1", "O2")},
            {},
            r"^source\.channel_names: \('O1', 'O2'\) .*8 labels",
        ),
        ({"channels": 2, "channel_names": ("O1", "O1")}, {}, r"^source\.channel_names: .*distinct"),
        (
            {"channels": 1, "channel_names": ("",)},
            {},
            r"^source\.channel_names\[0\]: '' is not allowed \(allowed: at least 1 characters\)$",
        ),
    ],
)
def test_invalid_settings_name_the_key_value_and_allowed(
    shared: dict[str, Any], own: dict[str, Any], expected: str
) -> None:
    with pytest.raises(ConfigError, match=expected):
        SyntheticSource.from_options(SharedSourceOptions(kind="synthetic", **shared), own)


def test_given_channel_names_are_used() -> None:
    names = ("O1", "Oz", "O2")
    source = SyntheticSource(SyntheticSettings(channels=3, channel_names=names))
    assert source.channel_names == names


# --- montage --------------------------------------------------------------------------------


def test_standard_names_start_with_the_default_montage() -> None:
    assert standard_channel_names(8) == DEFAULT_CHANNELS
    assert standard_channel_names(3) == ("Fp1", "Fp2", "C3")
    names = standard_channel_names(32)
    assert len(set(names)) == 32
    assert "other" not in {region_of(name) for name in names}


@pytest.mark.parametrize("n", [0, 33])
def test_standard_names_outside_the_range_are_refused(n: int) -> None:
    with pytest.raises(ValueError, match=r"1\.\.32"):
        standard_channel_names(n)


@pytest.mark.parametrize(
    ("label", "region"),
    [
        ("Fp1", "frontal-polar"),
        ("FP2", "frontal-polar"),
        ("AF3", "frontal-polar"),
        ("F7", "frontal"),
        ("Fz", "frontal"),
        ("FC5", "frontal"),
        ("C3", "central"),
        ("Cz", "central"),
        ("CP2", "central"),
        ("T7", "temporal"),
        ("P8", "parietal"),
        ("PO3", "parietal"),
        ("O1", "occipital"),
        ("Oz", "occipital"),
        ("EXG1", "other"),
        ("ECG", "other"),
    ],
)
def test_region_of_a_label(label: str, region: str) -> None:
    assert region_of(label) == region


# --- blocks and lifecycle -------------------------------------------------------------------


@pytest.mark.parametrize("rate", ADS1299_SAMPLE_RATES)
@pytest.mark.parametrize("channels", [1, 8, 32])
def test_every_rate_and_channel_count_reads(rate: int, channels: int) -> None:
    source = opened(channels=channels, sample_rate=rate)
    for first in (0, 37):
        block = source.read(37)
        assert block.first_sample == first
        assert block.raw.shape == block.volts.shape == (channels, 37)
        assert block.raw.dtype == np.int32
        assert block.volts.dtype == np.float32
        assert block.n_samples == 37


def test_every_channel_count_from_1_to_32_reads() -> None:
    for channels in range(1, 33):
        block = opened(channels=channels).read(10)
        assert block.volts.shape == (channels, 10)
        assert np.all(np.isfinite(block.volts))


def test_volts_are_exactly_the_counts_times_the_lsb() -> None:
    block = opened(line_noise_hz=60).read(500)
    np.testing.assert_array_equal(block.volts, Ads1299Scale().to_volts(block.raw))
    assert np.abs(block.raw).max() > 1000  # real signal, not a few LSB of nothing


@pytest.mark.parametrize(
    ("rate", "sizes"),
    [
        (250, [25] * 40),
        (250, [1, 999]),
        (16000, [512] * 2 + [7, 1, 16, 17, 1000, 493]),
        (4000, [3] * 100 + [1748]),
    ],
)
def test_output_does_not_depend_on_block_sizes(rate: int, sizes: list[int]) -> None:
    total = sum(sizes)
    whole = opened(sample_rate=rate, line_noise_hz=50, seed=3).read(total)
    pieces = opened(sample_rate=rate, line_noise_hz=50, seed=3)
    blocks = [pieces.read(size) for size in sizes]
    assert [block.first_sample for block in blocks] == list(np.cumsum([0, *sizes[:-1]]))
    np.testing.assert_array_equal(np.concatenate([b.raw for b in blocks], axis=1), whole.raw)


def test_seeds_differ_and_a_seed_repeats() -> None:
    first = opened(seed=1).read(250).raw
    np.testing.assert_array_equal(opened(seed=1).read(250).raw, first)
    assert not np.array_equal(opened(seed=2).read(250).raw, first)


def test_reopening_starts_the_same_run_again() -> None:
    source = opened()
    first = source.read(100)
    source.read(100)
    source.close()
    source.open()
    again = source.read(100)
    assert again.first_sample == 0
    np.testing.assert_array_equal(again.raw, first.raw)


def test_read_needs_an_open_source() -> None:
    source = SyntheticSource(SyntheticSettings(paced=False))
    with pytest.raises(SourceError, match="not open"):
        source.read(10)
    with source:
        source.read(10)
        with pytest.raises(SourceError, match="already open"):
            source.open()
    with pytest.raises(SourceError, match="not open"):
        source.read(10)
    source.close()


@pytest.mark.parametrize("n", [0, -1])
def test_read_needs_a_positive_count(n: int) -> None:
    with pytest.raises(ValueError, match="n_samples"):
        opened().read(n)


# --- what an EEG person expects to see ------------------------------------------------------


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_amplitudes_are_those_of_scalp_eeg(seed: int) -> None:
    rms = microvolts(20, seed=seed).std(axis=1)
    assert np.all((rms > 10) & (rms < 60)), rms


@pytest.mark.parametrize("seed", [0, 5])
def test_background_is_10_to_30_microvolts(seed: int) -> None:
    # Frontal channels carry almost no alpha, so without blinks they show the background.
    names = standard_channel_names(32)
    frontal = [i for i, name in enumerate(names) if region_of(name).startswith("frontal")]
    rms = microvolts(20, channels=32, seed=seed, blinks=False)[frontal].std(axis=1)
    assert np.all((rms > 10) & (rms < 30)), rms


def band_power(
    psd: npt.NDArray[np.float64], freqs: npt.NDArray[np.float64], lo: float, hi: float
) -> npt.NDArray[np.float64]:
    in_band = (freqs >= lo) & (freqs < hi)
    power: npt.NDArray[np.float64] = psd[..., in_band].sum(axis=-1) * (freqs[1] - freqs[0])
    return power


@pytest.mark.parametrize(("seed", "rate"), [(0, 250), (1, 250), (2, 250), (0, 1000)])
def test_alpha_peaks_at_10_hz_over_the_occipital_lobe(seed: int, rate: int) -> None:
    eeg = microvolts(20, seed=seed, sample_rate=rate)
    freqs, psd = signal.welch(eeg, fs=rate, nperseg=2 * rate)
    alpha = band_power(psd, freqs, 8, 13)
    theta = band_power(psd, freqs, 4, 8)
    in_alpha = (freqs >= 8) & (freqs <= 13)
    for label in ("O1", "O2"):
        channel = row(label)
        peak = freqs[in_alpha][np.argmax(psd[channel, in_alpha])]
        assert peak == pytest.approx(10, abs=0.5)
        assert alpha[channel] > theta[channel]
    assert alpha[row("O1")] > alpha[row("Fp1")]
    assert alpha[row("O1")] > alpha[row("C3")]


def test_without_alpha_the_occipital_channels_have_no_alpha_excess() -> None:
    with_alpha = microvolts(20, seed=0)
    without = microvolts(20, seed=0, alpha=False)
    freqs, psd_with = signal.welch(with_alpha, fs=250, nperseg=500)
    _, psd_without = signal.welch(without, fs=250, nperseg=500)
    occipital = row("O1")
    ratio_with = band_power(psd_with, freqs, 8, 13) / band_power(psd_with, freqs, 4, 8)
    ratio_without = band_power(psd_without, freqs, 8, 13) / band_power(psd_without, freqs, 4, 8)
    assert ratio_with[occipital] > 2 * ratio_without[occipital]
    assert ratio_without[occipital] < 1  # 1/f: less power in alpha than in theta


def line_to_neighbours(
    eeg: npt.NDArray[np.float64], rate: int, line_hz: float
) -> npt.NDArray[np.float64]:
    """PSD at the line frequency over the median PSD within 10 Hz of it, per channel."""
    freqs, psd = signal.welch(eeg, fs=rate, nperseg=5 * rate)
    near = (np.abs(freqs - line_hz) < 10) & (np.abs(freqs - line_hz) > 1)
    at_line = np.argmin(np.abs(freqs - line_hz))
    ratio: npt.NDArray[np.float64] = psd[:, at_line] / np.median(psd[:, near], axis=1)
    return ratio


@pytest.mark.parametrize("line_hz", [50, 60])
def test_line_noise_shows_as_a_peak_only_when_enabled(line_hz: int) -> None:
    with_hum = line_to_neighbours(microvolts(20, line_noise_hz=line_hz), 250, line_hz)
    without = line_to_neighbours(microvolts(20, line_noise_hz=None), 250, line_hz)
    assert np.all(with_hum > 6), with_hum
    assert np.all(without < 4), without


def test_blinks_are_smooth_frontal_bumps_every_few_seconds() -> None:
    rate = 250
    blink = microvolts(30, sample_rate=rate) - microvolts(30, sample_rate=rate, blinks=False)
    for label in ("Fp1", "Fp2"):
        assert blink[row(label)].max() > 80
        assert blink[row(label)].min() >= 0
    for label in ("C3", "C4", "P3", "P4", "O1", "O2"):
        assert not blink[row(label)].any(), label
    edges = np.diff((blink[row("Fp1")] > 1).astype(int))
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    assert 4 <= len(starts) <= 10
    durations = (ends - starts[: len(ends)]) / rate
    assert np.all((durations > 0.15) & (durations < 0.45)), durations
    gaps = np.diff(starts) / rate
    assert np.all((gaps > 2.5) & (gaps < 8.5)), gaps


def test_blinks_reach_frontal_channels_weaker() -> None:
    names = ("Fp1", "F3", "O1")
    settings = {"channels": 3, "channel_names": names}
    blink = microvolts(20, **settings) - microvolts(20, blinks=False, **settings)
    peaks = blink.max(axis=1)
    assert peaks[0] > 2 * peaks[1] > 0
    assert peaks[2] == 0


# --- pacing ---------------------------------------------------------------------------------


def test_paced_reads_end_at_the_last_samples_time() -> None:
    clock = FakeClock(now=100.0)
    source = opened(clock, paced=True)
    source.read(25)
    assert clock.sleeps == [pytest.approx(0.1)]
    assert clock.now == pytest.approx(100.1, abs=1e-12)


def test_pacing_does_not_drift_over_many_reads() -> None:
    # Each reading of the clock costs 0.1 ms of "work", which the sleeps must absorb.
    clock = FakeClock(now=5000.0, work=1e-4)
    source = opened(clock, paced=True, sample_rate=500)
    opened_at = clock.now
    worst = 0.0
    for reads in range(1, 10_001):
        source.read(32)
        worst = max(worst, abs(clock.now - (opened_at + reads * 32 / 500)))
    assert worst < 1e-9
    assert len(clock.sleeps) == 10_000
    assert clock.sleeps[-1] == pytest.approx(32 / 500 - 1e-4)


def test_a_late_reader_is_not_made_to_catch_up_twice() -> None:
    clock = FakeClock(now=0.0)
    source = opened(clock, paced=True)
    source.read(25)  # due at 0.1 s
    clock.now = 1.05  # the reader stalled
    for _ in range(9):  # due at 0.2 .. 1.0 s: already late, no waiting
        source.read(25)
    assert clock.sleeps == [pytest.approx(0.1)]
    source.read(25)  # due at 1.1 s
    assert clock.sleeps[1:] == [pytest.approx(0.05)]
    assert clock.now == pytest.approx(1.1)


def test_unpaced_reads_never_sleep() -> None:
    clock = FakeClock(100.0)
    source = opened(clock, paced=False)
    for _ in range(10):
        source.read(250)
    assert clock.sleeps == []
