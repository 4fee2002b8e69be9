"""Riding out source faults: a source that fails, stalls or sends garbage is reopened in the
same session, and every missing sample is a gap in the indices, an event and a ledger line.

The synthetic source paces itself by a manual ``FakeClock``: only the test moves it, and the
acquisition measures outages on it: a 2 s outage costs no real time.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from eegd.acquisition.ledger import GapCause
from eegd.acquisition.loop import AcquisitionLoop
from eegd.bus import EventBus, Subscription
from eegd.events import EegPacket, SystemEvent, SystemEventKind, Topic
from eegd.restart import RestartPolicy
from eegd.sources.faulty import FaultOptions, FaultySource
from eegd.sources.synthetic import SyntheticSettings, SyntheticSource
from eegd.supervisor import Supervisor
from tests.support.clocks import FakeClock
from tests.support.live import live_daemon
from tests.support.waiting import wait_until

RATE = 250
BATCH = 25
BLOCK_S = BATCH / RATE


@dataclass
class Rig:
    """An acquisition of a faulty stepped source under a supervisor, and what it published."""

    clock: FakeClock
    source: FaultySource
    loop: AcquisitionLoop
    supervisor: Supervisor
    packets: list[EegPacket] = field(default_factory=list)
    events: list[SystemEvent] = field(default_factory=list)

    def of(self, kind: SystemEventKind) -> list[SystemEvent]:
        return [event for event in self.events if event.kind is kind]

    async def step(self) -> None:
        """Let one more block's time come; wait until it (or a fault) has been published."""
        before = (len(self.packets), len(self.events))
        # A hair past the block's time, so float sums never fall just short of it.
        self.clock.set(self.clock.monotonic() + BLOCK_S + 1e-7)
        await wait_until(lambda: (len(self.packets), len(self.events)) != before, timeout=10)

    async def step_until(self, kind: SystemEventKind, limit: int = 200) -> SystemEvent:
        """Step block by block until an event of ``kind`` comes; return it."""
        seen = len(self.of(kind))
        for _ in range(limit):
            if len(self.of(kind)) > seen:
                return self.of(kind)[seen]
            await self.step()
        raise AssertionError(f"no {kind} within {limit} blocks")

    async def wait_for(self, kind: SystemEventKind, count: int) -> SystemEvent:
        await wait_until(lambda: len(self.of(kind)) >= count, timeout=10)
        return self.of(kind)[count - 1]


async def _drain(subscription: Subscription, rig: Rig) -> None:
    async for event in subscription:
        if isinstance(event, EegPacket):
            rig.packets.append(event)
        elif isinstance(event, SystemEvent):
            rig.events.append(event)


@contextlib.asynccontextmanager
async def rig(faults: FaultOptions, stall_timeout_s: float = 1.0) -> AsyncIterator[Rig]:
    clock = FakeClock(manual=True)
    inner = SyntheticSource(SyntheticSettings(channels=4, sample_rate=RATE), clock)
    source = FaultySource(inner, faults, clock)
    bus = EventBus()
    subscription = bus.subscribe([Topic.RAW_EEG, Topic.SYSTEM], maxsize=100_000)
    loop = AcquisitionLoop(
        bus,
        lambda: source,
        batch_size=BATCH,
        kind="faulty",
        stall_timeout_s=stall_timeout_s,
        monotonic=clock.monotonic,
        wall_clock=clock.wall_clock_us,
    )
    supervisor = Supervisor(
        bus, policy=RestartPolicy(initial_backoff=0.001, max_backoff=0.01).forever()
    )
    supervisor.add("acquisition", loop.run, on_pause=loop.end_session)
    state = Rig(clock, source, loop, supervisor)
    drain = asyncio.create_task(_drain(subscription, state))
    supervisor.start()
    try:
        await state.wait_for(SystemEventKind.SOURCE_CONNECTED, 1)
        yield state
    finally:
        drain.cancel()  # what the test saw is all it asserts on
        with contextlib.suppress(asyncio.CancelledError):
            await drain
        clock.run_free()
        await supervisor.stop()


async def test_a_source_that_fails_three_times_resumes_three_times_with_its_gaps() -> None:
    down_s = 0.5
    async with rig(FaultOptions(fail_every=10, fail_times=3, down_s=down_s)) as r:
        outages: list[tuple[int, int]] = []  # (first missing sample, count) per outage
        for n in range(1, 4):
            lost = await r.step_until(SystemEventKind.SOURCE_LOST)
            assert "injected failure" in lost.detail["error"]
            expected = r.loop.session_ledger().expected  # type: ignore[union-attr]
            r.clock.set(r.clock.monotonic() + down_s)  # the device comes back after down_s
            back = await r.wait_for(SystemEventKind.SOURCE_CONNECTED, n + 1)
            assert back.detail["resumed"] is True
            # Placed where the clock says: the session began at 0 on it.
            assert back.detail["first_sample"] == round(r.clock.monotonic() * RATE)
            outages.append((expected, back.detail["first_sample"] - expected))
        for _ in range(5):
            await r.step()
        ledger = r.loop.session_ledger()
        assert ledger is not None

    connected = r.of(SystemEventKind.SOURCE_CONNECTED)
    assert len({event.detail["session"] for event in connected}) == 1  # one session throughout
    assert len(r.of(SystemEventKind.SOURCE_LOST)) == 3
    announced = [
        (e.detail["first_sample"], e.detail["count"]) for e in r.of(SystemEventKind.SAMPLES_LOST)
    ]
    assert announced == outages
    assert all(count >= 125 for _, count in outages)  # at least 0.5 s at 250 Hz
    # The packets' own indices show the same gaps, and frame ids none.
    assert [p.frame_id for p in r.packets] == list(range(len(r.packets)))
    jumps = [
        (before.first_sample + BATCH, after.first_sample - before.first_sample - BATCH)
        for before, after in zip(r.packets, r.packets[1:], strict=False)
        if after.first_sample != before.first_sample + BATCH
    ]
    assert jumps == outages
    assert [(gap.first_sample, gap.count) for gap in ledger.gaps] == outages
    assert {gap.cause for gap in ledger.gaps} == {GapCause.OUTAGE}
    assert ledger.expected == ledger.acquired + ledger.lost
    assert ledger.lost == sum(count for _, count in outages)
    assert ledger.outages == 3
    assert r.loop.stats().sessions == 1


async def test_a_pause_after_an_outage_ends_the_session_instead() -> None:
    async with rig(FaultOptions(fail_every=3, fail_times=1, down_s=0.5)) as r:
        await r.step_until(SystemEventKind.SOURCE_LOST)
        async with r.supervisor.paused("acquisition"):  # a self-test while it is away
            r.clock.set(r.clock.monotonic() + 0.5)  # the device is back meanwhile
        await r.wait_for(SystemEventKind.SOURCE_CONNECTED, 2)
    first, second = r.of(SystemEventKind.SOURCE_CONNECTED)
    assert second.detail["session"] != first.detail["session"]
    assert "resumed" not in second.detail
    assert not r.of(SystemEventKind.SAMPLES_LOST)  # a new session is no gap
    assert r.loop.stats().sessions == 2


async def test_a_source_silent_for_2_s_is_reopened_and_the_ledger_shows_a_2_s_gap() -> None:
    async with rig(FaultOptions(silence_every=5, silence_times=1, silence_s=2.0)) as r:
        for _ in range(4):
            await r.step()
        silent_from = r.clock.monotonic()
        # The reader thread begins the 5th read, the silent one, in its own time.
        await wait_until(lambda: r.source.away_until > silent_from)
        assert r.source.away_until == silent_from + 2.0
        # Past the stall limit (1 s beyond the block's length): the stall is found, the
        # source closed; reopening fails while the device is silent.
        r.clock.set(silent_from + 1.0 + 2 * BLOCK_S)
        lost = await r.wait_for(SystemEventKind.SOURCE_LOST, 1)
        assert "stalled" in lost.detail["error"]
        # Closed before time moves on: the reader thread's next read then ends at once
        # instead of waiting, on this stepped clock, for a block that never comes.
        await wait_until(lambda: not r.source.is_open)
        r.clock.set(silent_from + 2.0)
        await r.wait_for(SystemEventKind.SOURCE_CONNECTED, 2)
        for _ in range(3):
            await r.step()
        ledger = r.loop.session_ledger()
        assert ledger is not None
    (gap,) = ledger.gaps
    assert abs(gap.duration_s - 2.0) <= BLOCK_S
    assert gap.cause is GapCause.OUTAGE
    (announced,) = r.of(SystemEventKind.SAMPLES_LOST)
    assert announced.detail["count"] == gap.count
    assert announced.detail["duration_s"] == gap.duration_s
    assert ledger.expected == ledger.acquired + ledger.lost


async def test_a_short_silence_is_a_gap_without_a_reopen() -> None:
    async with rig(FaultOptions(silence_every=3, silence_times=1, silence_s=0.4)) as r:
        for _ in range(2):
            await r.step()
        await wait_until(lambda: r.source.away_until > r.clock.monotonic())  # the 3rd read
        r.clock.set(r.clock.monotonic() + 0.4 + BLOCK_S + 1e-7)  # the silence, then a block
        await r.wait_for(SystemEventKind.SAMPLES_LOST, 1)
        ledger = r.loop.session_ledger()
        assert ledger is not None
    (gap,) = ledger.gaps
    assert gap.count == 100
    assert gap.cause is GapCause.SOURCE
    assert not r.of(SystemEventKind.SOURCE_LOST)


async def test_malformed_blocks_are_rejected_counted_and_never_passed_on() -> None:
    async with rig(FaultOptions(wrong_shape_every=4, nan_every=6)) as r:
        for _ in range(13):  # the 12th read's rejection is a gap once the 13th comes
            await r.step()
        ledger = r.loop.session_ledger()
        assert ledger is not None
    rejected = r.of(SystemEventKind.BLOCK_REJECTED)
    assert [event.detail["first_sample"] for event in rejected] == [75, 125, 175, 275]
    assert all(p.volts.shape == (4, BATCH) for p in r.packets)
    assert all(bool(abs(p.volts).max() < 1) for p in r.packets)  # no NaN got through
    assert ledger.blocks_rejected == 4
    assert [(gap.first_sample, gap.count) for gap in ledger.gaps] == [
        (75, 25),
        (125, 25),
        (175, 25),
        (275, 25),
    ]
    assert {gap.cause for gap in ledger.gaps} == {GapCause.REJECTED}
    assert ledger.expected == ledger.acquired + ledger.lost


async def test_the_faulty_kind_from_the_configuration_shows_in_the_status_ledger() -> None:
    toml = """
[source]
kind = "faulty"
batch_size = 8
[source.faulty]
wrong_shape_every = 2
"""
    async with live_daemon(toml) as live:
        acquisition = live.daemon.acquisition
        await wait_until(lambda: len(acquisition.session_ledger().gaps) >= 2)  # type: ignore[union-attr]
        ledger = live.daemon.status()["ledger"]
    assert ledger["blocks_rejected"] >= 2
    assert ledger["consistent"] is True
    session = ledger["session"]
    assert session["gaps"][0] == {
        "first_sample": 8,
        "count": 8,
        "duration_s": 8 / 250,
        "cause": "rejected",
    }
    assert session["expected"] == session["acquired"] + session["lost"]
    assert ledger["sessions"][-1]["id"] == session["id"]
