"""The in-process event bus: every packet goes through here, to every subscriber of its topic.

``publish`` never blocks and never awaits: it offers the event to each matching subscription
(the seed's ``try_send``). Each subscription is a bounded queue whose ``DropPolicy`` decides
what to lose when it is full, and counts its own drops, so a slow consumer only ever hurts
itself. The bus belongs to one event loop; threads hand events over with
``loop.call_soon_threadsafe``.

A ``Listener`` is the other kind of consumer: a callback run inside ``publish`` itself, for a
consumer whose handling never blocks and gains nothing from waiting for a task switch (the
WebSocket fan-out, which only writes to sockets or bounded queues). What it raises goes to
its own error handler, never to the publisher.
"""

from __future__ import annotations

import asyncio
import collections
import enum
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from types import TracebackType

from eegd.events import AnyTopic, Event, Topic

__all__ = [
    "BusStats",
    "ConsumerStats",
    "DropPolicy",
    "EventBus",
    "Listener",
    "Subscription",
    "TopicStats",
]


class DropPolicy(enum.Enum):
    """What a full subscription does with a new event."""

    DROP_OLDEST = "drop_oldest"
    """Discard the oldest queued event to make room: live views want the newest data."""
    DROP_NEWEST = "drop_newest"
    """Discard the new event: the consumer sees an unbroken prefix, then a gap."""


class Subscription:
    """A bounded queue of the events of some topics; an async iterator and context manager.

    Iteration ends after ``close()`` once the queued events are consumed.
    """

    def __init__(
        self,
        bus: EventBus,
        topics: frozenset[AnyTopic],
        maxsize: int,
        policy: DropPolicy,
        consumer: str = "",
    ) -> None:
        if maxsize < 1:
            raise ValueError(f"maxsize must be at least 1, got {maxsize}")
        self._bus = bus
        self.topics = topics
        self.consumer = consumer
        """Who reads it (a plugin's name), for the ledger's per-consumer counts."""
        self.maxsize = maxsize
        self.policy = policy
        self._queue: collections.deque[Event] = collections.deque()
        self._waiter: asyncio.Future[None] | None = None
        self._closed = False
        self.delivered = 0
        """Events accepted into the queue."""
        self.dropped = 0
        """Events lost to a full queue, whichever the policy dropped."""
        self._taken = 0
        self._handled = 0
        self._progress = asyncio.Event()

    @property
    def closed(self) -> bool:
        """True once ``close()`` was called."""
        return self._closed

    def __len__(self) -> int:
        return len(self._queue)

    def offer(self, event: Event) -> bool:
        """Queue ``event`` without waiting; return False if it (or nothing) was dropped."""
        if self._closed:
            return False
        accepted = True
        if len(self._queue) >= self.maxsize:
            self.dropped += 1
            if self.policy is DropPolicy.DROP_NEWEST:
                return False
            self._queue.popleft()
            accepted = False
        self._queue.append(event)
        self.delivered += 1
        self._wake()
        return accepted

    def get_nowait(self) -> Event | None:
        """The next queued event, or None when the queue is empty."""
        if not self._queue:
            return None
        self._taken += 1
        return self._queue.popleft()

    async def get(self) -> Event:
        """Wait for the next event; raises ``StopAsyncIteration`` once closed and drained."""
        while not self._queue:
            if self._closed:
                raise StopAsyncIteration
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        self._taken += 1
        return self._queue.popleft()

    def task_done(self) -> None:
        """The reader is done with an event it took (as ``asyncio.Queue.task_done``)."""
        self._handled += 1
        self._progress.set()

    def join(self) -> Awaitable[None]:
        """Wait until the reader is done (``task_done``) with every event taken or queued at
        this call, or the subscription is closed. The caller bounds the wait."""
        return self._handled_up_to(self._taken + len(self._queue))

    async def _handled_up_to(self, target: int) -> None:
        while self._handled < target and not self._closed:
            self._progress.clear()
            await self._progress.wait()

    def close(self) -> None:
        """Stop receiving events and leave the bus; queued events can still be read."""
        if self._closed:
            return
        self._closed = True
        self._bus._remove(self)
        self._wake()
        self._progress.set()

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    def __aiter__(self) -> Subscription:
        return self

    async def __anext__(self) -> Event:
        return await self.get()

    def __enter__(self) -> Subscription:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        topics = ",".join(sorted(topic.label for topic in self.topics))
        return (
            f"<Subscription {topics} {len(self._queue)}/{self.maxsize} "
            f"{self.policy.value} delivered={self.delivered} dropped={self.dropped}>"
        )


class Listener:
    """A callback that ``publish`` calls with each event of some topics, before it returns.

    ``on_error`` gets whatever the callback raises (with the event), so one bad event never
    reaches the publisher; the listener stays and takes the next one. ``close()`` removes it.
    """

    def __init__(
        self,
        bus: EventBus,
        topics: frozenset[AnyTopic],
        callback: Callable[[Event], None],
        on_error: Callable[[Event, Exception], None],
    ) -> None:
        self._bus = bus
        self.topics = topics
        self._callback = callback
        self._on_error = on_error
        self.delivered = 0
        """Events handed to the callback."""
        self._closed = False

    @property
    def closed(self) -> bool:
        """True once ``close()`` was called."""
        return self._closed

    def deliver(self, event: Event) -> None:
        """Call the callback with ``event``; hand a failure to ``on_error``."""
        self.delivered += 1
        try:
            self._callback(event)
        except Exception as exc:
            self._on_error(event, exc)

    def close(self) -> None:
        """Stop receiving events and leave the bus."""
        if not self._closed:
            self._closed = True
            self._bus._remove_listener(self)


@dataclass(frozen=True, slots=True)
class TopicStats:
    """Counters of one topic: events published, live subscriptions, and drops since start.

    ``dropped`` counts every full-queue drop an event of this topic caused, on any
    subscription, including subscriptions closed since.
    """

    published: int
    subscribers: int
    """Subscriptions and listeners."""
    dropped: int


@dataclass(frozen=True, slots=True)
class BusStats:
    """A snapshot of the bus counters, per topic."""

    topics: dict[AnyTopic, TopicStats]

    @property
    def dropped(self) -> int:
        """Drops on every subscription since the bus started."""
        return sum(stats.dropped for stats in self.topics.values())


@dataclass(frozen=True, slots=True)
class ConsumerStats:
    """What one consumer (every subscription of one name) got from the bus since start.

    ``delivered`` and ``dropped`` include its subscriptions closed since (a plugin that was
    restarted); ``queued`` and ``capacity`` are those of its open subscriptions now.
    """

    name: str
    topics: tuple[str, ...]
    delivered: int
    dropped: int
    queued: int
    capacity: int
    subscriptions: int


class EventBus:
    """Routes each published event to the subscriptions of its topic.

    It knows the built-in topics from the start and a plugin's own topic (an
    ``OutputTopic``) from its first subscriber or event on.
    """

    def __init__(self) -> None:
        self._subscribers: dict[AnyTopic, list[Subscription]] = {topic: [] for topic in Topic}
        self._listeners: dict[AnyTopic, list[Listener]] = {topic: [] for topic in Topic}
        self._published: dict[AnyTopic, int] = dict.fromkeys(Topic, 0)
        self._dropped: dict[AnyTopic, int] = dict.fromkeys(Topic, 0)
        self._open: list[Subscription] = []
        self._retired: dict[str, tuple[int, int, frozenset[AnyTopic]]] = {}
        """Per consumer, the delivered and dropped counts and topics of closed subscriptions."""

    def subscribe(
        self,
        topics: Iterable[AnyTopic],
        maxsize: int = 128,
        policy: DropPolicy = DropPolicy.DROP_OLDEST,
        consumer: str = "",
    ) -> Subscription:
        """Open a bounded subscription to ``topics``; ``consumer`` names who reads it."""
        wanted = frozenset(topics)
        if not wanted:
            raise ValueError("subscribe needs at least one topic")
        subscription = Subscription(self, wanted, maxsize, policy, consumer)
        self._open.append(subscription)
        for topic in wanted:
            self._know(topic)
            self._subscribers[topic] = [*self._subscribers[topic], subscription]
        return subscription

    def listen(
        self,
        topics: Iterable[AnyTopic],
        callback: Callable[[Event], None],
        on_error: Callable[[Event, Exception], None],
    ) -> Listener:
        """Call ``callback`` with every event of ``topics`` from inside ``publish``.

        The callback must not block; what it raises goes to ``on_error``.
        """
        wanted = frozenset(topics)
        if not wanted:
            raise ValueError("listen needs at least one topic")
        listener = Listener(self, wanted, callback, on_error)
        for topic in wanted:
            self._know(topic)
            self._listeners[topic] = [*self._listeners[topic], listener]
        return listener

    def publish(self, event: Event) -> None:
        """Hand ``event`` to every listener of its topic, then offer it to every
        subscription, without waiting."""
        topic = event.topic
        self._know(topic)
        self._published[topic] += 1
        for listener in self._listeners[topic]:
            listener.deliver(event)
        for subscription in self._subscribers[topic]:
            if not subscription.offer(event):
                self._dropped[topic] += 1

    def has_subscribers(self, topic: AnyTopic) -> bool:
        """Whether anyone would receive an event of ``topic`` now."""
        return bool(self._subscribers.get(topic)) or bool(self._listeners.get(topic))

    def _know(self, topic: AnyTopic) -> None:
        """Start the lists and counters of a topic seen for the first time."""
        if topic not in self._published:
            self._subscribers[topic], self._listeners[topic] = [], []
            self._published[topic] = self._dropped[topic] = 0

    def stats(self) -> BusStats:
        """Current counters per topic."""
        return BusStats(
            topics={
                topic: TopicStats(
                    published=self._published[topic],
                    subscribers=len(subscriptions) + len(self._listeners[topic]),
                    dropped=self._dropped[topic],
                )
                for topic, subscriptions in self._subscribers.items()
            }
        )

    def consumers(self) -> list[ConsumerStats]:
        """Per named consumer, what it was delivered and lost; unnamed ones are left out."""
        gathered: dict[str, list[Subscription]] = {}
        for subscription in self._open:
            if subscription.consumer:
                gathered.setdefault(subscription.consumer, []).append(subscription)
        names = sorted({*gathered, *self._retired})
        stats = []
        for name in names:
            live = gathered.get(name, [])
            delivered, dropped, topics = self._retired.get(name, (0, 0, frozenset()))
            for subscription in live:
                delivered += subscription.delivered
                dropped += subscription.dropped
                topics |= subscription.topics
            stats.append(
                ConsumerStats(
                    name=name,
                    topics=tuple(sorted(topic.label for topic in topics)),
                    delivered=delivered,
                    dropped=dropped,
                    queued=sum(len(subscription) for subscription in live),
                    capacity=sum(subscription.maxsize for subscription in live),
                    subscriptions=len(live),
                )
            )
        return stats

    def _remove(self, subscription: Subscription) -> None:
        if subscription in self._open:
            self._open.remove(subscription)
            if subscription.consumer:
                delivered, dropped, topics = self._retired.get(
                    subscription.consumer, (0, 0, frozenset())
                )
                self._retired[subscription.consumer] = (
                    delivered + subscription.delivered,
                    dropped + subscription.dropped,
                    topics | subscription.topics,
                )
        for topic in subscription.topics:
            self._subscribers[topic] = [
                sub for sub in self._subscribers[topic] if sub is not subscription
            ]

    def _remove_listener(self, listener: Listener) -> None:
        for topic in listener.topics:
            self._listeners[topic] = [
                other for other in self._listeners[topic] if other is not listener
            ]
