"""The event bus: shared read-only arrays, bounded subscriptions, drop policies."""

from __future__ import annotations

import asyncio
import inspect

import numpy as np
import pytest

from eegd.bus import DropPolicy, EventBus
from eegd.events import EegPacket, Event, SystemEvent, SystemEventKind, Topic
from tests.support.packets import eeg_packet
from tests.support.timing import scaled


def packet(frame_id: int, channels: int = 2, samples: int = 4) -> EegPacket:
    raw = np.arange(channels * samples, dtype=np.int32).reshape(channels, samples) + frame_id
    return eeg_packet(
        raw.astype(np.float32) * 1e-6,
        raw=raw,
        frame_id=frame_id,
        first_sample=frame_id * samples,
        timestamps=np.arange(samples, dtype=np.uint64),
        monotonic_ns=0,
    )


async def test_subscribers_share_the_same_read_only_array() -> None:
    bus = EventBus()
    first = bus.subscribe([Topic.RAW_EEG])
    second = bus.subscribe([Topic.RAW_EEG])
    bus.publish(packet(0))
    a, b = await first.get(), await second.get()
    assert isinstance(a, EegPacket)
    assert isinstance(b, EegPacket)
    assert a.volts is b.volts
    with pytest.raises(ValueError, match="read-only"):
        a.volts[0, 0] = 1.0
    with pytest.raises(ValueError, match="WRITEABLE"):
        a.volts.flags.writeable = True
    with pytest.raises(ValueError, match="read-only"):
        b.raw[0, 0] = 1


def test_packet_takes_over_an_owned_array_without_copying() -> None:
    volts = np.zeros((2, 4), dtype=np.float32)
    built = EegPacket.create(
        frame_id=0,
        first_sample=0,
        timestamps=np.zeros(4, dtype=np.uint64),
        raw=np.zeros((2, 4), dtype=np.int32),
        volts=volts,
        sample_rate=250,
        channel_names=("a", "b"),
    )
    assert np.shares_memory(built.volts, volts)
    assert not volts.flags.writeable


def test_packets_compare_field_by_field() -> None:
    assert packet(3) == packet(3)
    assert packet(3) != packet(4)


async def test_full_drop_oldest_keeps_the_newest_and_counts_drops() -> None:
    bus = EventBus()
    subscription = bus.subscribe([Topic.RAW_EEG], maxsize=5, policy=DropPolicy.DROP_OLDEST)
    for frame_id in range(12):
        bus.publish(packet(frame_id))
    kept = [subscription.get_nowait() for _ in range(len(subscription))]
    assert [event.frame_id for event in kept if isinstance(event, EegPacket)] == [
        7,
        8,
        9,
        10,
        11,
    ]
    assert subscription.dropped == 7
    assert bus.stats().topics[Topic.RAW_EEG].dropped == 7


async def test_full_drop_newest_keeps_the_oldest() -> None:
    bus = EventBus()
    subscription = bus.subscribe([Topic.RAW_EEG], maxsize=3, policy=DropPolicy.DROP_NEWEST)
    for frame_id in range(5):
        bus.publish(packet(frame_id))
    kept = [subscription.get_nowait() for _ in range(len(subscription))]
    assert [event.frame_id for event in kept if isinstance(event, EegPacket)] == [0, 1, 2]
    assert subscription.dropped == 2


async def test_drops_on_one_subscription_do_not_touch_another() -> None:
    bus = EventBus()
    slow = bus.subscribe([Topic.RAW_EEG], maxsize=1)
    roomy = bus.subscribe([Topic.RAW_EEG], maxsize=100)
    for frame_id in range(10):
        bus.publish(packet(frame_id))
    assert slow.dropped == 9
    assert roomy.dropped == 0
    assert len(roomy) == 10


async def test_closed_subscription_is_removed_and_publishing_still_works() -> None:
    bus = EventBus()
    gone = bus.subscribe([Topic.RAW_EEG, Topic.SYSTEM])
    staying = bus.subscribe([Topic.RAW_EEG])
    gone.close()
    assert bus.stats().topics[Topic.RAW_EEG].subscribers == 1
    assert not bus.has_subscribers(Topic.SYSTEM)
    bus.publish(packet(0))
    assert len(gone) == 0
    assert len(staying) == 1


async def test_topics_are_routed_only_to_their_subscribers() -> None:
    bus = EventBus()
    system = bus.subscribe([Topic.SYSTEM])
    bus.publish(packet(0))
    bus.publish(SystemEvent.now(SystemEventKind.SHUTDOWN))
    assert len(system) == 1
    assert bus.has_subscribers(Topic.SYSTEM)
    assert not bus.has_subscribers(Topic.FFT)


def test_publish_is_a_plain_function() -> None:
    assert not inspect.iscoroutinefunction(EventBus.publish)
    assert not inspect.iscoroutinefunction(EventBus().publish)


async def test_publishing_to_a_thousand_full_subscriptions_counts_a_thousand_drops() -> None:
    bus = EventBus()
    subscriptions = [bus.subscribe([Topic.RAW_EEG], maxsize=1) for _ in range(1000)]
    bus.publish(packet(0))
    bus.publish(packet(1))
    assert sum(subscription.dropped for subscription in subscriptions) == 1000
    assert bus.stats().topics[Topic.RAW_EEG].dropped == 1000


async def test_iteration_waits_for_events_and_ends_after_close() -> None:
    bus = EventBus()
    received: list[int] = []

    async def consume() -> None:
        with bus.subscribe([Topic.RAW_EEG]) as subscription:
            consumer_ready.set()
            async for event in subscription:
                assert isinstance(event, EegPacket)
                received.append(event.frame_id)
                if event.frame_id == 2:
                    subscription.close()

    consumer_ready = asyncio.Event()
    task = asyncio.create_task(consume())
    await consumer_ready.wait()
    for frame_id in range(5):
        bus.publish(packet(frame_id))
        await asyncio.sleep(0)
    await asyncio.wait_for(task, timeout=scaled(2))
    assert received == [0, 1, 2]
    assert not bus.has_subscribers(Topic.RAW_EEG)


async def test_join_waits_for_the_reader_to_finish_what_was_queued_before_it() -> None:
    bus = EventBus()
    subscription = bus.subscribe([Topic.RAW_EEG], maxsize=8)
    for frame_id in range(3):
        bus.publish(packet(frame_id))
    joined = asyncio.ensure_future(subscription.join())
    bus.publish(packet(3))  # after the call: not waited for
    for expected in range(3):
        event = await subscription.get()
        await asyncio.sleep(0)
        assert not joined.done(), f"join returned before event {expected} was handled"
        subscription.task_done()
    await asyncio.wait_for(joined, timeout=scaled(2))
    assert len(subscription) == 1
    assert isinstance(event, EegPacket)

    subscription.get_nowait()
    waiting = asyncio.ensure_future(subscription.join())
    await asyncio.sleep(0)
    assert not waiting.done()
    subscription.close()  # a reader that stopped never calls task_done: join ends
    await asyncio.wait_for(waiting, timeout=scaled(2))


def test_subscribe_rejects_nonsense() -> None:
    bus = EventBus()
    with pytest.raises(ValueError, match="at least one topic"):
        bus.subscribe([])
    with pytest.raises(ValueError, match="maxsize"):
        bus.subscribe([Topic.FFT], maxsize=0)


def test_drop_counts_survive_the_subscription() -> None:
    bus = EventBus()
    subscription = bus.subscribe([Topic.RAW_EEG], maxsize=1)
    for frame_id in range(4):
        bus.publish(packet(frame_id))
    subscription.close()
    assert bus.stats().topics[Topic.RAW_EEG].dropped == 3
    assert bus.stats().dropped == 3


def test_a_listener_gets_each_event_inside_publish_and_its_failures_stay_its_own() -> None:
    bus = EventBus()
    seen: list[int] = []
    failures: list[tuple[int, str]] = []

    def take(event: Event) -> None:
        assert isinstance(event, EegPacket)
        if event.frame_id == 1:
            raise ValueError("a bad one")
        seen.append(event.frame_id)

    listener = bus.listen(
        [Topic.RAW_EEG],
        take,
        lambda event, exc: failures.append((getattr(event, "frame_id", -1), str(exc))),
    )
    assert bus.has_subscribers(Topic.RAW_EEG)
    assert bus.stats().topics[Topic.RAW_EEG].subscribers == 1
    for frame_id in range(3):
        bus.publish(packet(frame_id))
        assert seen[-1:] == ([frame_id] if frame_id != 1 else [0])  # before publish returned
    assert seen == [0, 2]
    assert failures == [(1, "a bad one")]
    assert listener.delivered == 3
    listener.close()
    assert not bus.has_subscribers(Topic.RAW_EEG)
    bus.publish(packet(3))
    assert seen == [0, 2]
