"""The acquisition's clock: stamps from the session's clock model, wall-clock steps announced.

The source here paces itself on a fake monotonic clock (each read moves it on by the block's
duration, as a device delivering on time would), and the wall clock is the test's own: it
runs with the monotonic one until the test steps it, as NTP does on a Pi without a
real-time clock.
"""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from eegd.acquisition.loop import AcquisitionLoop
from eegd.bus import EventBus
from eegd.events import EegPacket, SystemEvent, SystemEventKind, Topic
from eegd.sources.base import SampleBlock, Source
from tests.support.clocks import FakeClock
from tests.support.timing import scaled

RATE = 250.0
BATCH = 25  # 0.1 s
EPOCH_US = 1_790_000_000_000_000
STEP_US = -3_600_000_000  # the wall clock set back an hour


class OnTimeSource(Source):
    """Blocks of zeros, each arriving exactly when its last sample's period ends; the wall
    clock steps as read ``step_at`` begins."""

    def __init__(self, clocks: FakeClock, step_at: int) -> None:
        self._clocks = clocks
        self._step_at = step_at
        self._next = 0

    @property
    def sample_rate(self) -> float:
        return RATE

    @property
    def channel_names(self) -> tuple[str, ...]:
        return ("Cz",)

    def open(self) -> None:
        pass

    def read(self, n_samples: int) -> SampleBlock:
        if self._next // n_samples == self._step_at:
            self._clocks.step_wall_clock(STEP_US)
        self._clocks.now += n_samples / RATE
        raw = np.zeros((1, n_samples), dtype=np.int32)
        block = SampleBlock(self._next, raw, raw.astype(np.float32))
        self._next += n_samples
        return block

    def close(self) -> None:
        pass


async def test_a_wall_clock_step_is_announced_and_moves_no_stamp() -> None:
    clocks = FakeClock(50.0, epoch_us=EPOCH_US)  # the source moves it; the wall follows
    bus = EventBus()
    subscription = bus.subscribe([Topic.RAW_EEG, Topic.SYSTEM], maxsize=10_000)
    loop = AcquisitionLoop(
        bus,
        lambda: OnTimeSource(clocks, step_at=20),
        batch_size=BATCH,
        monotonic=clocks.monotonic,
        wall_clock=clocks.wall_clock_us,
    )
    task = asyncio.create_task(loop.run())
    packets: list[EegPacket] = []
    steps: list[SystemEvent] = []
    async with asyncio.timeout(scaled(10)):
        while len(packets) < 40:
            event = await subscription.get()
            if isinstance(event, EegPacket):
                packets.append(event)
            elif isinstance(event, SystemEvent) and event.kind is SystemEventKind.CLOCK_STEPPED:
                steps.append(event)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    session = loop.session
    assert session is not None
    # The session began at monotonic 50 s, i.e. EPOCH + 50 s on the wall clock then, and
    # every sample lies one period after the one before, before and after the step.
    start_us = EPOCH_US + 50_000_000
    stamps = np.concatenate([packet.timestamps for packet in packets]).astype(np.int64)
    np.testing.assert_array_equal(stamps, start_us + np.arange(40 * BATCH) * 4000)
    (step,) = steps
    assert step.detail["session"] == session.id
    assert step.detail["step_us"] == STEP_US
    assert step.detail["after_us"] - step.detail["before_us"] == STEP_US
    assert step.detail["before_us"] == EPOCH_US + step.detail["monotonic_us"]
    assert step.detail["sample"] == 21 * BATCH  # confirmed by the block after the step
    assert step.detail["stamp_us"] == start_us + 21 * BATCH * 4000
    assert loop.stats().clock_steps == 1
    fit = loop.stats().clock
    assert fit is not None
    assert fit.rejected == 0
    assert fit.drift_ppm == pytest.approx(0.0, abs=1e-6)
