"""The min/max display envelope against an offline reference: pairs, carry-over and gaps."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from eegd.events import FilteredEegPacket
from eegd.net.protocol import MAX_RATE_MAX, MAX_RATE_MIN
from eegd.net.stream.decimation import Envelope, EnvelopeDecimator
from eegd.timestamps import sample_timestamps
from tests.support.packets import eeg_packet, filtered_packet

ANCHOR_US = 1_000_000


def filtered(frame_id: int, first: int, samples: np.ndarray, rate: float) -> FilteredEegPacket:
    return filtered_packet(
        samples,
        frame_id=frame_id,
        first_sample=first,
        sample_rate=rate,
        anchor_us=ANCHOR_US,
        monotonic_ns=frame_id,
    )


def stream(rate: float, batch: int, frames: int, channels: int = 3) -> np.ndarray:
    rng = np.random.default_rng(1)
    return rng.standard_normal((channels, batch * frames)).astype(np.float32)


@dataclass(frozen=True)
class Pairs:
    """Envelope pairs laid out one per column, each with where and when it starts."""

    first_samples: list[int]
    timestamps: list[int]
    frame_ids: list[int]
    minima: npt.NDArray[np.float32]
    maxima: npt.NDArray[np.float32]


def flatten(envelopes: Sequence[Envelope], channels: int) -> Pairs:
    """Every pair of ``envelopes`` in order, with the first sample each pair covers."""
    firsts, stamps, frames = [], [], []
    for envelope in envelopes:
        count = envelope.minima.shape[1]
        firsts += [envelope.first_sample + i * envelope.factor for i in range(count)]
        stamps.append(envelope.timestamp_us)
        frames.append(envelope.frame_id)
    empty = np.empty((channels, 0), np.float32)
    return Pairs(
        first_samples=firsts,
        timestamps=stamps,
        frame_ids=frames,
        minima=np.concatenate([e.minima for e in envelopes], axis=1) if envelopes else empty,
        maxima=np.concatenate([e.maxima for e in envelopes], axis=1) if envelopes else empty,
    )


@dataclass(frozen=True)
class Packet:
    frame_id: int
    first: int
    samples: npt.NDArray[np.float32]


def reference(packets: Sequence[Packet], factor: int) -> tuple[list[int], np.ndarray, np.ndarray]:
    """Offline: min/max over consecutive groups of ``factor`` samples of each unbroken run.

    A run is a stretch of packets whose sample indices follow on; a group never spans two
    runs, and the samples at a run's end that do not fill a group are left out.
    """
    firsts: list[int] = []
    minima: list[np.ndarray] = []
    maxima: list[np.ndarray] = []
    run: list[Packet] = []

    def close(run: list[Packet]) -> None:
        if not run:
            return
        signal = np.concatenate([p.samples for p in run], axis=1)
        whole = signal.shape[1] // factor
        groups = signal[:, : whole * factor].reshape(signal.shape[0], whole, factor)
        firsts.extend(run[0].first + i * factor for i in range(whole))
        minima.append(groups.min(axis=2))
        maxima.append(groups.max(axis=2))

    for packet in packets:
        if run and packet.first != run[-1].first + run[-1].samples.shape[1]:
            close(run)
            run = []
        run.append(packet)
    close(run)
    channels = packets[0].samples.shape[0]
    return (
        firsts,
        np.concatenate(minima, axis=1) if minima else np.empty((channels, 0)),
        np.concatenate(maxima, axis=1) if maxima else np.empty((channels, 0)),
    )


def frame_of(packets: Sequence[Packet], sample: int) -> int:
    """The id of the packet that holds ``sample``."""
    for packet in packets:
        if packet.first <= sample < packet.first + packet.samples.shape[1]:
            return packet.frame_id
    raise LookupError(sample)


def check_against_reference(packets: Sequence[Packet], rate: float, max_rate: float) -> None:
    """Feed ``packets`` through a decimator and compare every pair with the offline result."""
    decimator = EnvelopeDecimator(max_rate)
    factor = EnvelopeDecimator.factor_for(rate, max_rate)
    envelopes = []
    for packet in packets:
        envelope = decimator.push(filtered(packet.frame_id, packet.first, packet.samples, rate))
        if envelope is not None:
            assert envelope.factor == factor
            assert envelope.pair_rate == rate / factor
            assert envelope.pair_rate <= max_rate * (1 + 1e-9)
            envelopes.append(envelope)
    pairs = flatten(envelopes, packets[0].samples.shape[0])

    firsts, minima, maxima = reference(packets, factor)

    assert pairs.first_samples == firsts
    np.testing.assert_array_equal(pairs.minima, minima)
    np.testing.assert_array_equal(pairs.maxima, maxima)
    envelope_firsts = [e.first_sample for e in envelopes]
    assert pairs.timestamps == [
        int(sample_timestamps(ANCHOR_US, first, 1, rate)[0]) for first in envelope_firsts
    ]
    assert pairs.frame_ids == [
        frame_of(packets, e.first_sample + e.factor * e.minima.shape[1] - 1) for e in envelopes
    ]


def packets_of(signal: np.ndarray, sizes: Sequence[int], gaps: Sequence[int]) -> list[Packet]:
    """Cut ``signal`` into packets of ``sizes``; ``gaps[i]`` samples go missing before packet i."""
    packets, at, first = [], 0, 0
    for frame_id, (size, gap) in enumerate(zip(sizes, gaps, strict=True)):
        first += gap
        packets.append(Packet(frame_id, first, signal[:, at : at + size]))
        at += size
        first += size
    return packets


# 250 / 7.8125 and 16000 / 31.25 make a pair exactly one packet.
MAX_RATES = [1, 2, 3, 3.9, 4.5, 5, 7.8, 250]
SOURCES = [(250.0, 32, 7.8125), (16_000.0, 512, 31.25)]


@pytest.mark.parametrize("max_rate", [*MAX_RATES, "one-packet"])
@pytest.mark.parametrize(("rate", "batch", "packet_rate"), SOURCES, ids=["250Hz", "16kHz"])
def test_twenty_seconds_of_packets_equal_the_offline_envelope(
    rate: float, batch: int, packet_rate: float, max_rate: float | str
) -> None:
    wanted = packet_rate if max_rate == "one-packet" else float(max_rate)
    frames = math.ceil(20 * rate / batch)
    signal = stream(rate, batch, frames)
    packets = packets_of(signal, [batch] * frames, [0] * frames)
    if max_rate == "one-packet":
        assert EnvelopeDecimator.factor_for(rate, wanted) == batch

    check_against_reference(packets, rate, wanted)


@pytest.mark.parametrize("max_rate", [1, 3, 3.9, 7.8, 100])
@pytest.mark.parametrize(("rate", "batch", "packet_rate"), SOURCES, ids=["250Hz", "16kHz"])
def test_no_pair_spans_a_gap_in_the_sample_indices(
    rate: float, batch: int, packet_rate: float, max_rate: float
) -> None:
    frames = math.ceil(20 * rate / batch)
    gaps = [0] * frames
    gaps[10], gaps[11], gaps[frames // 2] = 5 * batch, 7, batch + 1  # lost packets, a short skip
    packets = packets_of(stream(rate, batch, frames), [batch] * frames, gaps)

    check_against_reference(packets, rate, max_rate)


def test_a_pair_spanning_many_packets_keeps_its_first_sample_and_time() -> None:
    decimator = EnvelopeDecimator(1)  # 250 samples per pair at 250 Hz: about 8 packets of 32
    envelopes = []
    for frame in range(20):
        block = np.full((2, 32), float(frame), np.float32)
        envelope = decimator.push(filtered(frame, 1000 + 32 * frame, block, 250.0))
        if envelope is not None:
            envelopes.append(envelope)

    assert [(e.first_sample, e.frame_id) for e in envelopes] == [(1000, 7), (1250, 15)]
    first = envelopes[0]
    assert first.timestamp_us == int(sample_timestamps(ANCHOR_US, 1000, 1, 250.0)[0])
    assert first.minima.tolist() == [[0.0], [0.0]]
    assert first.maxima.tolist() == [[7.0], [7.0]]
    assert envelopes[1].minima.tolist() == [[7.0], [7.0]]  # samples 1250.. start in frame 7


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
    assert stamps == sample_timestamps(ANCHOR_US, 0, usable, rate)[expected_firsts].tolist()


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


def test_a_rate_change_discards_the_partial_pair() -> None:
    decimator = EnvelopeDecimator(50)  # 5 samples per pair at 250 Hz, 10 at 500 Hz
    assert decimator.push(filtered(0, 0, np.zeros((1, 4)), 250.0)) is None
    after = decimator.push(filtered(1, 4, np.ones((1, 10)), 500.0))

    assert after is not None
    assert (after.first_sample, after.factor, after.minima.tolist()) == (4, 10, [[1.0]])


def test_an_empty_packet_changes_nothing() -> None:
    decimator = EnvelopeDecimator(50)
    assert decimator.push(filtered(0, 0, np.zeros((1, 3)), 250.0)) is None
    assert decimator.push(filtered(1, 3, np.zeros((1, 0)), 250.0)) is None
    envelope = decimator.push(filtered(2, 3, np.ones((1, 2)), 250.0))

    assert envelope is not None
    assert (envelope.first_sample, envelope.minima.tolist(), envelope.maxima.tolist()) == (
        0,
        [[0.0]],
        [[1.0]],
    )


def test_raw_packets_are_enveloped_from_their_volts() -> None:
    volts = np.arange(8, dtype=np.float32).reshape(1, 8)
    packet = eeg_packet(
        volts, frame_id=3, channel_names=("C3",), anchor_us=ANCHOR_US, monotonic_ns=0
    )
    envelope = EnvelopeDecimator(62.5).push(packet)

    assert envelope is not None
    assert envelope.minima.tolist() == [[0.0, 4.0]]
    assert envelope.maxima.tolist() == [[3.0, 7.0]]


def test_rate_at_or_above_the_source_rate_keeps_every_sample() -> None:
    assert EnvelopeDecimator.factor_for(250.0, 250.0) == 1
    assert EnvelopeDecimator.factor_for(250.0, 1000.0) == 1
    assert EnvelopeDecimator.factor_for(16_000.0, 300.0) == 54
    assert EnvelopeDecimator.factor_for(16_000.0, MAX_RATE_MAX) == 1
    assert EnvelopeDecimator.factor_for(16_000.0, MAX_RATE_MIN) == 16_000


@pytest.mark.parametrize("max_rate", [0, -1, 1e-9, 5e-324, 0.999, math.nan, math.inf, 1e300])
def test_max_rate_outside_the_accepted_range_is_refused(max_rate: float) -> None:
    with pytest.raises(ValueError, match="max_rate must be from 1 to 100000"):
        EnvelopeDecimator(max_rate)


@pytest.mark.parametrize("max_rate", [MAX_RATE_MIN, 3.9, MAX_RATE_MAX])
def test_max_rate_at_the_ends_of_the_range_is_accepted(max_rate: float) -> None:
    assert EnvelopeDecimator(max_rate).max_rate == max_rate


@settings(max_examples=200, deadline=None)
@given(
    rate=st.sampled_from([250.0, 1000.0, 16_000.0]),
    max_rate=st.floats(MAX_RATE_MIN, MAX_RATE_MAX),
    channels=st.integers(1, 3),
    layout=st.lists(
        st.tuples(st.integers(1, 600), st.sampled_from([0, 0, 0, 0, 1, 7, 600])),
        min_size=1,
        max_size=40,
    ),
    seed=st.integers(0, 2**32 - 1),
)
def test_any_packets_rate_and_gaps_give_the_offline_envelope(
    rate: float,
    max_rate: float,
    channels: int,
    layout: list[tuple[int, int]],
    seed: int,
) -> None:
    sizes = [size for size, _ in layout]
    signal = np.random.default_rng(seed).standard_normal((channels, sum(sizes)))
    packets = packets_of(signal.astype(np.float32), sizes, [gap for _, gap in layout])

    check_against_reference(packets, rate, max_rate)
