"""The polyphase decimator: the same samples as filtering everything and keeping every q-th,
in any split into blocks, and an anti-alias filter that keeps the passband and folds nothing
onto it."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import signal

from eegd.dsp.decimate import STOPBAND_ATTENUATION_DB, PolyphaseDecimator, anti_alias_taps


def full_rate_then_kept(taps: np.ndarray, x: np.ndarray, q: int) -> np.ndarray:
    """The reference: filter every sample (the first held before the start), keep every q-th."""
    held = np.concatenate((np.repeat(x[:, :1], taps.size - 1, axis=1), x), axis=1)
    return signal.lfilter(taps, 1.0, held, axis=1)[:, taps.size - 1 :][:, ::q]


@settings(max_examples=40, deadline=None)
@given(
    q=st.integers(1, 12),
    n_taps=st.integers(1, 60),
    sizes=st.lists(st.integers(0, 90), min_size=1, max_size=12),
    seed=st.integers(0, 2**16),
)
def test_block_by_block_equals_filtering_everything_and_keeping_every_qth(
    q: int, n_taps: int, sizes: list[int], seed: int
) -> None:
    rng = np.random.default_rng(seed)
    taps = rng.standard_normal(n_taps)
    x = rng.standard_normal((3, sum(sizes))).astype(np.float32)
    if x.shape[1] == 0:
        return
    decimator = PolyphaseDecimator(taps, q, 3)
    pieces, start = [], 0
    for size in sizes:
        pieces.append(decimator.process(x[:, start : start + size]))
        start += size
    kept = np.concatenate(pieces, axis=1)
    np.testing.assert_allclose(
        kept, full_rate_then_kept(taps, x.astype(np.float64), q), rtol=1e-9, atol=1e-9
    )


@pytest.mark.parametrize(("rate", "q"), [(16000.0, 40), (8000.0, 20), (1000.0, 2), (2000.0, 5)])
def test_the_anti_alias_filter_keeps_the_band_and_folds_nothing_onto_it(
    rate: float, q: int
) -> None:
    max_freq = 100.0
    taps = anti_alias_taps(rate, q, max_freq)
    assert taps.size % 2 == 1
    passband = np.linspace(0.0, max_freq, 50)
    _, response = signal.freqz(taps, worN=passband, fs=rate)
    assert np.abs(20 * np.log10(np.abs(response))).max() < 0.01
    # Everything from the decimated rate minus max_freq up folds onto [0, max_freq].
    folding = np.linspace(rate / q - max_freq, rate / 2, 400)
    _, response = signal.freqz(taps, worN=folding, fs=rate)
    assert (20 * np.log10(np.abs(response))).max() < -STOPBAND_ATTENUATION_DB + 1


def test_a_dc_offset_starts_without_a_transient() -> None:
    taps = anti_alias_taps(16000.0, 40, 100.0)
    decimator = PolyphaseDecimator(taps, 40, 2)
    kept = decimator.process(np.full((2, 512), 0.5, dtype=np.float32))
    np.testing.assert_allclose(kept, 0.5, rtol=1e-6)
    assert decimator.delay == (taps.size - 1) / 2


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(ValueError, match="cannot decimate"):
        anti_alias_taps(1000.0, 5, 100.0)  # 200 Hz leaves no room above 100 Hz
    with pytest.raises(ValueError, match="non-empty"):
        PolyphaseDecimator([], 2, 1)
    with pytest.raises(ValueError, match="at least 1"):
        PolyphaseDecimator([1.0], 0, 1)
    with pytest.raises(ValueError, match="shape"):
        PolyphaseDecimator([1.0], 2, 2).process(np.zeros((3, 4)))
