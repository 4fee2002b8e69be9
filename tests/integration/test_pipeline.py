"""The whole pipeline at real-time pace: source → bus → voltage_filter → brain_waves."""

from __future__ import annotations

import asyncio
import time

import numpy as np

from eegd.bus import Subscription
from eegd.config import load_config
from eegd.daemon import Daemon
from eegd.events import EegPacket, Event, FftPacket, FilteredEegPacket, Topic
from eegd.supervisor import TaskState


async def test_ten_seconds_real_time_contiguous_and_lossless() -> None:
    daemon = Daemon(load_config())
    raw = daemon.bus.subscribe([Topic.RAW_EEG], maxsize=10_000)
    filtered = daemon.bus.subscribe([Topic.FILTERED_EEG], maxsize=10_000)
    spectra = daemon.bus.subscribe([Topic.FFT], maxsize=10_000)
    started = time.monotonic()
    daemon.start()
    await asyncio.sleep(10)
    elapsed = time.monotonic() - started
    assert all(status.state is TaskState.RUNNING for status in daemon.supervisor.statuses())
    await daemon.stop()

    raw_ids = [event.frame_id for event in drain(raw) if isinstance(event, EegPacket)]
    filtered_events = [event for event in drain(filtered) if isinstance(event, FilteredEegPacket)]
    fft_events = [event for event in drain(spectra) if isinstance(event, FftPacket)]
    assert raw_ids == list(range(len(raw_ids)))
    assert [event.frame_id for event in filtered_events] == raw_ids[: len(filtered_events)]
    assert len(filtered_events) >= len(raw_ids) - 2
    # Paced in real time: 250 Hz in batches of 32 is 7.8 frames/s.
    expected = elapsed * 250 / 32
    assert 0.8 * expected <= len(raw_ids) <= expected + 2
    # A spectrum every 0.25 s once the 2 s window is full.
    assert len(fft_events) >= 25
    source_ids = [event.source_frame_id for event in fft_events]
    assert source_ids == sorted(source_ids)
    assert raw.dropped == filtered.dropped == spectra.dropped == 0
    assert daemon.bus.stats().dropped == 0
    assert daemon.acquisition.stats().samples_lost == 0
    samples = np.concatenate([event.samples for event in filtered_events], axis=1)
    assert np.all(np.isfinite(samples))


def drain(subscription: Subscription) -> list[Event]:
    events = []
    while (event := subscription.get_nowait()) is not None:
        events.append(event)
    return events
