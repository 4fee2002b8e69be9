"""The acquisition loop: packets, frame ids, timestamps, gaps and source failures."""

from __future__ import annotations

import asyncio
import threading
from dataclasses import replace

import numpy as np
import pytest

from eegd.acquisition.loop import AcquisitionLoop
from eegd.bus import EventBus
from eegd.errors import SourceError
from eegd.events import EegPacket, SystemEvent, SystemEventKind, Topic
from eegd.sources.base import SampleBlock, Source
from eegd.timestamps import sample_timestamps
from tests.support.timing import scaled


class CountingSource(Source):
    """A source whose sample i on channel c is the count ``i * 10 + c``.

    ``skip`` maps a read number to samples the "device" loses before it; ``fail_after``
    makes the read with that number raise, as a disconnected device does.
    """

    def __init__(
        self, channels: int = 3, skip: dict[int, int] | None = None, fail_after: int | None = None
    ) -> None:
        self._channels = channels
        self._skip = skip or {}
        self._fail_after = fail_after
        self._next = 0
        self._reads = 0
        self.opened = self.closed = False

    @property
    def sample_rate(self) -> float:
        return 500.0

    @property
    def channel_names(self) -> tuple[str, ...]:
        return tuple(f"E{i}" for i in range(self._channels))

    def open(self) -> None:
        self.opened = True

    def read(self, n_samples: int) -> SampleBlock:
        if self._reads == self._fail_after:
            raise SourceError("device unplugged")
        self._next += self._skip.get(self._reads, 0)
        self._reads += 1
        index = np.arange(self._next, self._next + n_samples)
        raw = (index[None, :] * 10 + np.arange(self._channels)[:, None]).astype(np.int32)
        block = SampleBlock(self._next, raw, raw.astype(np.float32) * 1e-6)
        self._next += n_samples
        return block

    def close(self) -> None:
        self.closed = True


async def collect(bus: EventBus, loop: AcquisitionLoop, frames: int) -> list[EegPacket]:
    subscription = bus.subscribe([Topic.RAW_EEG], maxsize=10_000)
    task = asyncio.create_task(loop.run())
    packets: list[EegPacket] = []
    async with asyncio.timeout(scaled(5)):
        while len(packets) < frames:
            event = await subscription.get()
            assert isinstance(event, EegPacket)
            packets.append(event)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    return packets


async def test_packets_have_contiguous_ids_samples_and_timestamps() -> None:
    bus = EventBus()
    system = bus.subscribe([Topic.SYSTEM], maxsize=100)
    source = CountingSource()
    loop = AcquisitionLoop(bus, lambda: source, batch_size=16)
    packets = await collect(bus, loop, frames=50)
    assert [packet.frame_id for packet in packets] == list(range(50))
    assert [packet.first_sample for packet in packets] == [16 * i for i in range(50)]
    session = loop.session
    assert session is not None
    for packet in packets:
        assert packet.raw.shape == (3, 16)
        assert packet.channel_names == ("E0", "E1", "E2")
        expected = sample_timestamps(session.time_anchor_us, packet.first_sample, 16, 500.0)
        np.testing.assert_array_equal(packet.timestamps, expected)
        np.testing.assert_array_equal(packet.volts, packet.raw.astype(np.float32) * 1e-6)
    all_stamps = np.concatenate([packet.timestamps for packet in packets])
    np.testing.assert_array_equal(np.diff(all_stamps.astype(np.int64)) // 1000, 2)
    assert source.closed
    connected = system.get_nowait()
    assert isinstance(connected, SystemEvent)
    assert connected.kind is SystemEventKind.SOURCE_CONNECTED
    assert connected.detail["session"] == session.id
    assert loop.stats().frames_published >= 50


async def test_a_gap_in_the_source_is_reported_not_hidden() -> None:
    bus = EventBus()
    system = bus.subscribe([Topic.SYSTEM], maxsize=100)
    loop = AcquisitionLoop(bus, lambda: CountingSource(skip={3: 7}), batch_size=10)
    packets = await collect(bus, loop, frames=6)
    assert [packet.frame_id for packet in packets] == list(range(6))
    assert packets[3].first_sample == packets[2].first_sample + 10 + 7
    kinds = []
    while (event := system.get_nowait()) is not None:
        assert isinstance(event, SystemEvent)
        kinds.append(event.kind)
        if event.kind is SystemEventKind.SAMPLES_LOST:
            assert event.detail["count"] == 7
            assert event.detail["first_sample"] == 30
    assert SystemEventKind.SAMPLES_LOST in kinds
    assert loop.stats().samples_lost == 7


async def test_a_failing_source_raises_reports_and_is_closed() -> None:
    bus = EventBus()
    system = bus.subscribe([Topic.SYSTEM], maxsize=100)
    source = CountingSource(fail_after=2)
    loop = AcquisitionLoop(bus, lambda: source, batch_size=8)
    with pytest.raises(SourceError, match="unplugged"):
        await asyncio.wait_for(loop.run(), timeout=scaled(5))
    assert source.closed
    kinds = []
    while (event := system.get_nowait()) is not None:
        assert isinstance(event, SystemEvent)
        kinds.append(event.kind)
    assert kinds[0] is SystemEventKind.SOURCE_CONNECTED
    assert kinds[-1] is SystemEventKind.SOURCE_LOST


async def test_each_run_is_a_new_session_with_frame_ids_from_zero() -> None:
    bus = EventBus()
    loop = AcquisitionLoop(bus, CountingSource, batch_size=4)
    first = await collect(bus, loop, frames=3)
    first_session = loop.session
    second = await collect(bus, loop, frames=3)
    assert first[0].frame_id == second[0].frame_id == 0
    assert loop.session is not None
    assert first_session is not None
    assert loop.session.id != first_session.id
    assert loop.stats().sessions == 2


class DriverFailure(CountingSource):
    """A source whose driver raises its own exception type, as vendor SDKs do."""

    def __init__(self, fail_in: str) -> None:
        super().__init__()
        self._fail_in = fail_in

    def open(self) -> None:
        super().open()
        if self._fail_in == "open":
            raise RuntimeError("board not found")

    def read(self, n_samples: int) -> SampleBlock:
        if self._fail_in == "read":
            raise ValueError("checksum mismatch")
        return super().read(n_samples)


@pytest.mark.parametrize(("fail_in", "original"), [("open", RuntimeError), ("read", ValueError)])
async def test_driver_errors_become_source_errors_naming_the_kind(
    fail_in: str, original: type[Exception]
) -> None:
    bus = EventBus()
    system = bus.subscribe([Topic.SYSTEM], maxsize=100)
    loop = AcquisitionLoop(bus, lambda: DriverFailure(fail_in), batch_size=8, kind="toyboard")
    with pytest.raises(SourceError, match=rf"^toyboard source: {fail_in} failed: ") as caught:
        await asyncio.wait_for(loop.run(), timeout=scaled(5))
    assert isinstance(caught.value.__cause__, original)
    events = []
    while (event := system.get_nowait()) is not None:
        assert isinstance(event, SystemEvent)
        events.append(event)
    if fail_in == "read":
        lost = events[-1]
        assert lost.kind is SystemEventKind.SOURCE_LOST
        assert lost.detail["source"] == "toyboard"
        assert "checksum mismatch" in lost.detail["error"]


class StampedSource(CountingSource):
    """Blocks stamped with the source's own clock (``stream_time``); ``away_s`` of it pass
    while it is closed, as an LSL stream keeps running while the inlet is gone."""

    def __init__(self, away_s: float) -> None:
        super().__init__(fail_after=3)
        self._away_s = away_s
        self._base = 100.0
        self._opens = 0

    def open(self) -> None:
        super().open()
        self._opens += 1
        if self._opens > 1:
            self._base += self._next / self.sample_rate + self._away_s
            self._next = 0
            self._fail_after = None

    def read(self, n_samples: int) -> SampleBlock:
        block = super().read(n_samples)
        return replace(block, stream_time=self._base + block.first_sample / self.sample_rate)


async def test_a_reopened_source_with_its_own_clock_is_placed_by_it() -> None:
    bus = EventBus()
    data = bus.subscribe([Topic.RAW_EEG, Topic.SYSTEM], maxsize=1000)
    source = StampedSource(away_s=0.2)
    loop = AcquisitionLoop(bus, lambda: source, batch_size=10)
    with pytest.raises(SourceError):
        await asyncio.wait_for(loop.run(), timeout=scaled(5))
    task = asyncio.create_task(loop.run())  # the supervisor's restart: the same session
    packets: list[EegPacket] = []
    async with asyncio.timeout(scaled(5)):
        while len(packets) < 5:
            event = await data.get()
            if isinstance(event, EegPacket):
                packets.append(event)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    # 0.2 s at 500 Hz is 100 samples between the end of the third block and the fourth.
    assert [packet.first_sample for packet in packets] == [0, 10, 20, 130, 140]
    assert [packet.frame_id for packet in packets] == list(range(5))
    ledger = loop.session_ledger()
    assert ledger is not None
    assert [(gap.first_sample, gap.count) for gap in ledger.gaps] == [(30, 100)]
    assert loop.stats().sessions == 1


class SlowToOpen(CountingSource):
    """A source whose ``open`` waits (in its thread) until the test lets it finish."""

    def __init__(self) -> None:
        super().__init__()
        self.opening = threading.Event()
        self.proceed = threading.Event()

    def open(self) -> None:
        if self.opened and not self.closed:
            raise SourceError("already open")
        self.opening.set()
        self.proceed.wait(timeout=scaled(30))
        self.opened, self.closed = True, False


async def test_a_run_cancelled_while_the_source_opens_closes_it_so_the_next_run_opens_it() -> None:
    source = SlowToOpen()
    loop = AcquisitionLoop(EventBus(), lambda: source, batch_size=10)
    run = asyncio.create_task(loop.run())
    await asyncio.to_thread(source.opening.wait, 30)
    run.cancel()  # a pause (self-test) or a stop while the device is opening
    source.proceed.set()
    with pytest.raises(asyncio.CancelledError):
        await run
    assert (source.opened, source.closed) == (True, True)
    next_session = asyncio.create_task(loop.next_session())
    again = asyncio.create_task(loop.run())
    async with asyncio.timeout(scaled(10)):
        await next_session
    again.cancel()
    with pytest.raises(asyncio.CancelledError):
        await again
