"""Tests of the voltage filter plugin: called directly, then running on a real bus."""

from __future__ import annotations

import asyncio
import logging

import numpy as np
import numpy.typing as npt
import pytest
from scipy import signal

from eegd.bus import EventBus
from eegd.dsp.filters import FilterSettings, design_sos, steady_state
from eegd.errors import ConfigError
from eegd.events import (
    EegPacket,
    FilteredEegPacket,
    SystemEvent,
    SystemEventKind,
    Topic,
)
from eegd.plugin import PluginContext
from eegd.plugins.voltage_filter import VoltageFilter
from tests.support.packets import chunks, eeg_packet
from tests.support.timing import scaled
from tests.support.waiting import wait_until

RATE = 250.0
NAMES = ("Fp1", "Fp2", "C3", "C4")
ANCHOR_US = 1_700_000_000_000_000


def signal_volts(n_samples: int, rate: float = RATE, seed: int = 0) -> npt.NDArray[np.float64]:
    """Four channels: a DC offset, a 10 Hz rhythm, 50 Hz mains and noise, in volts."""
    rng = np.random.default_rng(seed)
    t = np.arange(n_samples) / rate
    rhythm = 20e-6 * np.sin(2 * np.pi * 10 * t) + 30e-6 * np.sin(2 * np.pi * 50 * t)
    return 0.02 + rhythm + rng.normal(0, 3e-6, (len(NAMES), n_samples))


def packets(
    volts: npt.NDArray[np.float64], size: int, rate: float = RATE, first_frame: int = 0
) -> list[EegPacket]:
    """Split ``volts`` into consecutive packets of ``size`` samples."""
    return [
        eeg_packet(
            block,
            frame_id=first_frame + index,
            first_sample=start,
            sample_rate=rate,
            channel_names=NAMES[: block.shape[0]],
            anchor_us=ANCHOR_US,
        )
        for index, (start, block) in enumerate(chunks(volts, size))
    ]


def filtered_samples(plugin: VoltageFilter, inputs: list[EegPacket]) -> npt.NDArray[np.float32]:
    outputs = [plugin.process(packet) for packet in inputs]
    assert all(len(out) == 1 for out in outputs)
    samples = [out[0].samples for out in outputs if isinstance(out[0], FilteredEegPacket)]
    return np.concatenate(samples, axis=1)


def test_process_filters_each_packet_as_the_whole_signal_would_be() -> None:
    volts = signal_volts(2000)
    inputs = packets(volts, 32)
    plugin = VoltageFilter()
    first = plugin.process(inputs[0])
    assert len(first) == 1
    packet = first[0]
    assert isinstance(packet, FilteredEegPacket)
    assert packet.frame_id == inputs[0].frame_id
    assert packet.first_sample == inputs[0].first_sample
    assert packet.timestamps is inputs[0].timestamps
    assert packet.channel_names == NAMES
    assert packet.samples.dtype == np.float32
    assert not packet.samples.flags.writeable

    rest = filtered_samples(plugin, inputs[1:])
    out = np.concatenate([packet.samples, rest], axis=1)
    sos = design_sos(FilterSettings(), RATE)
    x = np.concatenate([p.volts for p in inputs], axis=1).astype(np.float64)
    expected, _ = signal.sosfilt(sos, x, axis=1, zi=steady_state(sos, x[:, 0]))
    assert np.max(np.abs(out - expected)) < 1e-6 * np.max(np.abs(expected))
    assert np.max(np.abs(out[:, 1000:])) < 40e-6


def test_other_events_produce_nothing() -> None:
    assert VoltageFilter().process(SystemEvent.now(SystemEventKind.SHUTDOWN)) == []


def test_from_options_builds_settings_with_zero_as_off() -> None:
    plugin = VoltageFilter.from_options(
        {"highpass_hz": 1, "lowpass_hz": 0, "notch_hz": 0, "order": 2, "notch_q": 25}
    )
    assert plugin.settings == FilterSettings(
        highpass_hz=1.0, lowpass_hz=None, notch_hz=None, order=2, notch_q=25.0
    )
    assert VoltageFilter.from_options({}).settings == FilterSettings()


def test_from_options_names_an_unknown_key_and_the_allowed_ones() -> None:
    with pytest.raises(
        ConfigError, match=r"^notch: unknown key \(allowed: highpass_hz, lowpass_hz"
    ):
        VoltageFilter.from_options({"notch": 60})


def test_false_is_not_zero_so_it_does_not_turn_a_stage_off() -> None:
    with pytest.raises(ConfigError, match=r"^highpass_hz: expected `float \| null`, got `bool`"):
        VoltageFilter.from_options({"highpass_hz": False})
    assert VoltageFilter.from_options({"highpass_hz": 0.0}).settings.highpass_hz is None


def test_a_huge_unknown_key_is_shortened_in_the_error() -> None:
    with pytest.raises(ConfigError) as caught:
        VoltageFilter.from_options({"x" * 100_000: 1})
    assert str(caught.value).startswith("x" * 37 + "...: unknown key (allowed: highpass_hz")
    assert len(str(caught.value)) < 200


def test_from_options_passes_on_a_bad_value_naming_it() -> None:
    with pytest.raises(ConfigError, match=r"^notch_hz: 55 is not allowed"):
        VoltageFilter.from_options({"notch_hz": 55})


def test_a_notch_above_nyquist_of_the_first_packet_falls_back_and_says_so(
    caplog: pytest.LogCaptureFixture,
) -> None:
    plugin = VoltageFilter(FilterSettings(notch_hz=60.0, lowpass_hz=None))
    (filtered,) = plugin.process(packets(signal_volts(100, rate=100.0), 32, rate=100.0)[0])
    assert plugin.settings == FilterSettings(highpass_hz=None, lowpass_hz=None, notch_hz=None)
    assert any("notch_hz: 60 Hz is not allowed" in record.getMessage() for record in caplog.records)
    assert filtered.samples.shape == (signal_volts(100, rate=100.0).shape[0], 32)


def mains_amplitude(samples: npt.NDArray[np.float32], hz: float) -> float:
    """Amplitude of the ``hz`` component of channel 0, by projection on a sine and cosine."""
    t = np.arange(samples.shape[1]) / RATE
    sin = np.sin(2 * np.pi * hz * t)
    cos = np.cos(2 * np.pi * hz * t)
    x = samples[0].astype(np.float64)
    return float(2 * np.hypot(x @ sin, x @ cos) / samples.shape[1])


def test_update_switches_the_notch_while_running() -> None:
    plugin = VoltageFilter(FilterSettings(lowpass_hz=None, notch_hz=50.0))
    inputs = packets(signal_volts(5000), 50)
    notched = filtered_samples(plugin, inputs[:50])
    plugin.update(FilterSettings(lowpass_hz=None, notch_hz=60.0))
    assert plugin.settings.notch_hz == 60.0
    passed = filtered_samples(plugin, inputs[50:])
    assert mains_amplitude(notched[:, 1000:], 50.0) < 1e-6
    assert mains_amplitude(passed[:, 500:], 50.0) == pytest.approx(30e-6, rel=0.05)


def test_update_to_settings_that_do_not_fit_the_rate_keeps_the_old_ones() -> None:
    plugin = VoltageFilter(FilterSettings(lowpass_hz=None, notch_hz=None))
    plugin.process(packets(signal_volts(100, rate=100.0), 32, rate=100.0)[0])
    with pytest.raises(ConfigError, match="^notch_hz: "):
        plugin.update(FilterSettings(lowpass_hz=None, notch_hz=60.0))
    assert plugin.settings.notch_hz is None


def test_a_gap_restarts_the_filter_fresh() -> None:
    volts = signal_volts(1000)
    inputs = packets(volts, 100)
    plugin = VoltageFilter()
    filtered_samples(plugin, inputs[:4])
    after_gap = filtered_samples(plugin, inputs[6:])
    fresh = filtered_samples(VoltageFilter(), inputs[6:])
    np.testing.assert_array_equal(after_gap, fresh)


def test_a_new_sample_rate_or_channel_count_rebuilds_the_filter() -> None:
    plugin = VoltageFilter()
    filtered_samples(plugin, packets(signal_volts(500), 50))
    faster = packets(signal_volts(1000, rate=500.0), 50, rate=500.0)
    np.testing.assert_array_equal(
        filtered_samples(plugin, faster), filtered_samples(VoltageFilter(), faster)
    )
    fewer = packets(signal_volts(500)[:2], 50)
    assert filtered_samples(plugin, fewer).shape == (2, 500)


async def test_runs_on_the_bus_and_publishes_filtered_packets() -> None:
    bus = EventBus()
    plugin = VoltageFilter()
    task = asyncio.create_task(plugin.run(PluginContext(bus, logging.getLogger("test"))))
    try:
        with bus.subscribe([Topic.FILTERED_EEG]) as outputs:
            await wait_until(lambda: bus.has_subscribers(Topic.RAW_EEG))
            inputs = packets(signal_volts(320), 32)
            for packet in inputs:
                bus.publish(packet)
            async with asyncio.timeout(scaled(5.0)):
                received = [await outputs.get() for _ in inputs]
        assert [p.frame_id for p in received if isinstance(p, FilteredEegPacket)] == list(
            range(len(inputs))
        )
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


def test_settings_that_do_not_fit_a_later_stream_fall_back_instead_of_stopping_the_filter() -> None:
    plugin = VoltageFilter()
    plugin.reconfigure({"lowpass_hz": 200})  # accepted before any stream: the rate is unknown
    out = plugin.process(eeg_packet(np.full((2, 32), 1e-5, dtype=np.float32), sample_rate=250.0))
    assert len(out) == 1
    assert plugin.settings == FilterSettings()  # the defaults, which fit 250 Hz
    assert plugin.reconfigure({})["lowpass_hz"] == 45.0
