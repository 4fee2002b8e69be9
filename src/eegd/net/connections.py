"""The ConnectionManager: bridges the event bus to WebSocket clients.

The server hands each accepted WebSocket over through ``incoming`` (the seed's channel). The
manager keeps ``topic -> client ids``, holds a bus subscription for a topic only while some
client wants it, encodes each event once and puts the same bytes into every subscribed
client's bounded queue. A writer task per client drains its queue; a client whose socket
makes no progress for ``stall_timeout`` is closed with 1008, and so is one that sends more
control messages than it may or leaves its replies unread. One slow client never delays
another: the dispatch never awaits a socket, and a writer yields to the loop after every
frame. A topic's pump, shared by all its clients, never dies silently: a failure is logged,
counted, published as ``task_failed`` and the pump restarted at once.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

import aiohttp

from eegd.acquisition import Session
from eegd.bus import DropPolicy, EventBus, Subscription
from eegd.events import (
    EegPacket,
    Event,
    FftPacket,
    FilteredEegPacket,
    SystemEvent,
    SystemEventKind,
    Topic,
)
from eegd.net.clients import ClientConnection, Outgoing
from eegd.net.hello import HelloTracker
from eegd.net.protocol import (
    MAX_MESSAGE_BYTES,
    Dropped,
    ErrorCode,
    ErrorMessage,
    Ping,
    Pong,
    ProtocolViolation,
    Subscribe,
    Subscribed,
    Unsubscribe,
    Unsubscribed,
    encode_decimated,
    encode_event,
    encode_server_message,
    parse_client_message,
)
from eegd.net.ratelimit import MessageRateLimit, Verdict
from eegd.net.routing import DECIMATABLE, RoutingTable

__all__ = ["ConnectionManager", "ConnectionSettings", "ManagerStats"]

logger = logging.getLogger(__name__)

#: Close code for a client that stops reading (policy violation).
CLOSE_STALLED = 1008
#: Close code when the server is full (try again later).
CLOSE_TRY_AGAIN = 1013


@dataclass(frozen=True, slots=True)
class ConnectionSettings:
    """Limits and timing of client connections."""

    queue_seconds: float = 2.0
    """Each client's queue holds about this many seconds of its topics' frames."""
    min_queue_frames: int = 8
    stall_timeout: float = 10.0
    """A client whose socket accepts nothing for this long is closed with 1008."""
    max_clients: int = 128
    max_topics_per_client: int = 4
    max_message_bytes: int = MAX_MESSAGE_BYTES
    """Inbound control messages larger than this are refused."""
    max_messages_per_s: float = 20.0
    """Control messages a client may send per second on average ..."""
    message_burst: int = 50
    """... and at once; a client that keeps sending past the limit is closed (1008)."""
    drop_warning_interval: float = 5.0
    """A slow client's drops are summed up in one warning per this many seconds."""


@dataclass(frozen=True, slots=True)
class ManagerStats:
    """Counters for /api/status: clients per topic, encodes per topic, drops."""

    clients: int
    clients_per_topic: dict[str, int]
    encoded: dict[str, int]
    """Full-rate encodings per topic: one per event routed, however many clients."""
    encoded_envelopes: dict[str, int]
    """Decimated encodings per topic: one per event and distinct ``max_rate``."""
    events_routed: dict[str, int]
    """Events that had at least one client."""
    dropped: int
    closed_stalled: int
    """Clients closed because their socket made no progress for ``stall_timeout``."""
    closed_flooding: int
    """Clients closed for sending control messages faster than allowed."""
    closed_unread: int
    """Clients closed for leaving too many control replies unread."""
    pump_failures: dict[str, int]
    """Topic pumps that failed (and were restarted at once), per topic."""
    client_tasks: int
    """Reader and writer tasks alive: two per connected client, none left behind."""


class ConnectionManager:
    """Routes bus events to WebSocket clients, each with its own bounded queue."""

    def __init__(
        self,
        bus: EventBus,
        session: Callable[[], Session | None],
        frame_rates: Mapping[Topic, float],
        settings: ConnectionSettings | None = None,
    ) -> None:
        self._bus = bus
        self._frame_rates = frame_rates
        self.settings = settings or ConnectionSettings()
        self.incoming: asyncio.Queue[ClientConnection] = asyncio.Queue(
            maxsize=self.settings.max_clients
        )
        self._clients: dict[int, ClientConnection] = {}
        self._routes = RoutingTable()
        self._hello = HelloTracker(session)
        self._pumps: dict[Topic, tuple[Subscription, asyncio.Task[None]]] = {}
        self._client_tasks: set[asyncio.Task[None]] = set()
        self._encoded: dict[Topic, int] = dict.fromkeys(Topic, 0)
        self._encoded_envelopes: dict[Topic, int] = dict.fromkeys(DECIMATABLE, 0)
        self._routed: dict[Topic, int] = dict.fromkeys(Topic, 0)
        self._next_id = 1
        self._slots_taken = 0
        self._dropped_by_gone_clients = 0
        self._closed_stalled = 0
        self._closed_flooding = 0
        self._closed_unread = 0
        self._pump_failures: dict[Topic, int] = dict.fromkeys(Topic, 0)
        self._drops_reported: dict[int, int] = {}
        """Per slow client: its drop count when the last warning was logged."""

    # ------------------------------------------------------------------ lifecycle

    async def run(self) -> None:
        """Admit clients from ``incoming`` until cancelled; then close them with 1001."""
        watchdog = asyncio.create_task(self._watch_for_stalls(), name="stall-watchdog")
        try:
            while True:
                client = await self.incoming.get()
                self._admit(client)
        finally:
            watchdog.cancel()
            await self._close_all()

    async def _watch_for_stalls(self) -> None:
        """Close clients whose socket has taken nothing for ``stall_timeout``.

        One periodic check for all clients, instead of a timer around every send: the
        send path is the hot path of the fan-out.
        """
        timeout = self.settings.stall_timeout
        while True:
            await asyncio.sleep(min(1.0, timeout / 4))
            now = time.monotonic()
            for client in list(self._clients.values()):
                if client.stalled_for(now) >= timeout:
                    self._closed_stalled += 1
                    logger.warning(
                        "client %d made no progress for %g s; closing it (%d frames dropped)",
                        client.id,
                        timeout,
                        client.stats.dropped,
                    )
                    self._shut_out(client, "stalled: not reading")

    def _shut_out(self, client: ClientConnection, reason: str) -> None:
        """Close ``client`` with 1008 and ``reason`` and forget it now, not when it answers."""
        client.sending_since = None
        closing = asyncio.create_task(
            self._force_close(client, CLOSE_STALLED, reason), name=f"close-{client.id}"
        )
        self._client_tasks.add(closing)
        closing.add_done_callback(self._client_tasks.discard)
        self._remove(client)

    def new_client_id(self) -> int:
        """A fresh id for a client the server is about to hand over."""
        client_id, self._next_id = self._next_id, self._next_id + 1
        return client_id

    def reserve_slot(self) -> bool:
        """Claim a place for a client about to be handed over; False when at ``max_clients``.

        The claim is synchronous, so clients connecting at once cannot overshoot the limit;
        it is released when the client leaves.
        """
        if self._slots_taken >= self.settings.max_clients:
            return False
        self._slots_taken += 1
        return True

    def stats(self) -> ManagerStats:
        """Current counters."""
        return ManagerStats(
            clients=len(self._clients),
            clients_per_topic={topic.label: self._routes.clients(topic) for topic in Topic},
            encoded={topic.label: count for topic, count in self._encoded.items()},
            encoded_envelopes={
                topic.label: count for topic, count in self._encoded_envelopes.items()
            },
            events_routed={topic.label: count for topic, count in self._routed.items()},
            dropped=self.dropped(),
            closed_stalled=self._closed_stalled,
            closed_flooding=self._closed_flooding,
            closed_unread=self._closed_unread,
            pump_failures={topic.label: count for topic, count in self._pump_failures.items()},
            client_tasks=len(self._client_tasks),
        )

    def dropped(self) -> int:
        """Frames dropped by every client's queue since start, departed clients included."""
        return self._dropped_by_gone_clients + sum(
            client.stats.dropped for client in self._clients.values()
        )

    def discard(self, client: ClientConnection) -> None:
        """Forget a client whose handler is ending, admitted or not, and free its slot."""
        if client.id in self._clients:
            self._remove(client)
        elif not client.finished.is_set():
            self._slots_taken -= 1
            client.finished.set()

    def _admit(self, client: ClientConnection) -> None:
        if client.finished.is_set():
            return
        self._clients[client.id] = client
        logger.debug("client %d connected from %s on %s", client.id, client.remote, client.route)
        if not self._announce_hello():
            hello = self._hello.current()
            if hello is not None:
                self._send_control(client, encode_server_message(hello))
        self._subscribe(client, client.fixed_topics or {Topic.SYSTEM})
        for task in (self._read(client), self._write(client)):
            spawned = asyncio.create_task(task, name=f"client-{client.id}")
            client.tasks.append(spawned)
            self._client_tasks.add(spawned)
            spawned.add_done_callback(self._client_tasks.discard)

    def _remove(self, client: ClientConnection) -> None:
        if self._clients.pop(client.id, None) is None:
            return
        self._slots_taken -= 1
        self._unsubscribe(client, set(client.topics))
        self._dropped_by_gone_clients += client.stats.dropped
        self._drops_reported.pop(client.id, None)
        client.finished.set()
        current = asyncio.current_task()
        for task in client.tasks:
            if task is not current:
                task.cancel()
        logger.debug(
            "client %d left (sent %d, dropped %d)",
            client.id,
            client.stats.sent,
            client.stats.dropped,
        )

    async def _close_all(self) -> None:
        """Say 1001 "going away" to every client at once, waiting 1 s at most, then forget them."""
        clients = list(self._clients.values())
        closing = [
            asyncio.ensure_future(
                client.ws.close(
                    code=aiohttp.WSCloseCode.GOING_AWAY, message=b"server shutting down"
                )
            )
            for client in clients
        ]
        if closing:
            _, late = await asyncio.wait(closing, timeout=1.0)
            for close in late:
                close.cancel()
            # A peer that vanished mid-close is no error worth more than its absence.
            await asyncio.gather(*closing, return_exceptions=True)
        for client in clients:
            self._remove(client)
        for task in list(self._client_tasks):
            task.cancel()
        await asyncio.gather(*self._client_tasks, return_exceptions=True)
        for subscription, pump in self._pumps.values():
            subscription.close()
            pump.cancel()
        self._pumps.clear()

    # ------------------------------------------------------------------ per-client tasks

    async def _read(self, client: ClientConnection) -> None:
        """Handle the client's control messages until it goes away or floods."""
        limit = MessageRateLimit(self.settings.max_messages_per_s, self.settings.message_burst)
        try:
            async for message in client.ws:
                if message.type not in (aiohttp.WSMsgType.TEXT, aiohttp.WSMsgType.BINARY):
                    continue
                verdict = limit.check(time.monotonic())
                if verdict is Verdict.CLOSE:
                    self._closed_flooding += 1
                    logger.warning("client %d floods control messages; closing it", client.id)
                    self._shut_out(client, "flooding: too many messages")
                    return
                if verdict is Verdict.REFUSE:
                    self._reply_error(
                        client,
                        ErrorCode.RATE_LIMITED,
                        f"at most {self.settings.max_messages_per_s:g} messages per second "
                        f"(bursts of {self.settings.message_burst}); this one and those that "
                        "follow too soon are ignored",
                    )
                if verdict is not Verdict.ACCEPT:
                    continue
                if message.type is aiohttp.WSMsgType.TEXT:
                    self._handle_text(client, message.data)
                elif message.type is aiohttp.WSMsgType.BINARY:
                    self._reply_error(
                        client,
                        ErrorCode.BAD_FRAME,
                        "clients send JSON text messages only, not binary frames",
                    )
        finally:
            self._remove(client)

    async def _write(self, client: ClientConnection) -> None:
        """Drain the client's queue into its socket; the watchdog closes it if a send stalls."""
        ws = client.ws
        try:
            while not ws.closed:
                payload = await client.next_outgoing()
                lost_ids, lost = client.take_drop_report()
                client.sending_since = time.monotonic()
                if lost:
                    notice = Dropped(frames=tuple(lost_ids), count=lost)
                    await ws.send_str(encode_server_message(notice))
                if isinstance(payload, bytes):
                    await ws.send_bytes(payload)
                else:
                    await ws.send_str(payload)
                client.sending_since = None
                client.stats.sent += 1
                # A send into a socket with room completes without suspending: yield, so
                # that draining a long queue never holds the loop from everyone else.
                await asyncio.sleep(0)
        except (ConnectionError, aiohttp.ClientError):
            pass
        finally:
            self._remove(client)

    async def _force_close(self, client: ClientConnection, code: int, reason: str) -> None:
        """Close with ``code`` after the replies still queued (the error that says why).

        A peer that cannot take them and the close frame within 1 s is cut off.
        """
        try:
            async with asyncio.timeout(1.0):
                for text in client.take_control():
                    await client.ws.send_str(text)
                await client.ws.close(code=code, message=reason.encode())
        except (TimeoutError, ConnectionError, aiohttp.ClientError):
            transport = client.transport
            if transport is not None:
                transport.abort()

    # ------------------------------------------------------------------ control messages

    def _handle_text(self, client: ClientConnection, text: str) -> None:
        try:
            message = parse_client_message(text, self.settings.max_message_bytes)
        except ProtocolViolation as exc:
            self._reply(client, exc.to_message())
            return
        if isinstance(message, Ping):
            self._reply(client, Pong())
            return
        if client.fixed_topics is not None:
            allowed = ", ".join(sorted(topic.label for topic in client.fixed_topics))
            self._reply_error(
                client,
                ErrorCode.NOT_ALLOWED,
                f"{client.route} streams {allowed} only; use /ws to choose topics",
            )
            return
        topics = set(message.topic_ids)
        if isinstance(message, Subscribe):
            had = client.topics - {Topic.SYSTEM}
            wanted = (client.topics | topics) - {Topic.SYSTEM}
            if len(wanted) > self.settings.max_topics_per_client:
                self._reply_error(
                    client,
                    ErrorCode.TOO_MANY_TOPICS,
                    f"a client may subscribe to at most {self.settings.max_topics_per_client} "
                    f"data topics (system is free); it has {len(had)} and asked for "
                    f"{len(wanted - had)} more",
                )
                return
            self._subscribe(client, topics, message.max_rate)
            self._reply(client, Subscribed(topics=message.topics))
        elif isinstance(message, Unsubscribe):
            self._unsubscribe(client, topics)
            self._reply(client, Unsubscribed(topics=message.topics))

    def _reply(
        self, client: ClientConnection, message: Pong | Subscribed | Unsubscribed | ErrorMessage
    ) -> None:
        self._send_control(client, encode_server_message(message))

    def _send_control(self, client: ClientConnection, text: str) -> None:
        """Queue a control message; a client with too many of them unread is closed."""
        if not client.send_control(text) and client.id in self._clients:
            self._closed_unread += 1
            logger.warning("client %d leaves its replies unread; closing it", client.id)
            self._shut_out(client, "not reading: too many unread replies")

    def _reply_error(self, client: ClientConnection, code: ErrorCode, text: str) -> None:
        client.stats.errors += 1
        self._reply(client, ErrorMessage(code=code.value, message=text))

    # ------------------------------------------------------------------ routing

    def _subscribe(
        self, client: ClientConnection, topics: Iterable[Topic], max_rate: float | None = None
    ) -> None:
        """Route ``topics`` to ``client``: every event, or an envelope when ``max_rate`` is set."""
        for topic in topics:
            client.topics.add(topic)
            self._routes.add(client.id, topic, max_rate)
            if topic not in self._pumps:
                subscription = self._bus.subscribe(
                    [topic], maxsize=256, policy=DropPolicy.DROP_OLDEST
                )
                self._start_pump(topic, subscription)
        client.max_queue = self._queue_frames(client.topics)

    def _unsubscribe(self, client: ClientConnection, topics: Iterable[Topic]) -> None:
        """Stop routing ``topics`` to ``client``; drop the bus subscription nobody needs."""
        for topic in topics:
            client.topics.discard(topic)
            self._routes.remove(client.id, topic)
            if not self._routes.wanted(topic) and topic in self._pumps:
                subscription, pump = self._pumps.pop(topic)
                subscription.close()
                pump.cancel()
        client.max_queue = self._queue_frames(client.topics)

    def _queue_frames(self, topics: Iterable[Topic]) -> int:
        per_second = sum(self._frame_rates.get(topic, 1.0) for topic in topics)
        return max(
            self.settings.min_queue_frames, math.ceil(per_second * self.settings.queue_seconds)
        )

    def _start_pump(self, topic: Topic, subscription: Subscription) -> None:
        pump = asyncio.create_task(self._pump(subscription), name=f"pump-{topic.label}")
        pump.add_done_callback(lambda done: self._pump_ended(topic, subscription, done))
        self._pumps[topic] = (subscription, pump)

    def _pump_ended(
        self, topic: Topic, subscription: Subscription, pump: asyncio.Task[None]
    ) -> None:
        """Restart a pump that failed while its topic is still wanted; say so everywhere."""
        if pump.cancelled() or self._pumps.get(topic, (None, None))[1] is not pump:
            return
        crash = pump.exception()
        if crash is None:
            return
        self._pump_failures[topic] += 1
        failures = self._pump_failures[topic]
        logger.error(
            "the %s pump failed (%d so far); restarting it",
            topic.label,
            failures,
            exc_info=crash if failures == 1 else None,
        )
        self._bus.publish(
            SystemEvent.now(
                SystemEventKind.TASK_FAILED,
                task=f"pump-{topic.label}",
                error=f"{type(crash).__name__}: {crash}",
                failures=failures,
            )
        )
        self._start_pump(topic, subscription)

    async def _pump(self, subscription: Subscription) -> None:
        async for event in subscription:
            self._dispatch(event)

    def _dispatch(self, event: Event) -> None:
        """Encode ``event`` once and queue the same bytes for every client of its topic."""
        topic = event.topic
        if not self._routes.wanted(topic):
            return
        self._routed[topic] += 1
        if isinstance(event, FftPacket):
            self._hello.note_spectrum(event)
        self._announce_hello()
        full_rate = self._routes.full_rate(topic)
        if full_rate:
            self._encoded[topic] += 1
            self._fan_out(Outgoing(encode_event(event), topic, _frame_id(event)), full_rate)
        if isinstance(event, EegPacket | FilteredEegPacket):
            for group in self._routes.envelope_groups(topic):
                envelope = group.decimator.push(event)
                if envelope is None:
                    continue
                self._encoded_envelopes[topic] += 1
                payload = encode_decimated(
                    topic,
                    envelope.minima,
                    envelope.maxima,
                    frame_id=envelope.frame_id,
                    first_sample=envelope.first_sample,
                    timestamp_us=envelope.timestamp_us,
                    monotonic_ns=envelope.monotonic_ns,
                    pair_rate=envelope.pair_rate,
                )
                self._fan_out(Outgoing(payload, topic, envelope.frame_id), group.client_ids)

    def _announce_hello(self) -> bool:
        """Send every client the hello if it changed (a new session or spectrum axis)."""
        hello = self._hello.update()
        if hello is None:
            return False
        text = encode_server_message(hello)
        for client in list(self._clients.values()):
            self._send_control(client, text)
        return True

    def _fan_out(self, item: Outgoing, client_ids: Iterable[int]) -> None:
        for client_id in client_ids:
            client = self._clients[client_id]
            dropped_before = client.stats.dropped
            client.enqueue(item)
            if client.stats.dropped != dropped_before and client.id not in self._drops_reported:
                self._drops_reported[client.id] = dropped_before
                asyncio.get_running_loop().call_later(
                    self.settings.drop_warning_interval, self._warn_drops, client
                )

    def _warn_drops(self, client: ClientConnection) -> None:
        """One warning per interval with the frames a slow client really lost in it."""
        before = self._drops_reported.pop(client.id, None)
        if before is None:
            return
        logger.warning(
            "client %d is slow: dropped %d frames in the last %g s (%d in total)",
            client.id,
            client.stats.dropped - before,
            self.settings.drop_warning_interval,
            client.stats.dropped,
        )


def _frame_id(event: Event) -> int | None:
    """The frame id a client is told about when it loses ``event`` (None for system events)."""
    if isinstance(event, FftPacket):
        return event.source_frame_id
    if isinstance(event, EegPacket | FilteredEegPacket):
        return event.frame_id
    return None
