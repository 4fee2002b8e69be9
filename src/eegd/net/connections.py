"""The ConnectionManager: bridges the event bus to WebSocket clients.

The server hands each accepted WebSocket over through ``incoming`` (the seed's channel). The
manager keeps ``topic -> client ids``, holds a bus subscription for a topic only while some
client wants it, encodes each event once and puts the same bytes into every subscribed
client's bounded queue. A writer task per client drains its queue; a client whose socket
makes no progress for ``stall_timeout`` is closed with 1008. One slow client never delays
another: the dispatch never awaits a socket.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

import aiohttp

from eegd.acquisition import Session
from eegd.bus import DropPolicy, EventBus, Subscription
from eegd.dsp.spectrum import BANDS
from eegd.events import Event, FftPacket, Topic
from eegd.net.clients import ClientConnection, Outgoing
from eegd.net.protocol import (
    Dropped,
    ErrorCode,
    ErrorMessage,
    Hello,
    Ping,
    Pong,
    ProtocolViolation,
    Spectrum,
    Subscribe,
    Subscribed,
    Unsubscribe,
    Unsubscribed,
    encode_event,
    encode_server_message,
    parse_client_message,
)

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
    max_clients: int = 64
    max_topics_per_client: int = 4
    drop_warning_interval: float = 5.0


@dataclass(frozen=True, slots=True)
class ManagerStats:
    """Counters for /api/status: clients per topic, encodes per topic, drops."""

    clients: int
    clients_per_topic: dict[str, int]
    encoded: dict[str, int]
    dropped: int
    closed_stalled: int


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
        self._session = session
        self._frame_rates = frame_rates
        self.settings = settings or ConnectionSettings()
        self.incoming: asyncio.Queue[ClientConnection] = asyncio.Queue(
            maxsize=self.settings.max_clients
        )
        self._clients: dict[int, ClientConnection] = {}
        self._routes: dict[Topic, set[int]] = {topic: set() for topic in Topic}
        self._pumps: dict[Topic, tuple[Subscription, asyncio.Task[None]]] = {}
        self._client_tasks: set[asyncio.Task[None]] = set()
        self._encoded: dict[Topic, int] = dict.fromkeys(Topic, 0)
        self._hello: Hello | None = None
        self._spectrum: Spectrum | None = None
        self._next_id = 1
        self._dropped_by_gone_clients = 0
        self._closed_stalled = 0
        self._last_drop_warning: dict[int, float] = {}

    # ------------------------------------------------------------------ lifecycle

    async def run(self) -> None:
        """Admit clients from ``incoming`` until cancelled; then close them with 1001."""
        try:
            while True:
                client = await self.incoming.get()
                self._admit(client)
        finally:
            await self._close_all()

    def new_client_id(self) -> int:
        """A fresh id for a client the server is about to hand over."""
        client_id, self._next_id = self._next_id, self._next_id + 1
        return client_id

    def is_full(self) -> bool:
        """Whether another client would exceed ``max_clients``."""
        return len(self._clients) + self.incoming.qsize() >= self.settings.max_clients

    def stats(self) -> ManagerStats:
        """Current counters."""
        return ManagerStats(
            clients=len(self._clients),
            clients_per_topic={topic.label: len(ids) for topic, ids in self._routes.items()},
            encoded={topic.label: count for topic, count in self._encoded.items()},
            dropped=self._dropped_by_gone_clients
            + sum(client.stats.dropped for client in self._clients.values()),
            closed_stalled=self._closed_stalled,
        )

    def _admit(self, client: ClientConnection) -> None:
        self._clients[client.id] = client
        logger.info("client %d connected from %s on %s", client.id, client.remote, client.route)
        hello = self._current_hello()
        if hello is not None:
            client.send_control(encode_server_message(hello))
        self._subscribe(client, client.fixed_topics or {Topic.SYSTEM})
        for task in (self._read(client), self._write(client)):
            spawned = asyncio.create_task(task, name=f"client-{client.id}")
            self._client_tasks.add(spawned)
            spawned.add_done_callback(self._client_tasks.discard)

    def _remove(self, client: ClientConnection) -> None:
        if self._clients.pop(client.id, None) is None:
            return
        self._unsubscribe(client, set(client.topics))
        self._dropped_by_gone_clients += client.stats.dropped
        self._last_drop_warning.pop(client.id, None)
        client.finished.set()
        logger.info(
            "client %d left (sent %d, dropped %d)",
            client.id,
            client.stats.sent,
            client.stats.dropped,
        )

    async def _close_all(self) -> None:
        clients = list(self._clients.values())
        for client in clients:
            with contextlib.suppress(Exception):
                async with asyncio.timeout(1.0):
                    await client.ws.close(
                        code=aiohttp.WSCloseCode.GOING_AWAY, message=b"server shutting down"
                    )
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
        """Handle the client's control messages until it goes away."""
        try:
            async for message in client.ws:
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
        """Drain the client's queue into its socket; close it if the socket stalls."""
        ws = client.ws
        try:
            while not ws.closed:
                payload = await client.next_outgoing()
                lost_ids, lost = client.take_drop_report()
                async with asyncio.timeout(self.settings.stall_timeout):
                    if lost:
                        notice = Dropped(frames=tuple(lost_ids), count=lost)
                        await ws.send_str(encode_server_message(notice))
                    if isinstance(payload, bytes):
                        await ws.send_bytes(payload)
                    else:
                        await ws.send_str(payload)
                client.stats.sent += 1
        except TimeoutError:
            self._closed_stalled += 1
            logger.warning(
                "client %d made no progress for %g s; closing it (%d frames dropped)",
                client.id,
                self.settings.stall_timeout,
                client.stats.dropped,
            )
            await self._force_close(client, CLOSE_STALLED, "stalled: not reading")
        except (ConnectionError, aiohttp.ClientError):
            pass
        finally:
            self._remove(client)

    async def _force_close(self, client: ClientConnection, code: int, reason: str) -> None:
        """Close with ``code``; a peer that cannot even take the close frame is cut off."""
        try:
            async with asyncio.timeout(1.0):
                await client.ws.close(code=code, message=reason.encode())
        except (TimeoutError, ConnectionError, aiohttp.ClientError):
            transport = client.transport
            if transport is not None:
                transport.abort()

    # ------------------------------------------------------------------ control messages

    def _handle_text(self, client: ClientConnection, text: str) -> None:
        try:
            message = parse_client_message(text)
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
            wanted = client.topics | topics
            if len(wanted) > self.settings.max_topics_per_client:
                self._reply_error(
                    client,
                    ErrorCode.TOO_MANY_TOPICS,
                    f"a client may subscribe to at most {self.settings.max_topics_per_client} "
                    f"topics; it has {len(client.topics)} and asked for {len(topics)} more",
                )
                return
            self._subscribe(client, topics)
            self._reply(client, Subscribed(topics=message.topics))
        elif isinstance(message, Unsubscribe):
            self._unsubscribe(client, topics)
            self._reply(client, Unsubscribed(topics=message.topics))

    def _reply(
        self, client: ClientConnection, message: Pong | Subscribed | Unsubscribed | ErrorMessage
    ) -> None:
        client.send_control(encode_server_message(message))

    def _reply_error(self, client: ClientConnection, code: ErrorCode, text: str) -> None:
        client.stats.errors += 1
        self._reply(client, ErrorMessage(code=code.value, message=text))

    # ------------------------------------------------------------------ routing

    def _subscribe(self, client: ClientConnection, topics: Iterable[Topic]) -> None:
        for topic in topics:
            client.topics.add(topic)
            self._routes[topic].add(client.id)
            if topic not in self._pumps:
                subscription = self._bus.subscribe(
                    [topic], maxsize=256, policy=DropPolicy.DROP_OLDEST
                )
                pump = asyncio.create_task(self._pump(subscription), name=f"pump-{topic.label}")
                self._pumps[topic] = (subscription, pump)
        client.max_queue = self._queue_frames(client.topics)

    def _unsubscribe(self, client: ClientConnection, topics: Iterable[Topic]) -> None:
        for topic in topics:
            client.topics.discard(topic)
            subscribers = self._routes[topic]
            subscribers.discard(client.id)
            if not subscribers and topic in self._pumps:
                subscription, pump = self._pumps.pop(topic)
                subscription.close()
                pump.cancel()
        client.max_queue = self._queue_frames(client.topics)

    def _queue_frames(self, topics: Iterable[Topic]) -> int:
        per_second = sum(self._frame_rates.get(topic, 1.0) for topic in topics)
        return max(
            self.settings.min_queue_frames, math.ceil(per_second * self.settings.queue_seconds)
        )

    async def _pump(self, subscription: Subscription) -> None:
        async for event in subscription:
            self._dispatch(event)

    def _dispatch(self, event: Event) -> None:
        """Encode ``event`` once and queue the same bytes for every client of its topic."""
        subscribers = self._routes[event.topic]
        if not subscribers:
            return
        if isinstance(event, FftPacket):
            self._note_spectrum(event)
        self._refresh_hello()
        item = Outgoing(encode_event(event), event.topic, _frame_id(event))
        self._encoded[event.topic] += 1
        now = time.monotonic()
        for client_id in subscribers:
            client = self._clients[client_id]
            dropped_before = client.stats.dropped
            client.enqueue(item)
            if client.stats.dropped != dropped_before:
                self._warn_drops(client, now)

    def _warn_drops(self, client: ClientConnection, now: float) -> None:
        last = self._last_drop_warning.get(client.id)
        if last is None or now - last >= self.settings.drop_warning_interval:
            self._last_drop_warning[client.id] = now
            logger.warning(
                "client %d is slow: %d frames dropped so far", client.id, client.stats.dropped
            )

    # ------------------------------------------------------------------ hello

    def _note_spectrum(self, packet: FftPacket) -> None:
        known = self._spectrum
        if (
            known is None
            or known.fft_size != packet.fft_size
            or known.sample_rate != packet.sample_rate
            or len(known.freqs) != len(packet.freqs)
        ):
            self._spectrum = Spectrum.from_packet(packet, BANDS)

    def _current_hello(self) -> Hello | None:
        session = self._session()
        if session is None:
            return None
        hello = self._hello
        if hello is None or hello.session != session.id or hello.spectrum is not self._spectrum:
            self._hello = Hello(
                session=session.id,
                sample_rate=session.sample_rate,
                channels=session.channel_names,
                time_anchor_us=session.time_anchor_us,
                spectrum=self._spectrum,
            )
        return self._hello

    def _refresh_hello(self) -> None:
        """Send the hello again to every client when the session or spectrum changed."""
        before = self._hello
        hello = self._current_hello()
        if hello is not None and hello is not before:
            text = encode_server_message(hello)
            for client in self._clients.values():
                client.send_control(text)


def _frame_id(event: Event) -> int | None:
    if isinstance(event, FftPacket):
        return event.source_frame_id
    return getattr(event, "frame_id", None)
