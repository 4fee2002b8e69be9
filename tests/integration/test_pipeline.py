"""The whole pipeline paced by the source's clock: source → bus → voltage_filter → brain_waves."""

from __future__ import annotations

import numpy as np

from eegd.bus import Subscription
from eegd.events import EegPacket, Event, FftPacket, FilteredEegPacket, Topic
from eegd.supervisor import TaskState
from tests.support.live import live_daemon
from tests.support.waiting import wait_until

#: Ten seconds at 250 Hz in batches of 32: the packets whose time has come.
TEN_SECONDS = 10 * 250 // 32


async def test_ten_seconds_paced_contiguous_and_lossless() -> None:
    async with live_daemon(stepped=True) as live:
        daemon = live.daemon
        raw = daemon.bus.subscribe([Topic.RAW_EEG], maxsize=10_000)
        filtered = daemon.bus.subscribe([Topic.FILTERED_EEG], maxsize=10_000)
        spectra = daemon.bus.subscribe([Topic.FFT], maxsize=10_000)
        for _ in range(TEN_SECONDS // 6):
            await live.release(6)  # 0.77 s at a time, as a source that keeps its pace
        await live.release(TEN_SECONDS % 6)
        assert live.frames == TEN_SECONDS  # nothing before its time
        # A spectrum every 0.25 s once the 2 s window is full (the plugin's last hop may lag).
        await wait_until(lambda: daemon.bus.stats().topics[Topic.FFT].published >= 25)
        assert all(status.state is TaskState.RUNNING for status in daemon.supervisor.statuses())
        assert raw.dropped == filtered.dropped == spectra.dropped == 0
        assert daemon.bus.stats().dropped == 0
        assert daemon.acquisition.stats().samples_lost == 0
        # Stopping lets the source run free; what it floods in then is not the subject.

    raw_ids = [event.frame_id for event in drain(raw) if isinstance(event, EegPacket)]
    filtered_events = [event for event in drain(filtered) if isinstance(event, FilteredEegPacket)]
    fft_events = [event for event in drain(spectra) if isinstance(event, FftPacket)]
    assert raw_ids[:TEN_SECONDS] == list(range(TEN_SECONDS))
    assert raw_ids == list(range(len(raw_ids)))  # more may have come while stopping
    assert [event.frame_id for event in filtered_events] == raw_ids[: len(filtered_events)]
    assert len(filtered_events) >= TEN_SECONDS
    assert len(fft_events) >= 25
    source_ids = [event.source_frame_id for event in fft_events]
    assert source_ids == sorted(source_ids)
    samples = np.concatenate([event.samples for event in filtered_events], axis=1)
    assert np.all(np.isfinite(samples))


def drain(subscription: Subscription) -> list[Event]:
    events = []
    while (event := subscription.get_nowait()) is not None:
        events.append(event)
    return events
