"""Tests of the brain-waves plugin: called directly, then running on a real bus."""

from __future__ import annotations

import asyncio
import logging

import numpy as np
import numpy.typing as npt
import pytest

from eegd.bus import EventBus
from eegd.dsp.bands import BAND_NAMES, BANDS
from eegd.dsp.spectrum import SpectrumSettings
from eegd.errors import ConfigError
from eegd.events import Event, FftPacket, FilteredEegPacket, SystemEvent, SystemEventKind, Topic
from eegd.plugin import PluginContext
from eegd.plugins.brain_waves import BrainWaves
from eegd.timestamps import sample_timestamps
from tests.support.packets import chunks, filtered_packet
from tests.support.timing import scaled
from tests.support.waiting import wait_until

RATE = 250.0
NAMES = ("Fp1", "Fp2", "C3", "C4", "P3", "P4", "O1", "O2")
ALPHA_CHANNELS = (0, 3)
AMPLITUDE = 20e-6
ANCHOR_US = 1_700_000_000_000_000
WINDOW, HOP = 500, 62


def eeg(n_samples: int, rate: float = RATE, seed: int = 0) -> npt.NDArray[np.float64]:
    """Eight channels of 2 µV noise; a 20 µV 10 Hz rhythm on channels 0 and 3, in volts."""
    rng = np.random.default_rng(seed)
    x = rng.normal(0, 2e-6, (len(NAMES), n_samples))
    t = np.arange(n_samples) / rate
    for channel in ALPHA_CHANNELS:
        x[channel] += AMPLITUDE * np.sin(2 * np.pi * 10 * t)
    return x


def packets(
    samples: npt.NDArray[np.float64], size: int, rate: float = RATE, first_sample: int = 0
) -> list[FilteredEegPacket]:
    """Consecutive filtered packets of ``size`` samples, frame ids counting from 100."""
    return [
        filtered_packet(
            block,
            frame_id=100 + index,
            first_sample=first_sample + start,
            sample_rate=rate,
            channel_names=NAMES[: block.shape[0]],
            anchor_us=ANCHOR_US,
            monotonic_ns=1000 + index,
        )
        for index, (start, block) in enumerate(chunks(samples, size))
    ]


def spectra(plugin: BrainWaves, inputs: list[FilteredEegPacket]) -> list[FftPacket]:
    out = []
    for packet in inputs:
        for produced in plugin.process(packet):
            assert isinstance(produced, FftPacket)
            out.append(produced)
    return out


def test_alpha_rhythm_shows_as_a_10_hz_peak_and_alpha_power() -> None:
    plugin = BrainWaves()
    results = spectra(plugin, packets(eeg(2500), 32))
    assert len(results) == 1 + (2500 - WINDOW) // HOP
    assert plugin.spectra_computed == len(results)
    fft = results[-1]
    assert fft.window == "hann"
    assert fft.fft_size == WINDOW
    assert fft.sample_rate == RATE
    assert fft.channel_names == NAMES
    assert fft.freqs.dtype == fft.psd.dtype == fft.band_power.dtype == np.float32
    assert fft.psd.shape == (len(NAMES), fft.freqs.size)
    assert fft.band_power.shape == (len(NAMES), len(BAND_NAMES))
    assert fft.bands == BANDS
    assert fft.frame_id == fft.source_frame_id
    assert not fft.psd.flags.writeable
    assert fft.freqs[-1] == 100.0
    alpha, theta = BAND_NAMES.index("alpha"), BAND_NAMES.index("theta")
    for channel in ALPHA_CHANNELS:
        assert fft.freqs[np.argmax(fft.psd[channel])] == pytest.approx(10.0, abs=0.5)
        assert fft.band_power[channel, alpha] > fft.band_power[channel, theta]
        # µV²: a sine of amplitude A carries A²/2.
        assert fft.band_power[channel, alpha] == pytest.approx((20.0**2) / 2, rel=0.05)
    assert fft.band_power[1, alpha] < 5.0


def test_frame_ids_and_timestamps_name_the_window_s_last_sample() -> None:
    inputs = packets(eeg(1500), 32)
    results = spectra(BrainWaves(), inputs)
    timestamps = sample_timestamps(ANCHOR_US, 0, 1500, RATE)
    last_samples = [WINDOW - 1 + k * HOP for k in range(len(results))]
    assert [fft.source_frame_id for fft in results] == [100 + i // 32 for i in last_samples]
    assert [fft.timestamp for fft in results] == [int(timestamps[i]) for i in last_samples]
    assert [fft.monotonic_ns for fft in results] == [1000 + i // 32 for i in last_samples]


def test_all_spectra_share_one_frequency_array() -> None:
    results = spectra(BrainWaves(), packets(eeg(1000), 32))
    assert len(results) > 1
    assert all(fft.freqs is results[0].freqs for fft in results)


def test_unobserved_packets_compute_nothing_and_the_first_spectrum_comes_within_a_hop() -> None:
    plugin = BrainWaves()
    inputs = packets(eeg(1500), 10)
    for packet in inputs[:100]:
        plugin.process_unobserved(packet)
    assert plugin.spectra_computed == 0
    assert plugin.packets_seen == 100
    results: list[Event] = []
    for packet in inputs[100:]:
        produced = plugin.process(packet)
        if produced:
            results.extend(produced)
            break
    assert plugin.spectra_computed == 1
    (first,) = results
    assert isinstance(first, FftPacket)
    first_due = next(WINDOW + k * HOP for k in range(100) if WINDOW + k * HOP > 1000)
    assert first_due - 1000 <= HOP
    assert first.source_frame_id == 100 + (first_due - 1) // 10


def test_a_gap_restarts_the_window() -> None:
    plugin = BrainWaves()
    x = eeg(2000)
    assert spectra(plugin, packets(x[:, :600], 50))
    after_gap = packets(x[:, 700:], 50, first_sample=700)
    counts = [len(plugin.process(packet)) for packet in after_gap]
    assert counts.index(1) == WINDOW // 50 - 1


def test_a_new_rate_or_channel_count_rebuilds_the_spectrum() -> None:
    plugin = BrainWaves()
    spectra(plugin, packets(eeg(600), 50))
    faster = spectra(plugin, packets(eeg(2000, rate=500.0), 50, rate=500.0))
    assert faster[0].fft_size == 1000
    assert faster[0].sample_rate == 500.0
    fewer = spectra(plugin, packets(eeg(600)[:2], 50))
    assert fewer[0].psd.shape[0] == 2


def test_other_events_produce_nothing() -> None:
    plugin = BrainWaves()
    assert plugin.process(SystemEvent.now(SystemEventKind.SHUTDOWN)) == []
    plugin.process_unobserved(SystemEvent.now(SystemEventKind.SHUTDOWN))
    assert plugin.packets_seen == 0


def test_from_options() -> None:
    plugin = BrainWaves.from_options({"window_s": 1.0, "hop_s": 0.5, "detrend": "linear"})
    assert plugin.settings == SpectrumSettings(window_s=1.0, hop_s=0.5, detrend="linear")
    with pytest.raises(ConfigError, match=r"^window: unknown .*\(allowed: window_s, hop_s"):
        BrainWaves.from_options({"window": 2.0})
    with pytest.raises(ConfigError, match="^hop_s: "):
        BrainWaves.from_options({"hop_s": 0})


async def test_runs_on_the_bus_and_computes_only_while_someone_listens() -> None:
    bus = EventBus()
    plugin = BrainWaves()
    task = asyncio.create_task(plugin.run(PluginContext(bus, logging.getLogger("test"))))
    try:
        await wait_until(lambda: bus.has_subscribers(Topic.FILTERED_EEG))
        inputs = packets(eeg(1500), 25)
        for packet in inputs[:40]:
            bus.publish(packet)
        await wait_until(lambda: plugin.packets_seen == 40)
        assert plugin.spectra_computed == 0

        with bus.subscribe([Topic.FFT]) as outputs:
            for packet in inputs[40:]:
                bus.publish(packet)
            async with asyncio.timeout(scaled(5.0)):
                first = await outputs.get()
            await wait_until(lambda: plugin.packets_seen == len(inputs))
        assert isinstance(first, FftPacket)
        first_due = next(WINDOW + k * HOP for k in range(100) if WINDOW + k * HOP > 1000)
        assert first.source_frame_id == 100 + (first_due - 1) // 25
        assert plugin.spectra_computed == len(range(first_due, 1501, HOP))
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
