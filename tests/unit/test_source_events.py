"""What sources report besides samples: events at a sample, and the end of a finite source."""

from __future__ import annotations

import asyncio
import threading
from types import MappingProxyType

import numpy as np
import pytest

from eegd.acquisition.loop import AcquisitionLoop
from eegd.bus import EventBus
from eegd.errors import SourceEnded, SourceError
from eegd.events import EegPacket, Event, MarkerEvent, SystemEvent, SystemEventKind, Topic
from eegd.sources.base import SampleBlock, Source, SourceEvent, SourceMarker
from eegd.timestamps import sample_timestamps
from tests.support.timing import scaled


class FiniteSource(Source):
    """``blocks`` blocks of 10 samples, with an annotation at sample 25, then the end; the
    block of samples 30..39 marks sample 28 (a marker stream runs behind the samples)."""

    def __init__(self, blocks: int = 5) -> None:
        self._blocks = blocks
        self._next = 0
        self.closed = False

    @property
    def sample_rate(self) -> float:
        return 100.0

    @property
    def channel_names(self) -> tuple[str, ...]:
        return ("A", "B")

    @property
    def physical_range(self) -> tuple[tuple[float, float], ...]:
        return ((-1e-3, 1e-3), (-2e-3, 2e-3))

    def open(self) -> None:
        self._next = 0

    def read(self, n_samples: int) -> SampleBlock:
        if self._next >= self._blocks * 10:
            raise SourceEnded("no more samples")
        first, self._next = self._next, self._next + 10
        events = tuple(
            SourceEvent(SystemEventKind.ANNOTATION, 25, MappingProxyType({"text": "blink"}))
            for _ in range(1)
            if first <= 25 < first + 10
        )
        markers = (SourceMarker(28, "blink", 0.25),) if first == 30 else ()
        raw = np.zeros((2, 10), dtype=np.int32)
        return SampleBlock(first, raw, raw.astype(np.float32), events=events, markers=markers)

    def close(self) -> None:
        self.closed = True


async def run_to_the_end(source: FiniteSource) -> tuple[AcquisitionLoop, list[Event]]:
    bus = EventBus()
    events = bus.subscribe([Topic.RAW_EEG, Topic.SYSTEM], maxsize=1000)
    loop = AcquisitionLoop(bus, lambda: source, batch_size=10)
    await asyncio.wait_for(loop.run(), timeout=scaled(10))
    seen = []
    while (event := events.get_nowait()) is not None:
        seen.append(event)
    return loop, seen


async def test_an_event_is_published_just_before_the_packet_holding_its_sample() -> None:
    loop, seen = await run_to_the_end(FiniteSource())
    session = loop.session
    assert session is not None
    kinds = [
        event.kind.value if isinstance(event, SystemEvent) else event.frame_id
        for event in seen
        if not (isinstance(event, SystemEvent) and event.kind is SystemEventKind.SOURCE_CONNECTED)
    ]
    assert kinds == [0, 1, "annotation", 2, 3, 4, "source_ended"]
    annotation = next(
        event
        for event in seen
        if isinstance(event, SystemEvent) and event.kind is SystemEventKind.ANNOTATION
    )
    assert dict(annotation.detail) == {
        "text": "blink",
        "session": session.id,
        "sample": 25,
        "frame_id": 2,
    }
    stamp = sample_timestamps(session.time_anchor_us, 25, 1, session.sample_rate)
    assert annotation.timestamp == int(stamp[0])


async def test_a_source_that_ends_finishes_the_task_and_says_so() -> None:
    source = FiniteSource(blocks=3)
    loop, seen = await run_to_the_end(source)
    assert source.closed
    packets = [event for event in seen if isinstance(event, EegPacket)]
    assert [packet.frame_id for packet in packets] == [0, 1, 2]
    ended = seen[-1]
    assert isinstance(ended, SystemEvent)
    assert ended.kind is SystemEventKind.SOURCE_ENDED
    assert ended.detail["samples"] == 30
    assert ended.detail["frames"] == 3
    assert not any(
        isinstance(event, SystemEvent) and event.kind is SystemEventKind.SOURCE_LOST
        for event in seen
    )
    assert loop.stats().samples_lost == 0


async def test_a_declared_physical_range_is_announced_with_the_session() -> None:
    loop, seen = await run_to_the_end(FiniteSource(blocks=1))
    connected = seen[0]
    assert isinstance(connected, SystemEvent)
    assert connected.kind is SystemEventKind.SOURCE_CONNECTED
    assert connected.detail["physical_range"] == [[-1e-3, 1e-3], [-2e-3, 2e-3]]
    assert loop.session is not None
    assert loop.session.physical_range == ((-1e-3, 1e-3), (-2e-3, 2e-3))


async def test_a_source_marker_is_a_marker_event_at_its_sample() -> None:
    bus = EventBus()
    markers = bus.subscribe([Topic.MARKER, Topic.RAW_EEG], maxsize=100)
    loop = AcquisitionLoop(bus, FiniteSource, batch_size=10)
    await asyncio.wait_for(loop.run(), timeout=scaled(10))
    seen = []
    while (event := markers.get_nowait()) is not None:
        seen.append(event)
    assert [type(event).__name__ for event in seen] == ["EegPacket"] * 3 + ["MarkerEvent"] + [
        "EegPacket"
    ] * 2  # just before the packet that carries it
    marker = seen[3]
    assert isinstance(marker, MarkerEvent)
    assert loop.session is not None
    assert (marker.label, marker.sample, marker.session) == ("blink", 28, loop.session.id)
    assert marker.duration_s == 0.25
    stamp = sample_timestamps(loop.session.time_anchor_us, 28, 1, loop.session.sample_rate)
    assert marker.timestamp == int(stamp[0])


class StampedSource(Source):
    """Blocks of 10 samples at 100 Hz of stream ``stream``, stamped by its own clock from
    ``start`` s; after two blocks the stream is lost. Reopened, it has gone on for
    ``away_s`` more of its clock, and ``then`` names the stream found this time."""

    def __init__(self, stream: str, start: float, away_s: float = 0.0, then: str = "") -> None:
        self._stream, self._start, self._next = stream, start, 0
        self._away_s, self._then = away_s, then or stream
        self._opens = 0

    @property
    def sample_rate(self) -> float:
        return 100.0

    @property
    def channel_names(self) -> tuple[str, ...]:
        return ("A",)

    @property
    def stream_id(self) -> str:
        return self._stream

    def open(self) -> None:
        self._opens += 1
        if self._opens > 1:
            self._start += self._next / 100 + self._away_s
            self._stream = self._then
        self._next = 0

    def read(self, n_samples: int) -> SampleBlock:
        if self._next >= 20:
            raise SourceError("the stream was lost")
        first, self._next = self._next, self._next + 10
        raw = np.zeros((1, 10), dtype=np.int32)
        stamp = self._start + first / 100
        return SampleBlock(first, raw, raw.astype(np.float32), stream_time=stamp)

    def close(self) -> None:
        pass


async def run_until_lost(loop: AcquisitionLoop) -> None:
    with pytest.raises(SourceError):
        await asyncio.wait_for(loop.run(), timeout=scaled(10))


async def test_a_stream_that_comes_back_goes_on_in_its_session_after_a_gap_of_its_time() -> None:
    bus = EventBus()
    events = bus.subscribe([Topic.SYSTEM], maxsize=100)
    loop = AcquisitionLoop(bus, lambda: StampedSource("amp", 50.0, away_s=0.75), batch_size=10)
    await run_until_lost(loop)
    first = loop.session
    await run_until_lost(loop)  # the supervisor's next run: the same source reopened
    assert first is not None
    assert loop.session is first
    lost = [
        event
        for event in iter(events.get_nowait, None)
        if isinstance(event, SystemEvent) and event.kind is SystemEventKind.SAMPLES_LOST
    ]
    assert [dict(event.detail) for event in lost] == [
        {
            "session": first.id,
            "first_sample": 20,
            "count": 75,
            "duration_s": 0.75,
            "cause": "outage",
            "next_frame_id": 2,
        }
    ]
    assert loop.stats().samples_lost == 75
    ledger = loop.session_ledger()
    assert ledger is not None
    assert (ledger.expected, ledger.acquired, ledger.lost) == (115, 40, 75)


async def test_a_different_stream_after_a_loss_is_a_new_session_and_no_gap() -> None:
    source = StampedSource("amp", 50.0, away_s=0.75, then="other amp")
    loop = AcquisitionLoop(EventBus(), lambda: source, batch_size=10)
    await run_until_lost(loop)
    first = loop.session
    await run_until_lost(loop)
    assert loop.session is not first
    assert loop.stats().samples_lost == 0
    assert loop.stats().sessions == 2


class QuietSource(Source):
    """A device that never sends: ``read`` waits until ``interrupt`` (or gives up)."""

    def __init__(self) -> None:
        self.reading = threading.Event()
        self._interrupted = threading.Event()
        self.read_was_interrupted = False
        self.closed = False

    @property
    def sample_rate(self) -> float:
        return 100.0

    @property
    def channel_names(self) -> tuple[str, ...]:
        return ("A",)

    def open(self) -> None:
        pass

    def read(self, n_samples: int) -> SampleBlock:
        self.reading.set()
        self.read_was_interrupted = self._interrupted.wait(timeout=scaled(20))
        raise SourceError("interrupted")

    def interrupt(self) -> None:
        self._interrupted.set()

    def close(self) -> None:
        self.closed = True


async def test_stopping_interrupts_a_read_that_waits_for_a_quiet_device() -> None:
    bus = EventBus()
    events = bus.subscribe([Topic.SYSTEM], maxsize=100)
    source = QuietSource()
    task = asyncio.create_task(AcquisitionLoop(bus, lambda: source, batch_size=10).run())
    await asyncio.to_thread(source.reading.wait, 10)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(task, timeout=scaled(30))
    assert source.read_was_interrupted
    assert source.closed
    seen = [event for event in iter(events.get_nowait, None) if isinstance(event, SystemEvent)]
    assert SystemEventKind.SOURCE_LOST not in [event.kind for event in seen]  # a stop
