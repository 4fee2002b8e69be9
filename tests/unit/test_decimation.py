"""The min/max display envelope: pair rate, containment, carry-over and gaps."""

from __future__ import annotations

import numpy as np
import pytest

from eegd.events import FilteredEegPacket, sample_timestamps
from eegd.net.decimation import EnvelopeDecimator


def filtered(frame_id: int, first: int, samples: np.ndarray, rate: float) -> FilteredEegPacket:
    n = samples.shape[1]
    return FilteredEegPacket(
        frame_id=frame_id,
        first_sample=first,
        timestamps=sample_timestamps(1_000_000, first, n, rate),
        samples=samples.astype(np.float32),
        sample_rate=rate,
        channel_names=tuple(f"C{i}" for i in range(samples.shape[0])),
        monotonic_ns=frame_id,
    )


def stream(rate: float, batch: int, frames: int, channels: int = 3) -> np.ndarray:
    rng = np.random.default_rng(1)
    return rng.standard_normal((channels, batch * frames)).astype(np.float32)


def test_envelope_at_16_khz_gives_250_pairs_per_second_that_contain_the_signal() -> None:
    rate, batch = 16_000.0, 512
    signal = stream(rate, batch, frames=32)
    decimator = EnvelopeDecimator(250)
    pairs = 0
    for frame in range(32):
        block = signal[:, frame * batch : (frame + 1) * batch]
        envelope = decimator.push(filtered(frame, frame * batch, block, rate))
        assert envelope is not None
        assert envelope.frame_id == frame
        assert envelope.factor == 64
        assert envelope.pair_rate == 250.0
        groups = block.reshape(3, -1, 64)
        np.testing.assert_array_equal(envelope.minima, groups.min(axis=2))
        np.testing.assert_array_equal(envelope.maxima, groups.max(axis=2))
        pairs += envelope.minima.shape[1]
    assert pairs == 32 * batch // 64  # 1.024 s of data → 256 pairs: 250 per second


def test_samples_that_do_not_fill_a_pair_carry_over_to_the_next_packet() -> None:
    rate, batch = 250.0, 32
    signal = stream(rate, batch, frames=10)
    decimator = EnvelopeDecimator(100)  # 3 samples per pair
    minima, firsts, stamps = [], [], []
    for frame in range(10):
        block = signal[:, frame * batch : (frame + 1) * batch]
        envelope = decimator.push(filtered(frame, frame * batch, block, rate))
        assert envelope is not None
        minima.append(envelope.minima)
        firsts.append(envelope.first_sample)
        stamps.append(envelope.timestamp_us)
    whole = np.concatenate(minima, axis=1)
    usable = whole.shape[1] * 3
    np.testing.assert_array_equal(whole, signal[:, :usable].reshape(3, -1, 3).min(axis=2))
    expected_firsts = np.cumsum([0] + [m.shape[1] * 3 for m in minima[:-1]])
    assert firsts == expected_firsts.tolist()
    assert stamps == sample_timestamps(1_000_000, 0, usable, rate)[expected_firsts].tolist()


def test_a_gap_discards_the_partial_pair() -> None:
    decimator = EnvelopeDecimator(100)
    ones = np.ones((1, 4), dtype=np.float32)
    first = decimator.push(filtered(0, 0, ones, 250.0))
    assert first is not None
    assert first.minima.shape == (1, 1)  # one sample waits
    after_gap = decimator.push(filtered(2, 100, 5 * ones, 250.0))
    assert after_gap is not None
    assert after_gap.first_sample == 100
    assert np.all(after_gap.minima == 5)


def test_rate_at_or_above_the_source_rate_keeps_every_sample() -> None:
    assert EnvelopeDecimator.factor_for(250.0, 250.0) == 1
    assert EnvelopeDecimator.factor_for(250.0, 1000.0) == 1
    assert EnvelopeDecimator.factor_for(16_000.0, 300.0) == 54


def test_max_rate_must_be_positive() -> None:
    with pytest.raises(ValueError, match="positive"):
        EnvelopeDecimator(0)
