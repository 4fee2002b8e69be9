"""The ConnectionManager: the asyncio side of streaming bus events to WebSocket clients.

The server's WebSocket handler hands each accepted client to ``serve``, which admits it and
returns once it is gone. What needs no socket lives elsewhere: each client's control session
in ``eegd.net.control``, routing and the encode-once fan-out in ``eegd.net.stream.fanout``, the
hello in ``eegd.net.stream.hello``, a client's writing in ``eegd.net.stream.clients``, the
stall check in ``eegd.net.stream.watchdog``, the counters and warnings in
``eegd.net.stream.reporting``. Here are the tasks: a reader and a writer per client, the
watchdog's, and closing. Events come from a bus ``Listener`` per wanted topic (and one for
``system`` events, always on, so that the session is known before the first client
connects): the dispatch runs inside ``publish``, with no task switch between the event and
the sockets of the clients that keep up, and events reach clients in the order published.

A client whose socket makes no progress for ``stall_timeout`` is closed with 1008, and so is
one that sends more control messages than it may or leaves its replies unread. One slow
client never delays another: the dispatch never awaits a socket (it writes a frame to a
client that keeps up, and queues it for one that does not), and a writer yields to the
loop after every frame. A dispatch (a topic's "pump") never fails silently: a failure is
logged, counted and published as ``task_failed``, and the next event is dispatched as usual.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any

import aiohttp
from aiohttp import WSCloseCode

from eegd.bus import EventBus, Listener
from eegd.clock import SYSTEM_CLOCK, Clock
from eegd.events import AnyTopic, Event, Topic
from eegd.net.control import CommandRequest, ControlSession, Outcome, RouteChange
from eegd.net.protocol import Done, ErrorMessage, encode_server_message
from eegd.net.settings import ConnectionSettings, ServerSettings
from eegd.net.stream.clients import ClientConnection
from eegd.net.stream.fanout import Fanout
from eegd.net.stream.hello import HelloTracker
from eegd.net.stream.reporting import DropWarnings, ManagerStats, PumpFailures
from eegd.net.stream.watchdog import StallWatchdog
from eegd.topics import TopicRegistry

__all__ = ["CommandRunner", "ConnectionManager"]

logger = logging.getLogger(__name__)

#: Carries out a command message (record, marker) as the REST route it stands for.
CommandRunner = Callable[[CommandRequest], Awaitable[Done | ErrorMessage]]


class ConnectionManager:
    """Routes bus events to WebSocket clients, each with its own bounded queue.

    It subscribes to ``system`` events at once, so the session (from ``source_connected``)
    is known even while no client is connected, and the first one gets its hello at once.
    """

    def __init__(
        self,
        bus: EventBus,
        frame_rates: Mapping[Topic, float],
        settings: ConnectionSettings | None = None,
        clock: Clock = SYSTEM_CLOCK,
        topics: TopicRegistry | None = None,
    ) -> None:
        self._bus = bus
        self.topics = topics if topics is not None else TopicRegistry()
        """The topics clients may subscribe to: the built-in ones and the plugins'."""
        self.settings = settings or ServerSettings().connection_settings()
        self._clock = clock
        self._fanout: Fanout[ClientConnection] = Fanout(
            frame_rates,
            queue_seconds=self.settings.queue_seconds,
            min_queue_frames=self.settings.min_queue_frames,
        )
        self._hello = HelloTracker(self.topics.labels)
        self._pump_failures = PumpFailures(bus)
        self._drop_warnings = DropWarnings(clock)
        self._listeners: dict[AnyTopic, Listener] = {}
        self._listen(Topic.SYSTEM)
        self._client_tasks: set[asyncio.Task[None]] = set()
        self._running = asyncio.Event()
        self._stopped = False
        self._next_id = 1
        self._slots_taken = 0
        self._dropped_by_gone_clients = 0
        self._written_by_gone_clients = [0, 0]
        """Direct and queued writes of the clients that left."""
        self._closed_stalled = 0
        self._closed_flooding = 0
        self._closed_unread = 0
        self.frame_written: Callable[[int], None] | None = None
        """Called with a data frame's acquisition stamp (``monotonic_ns``) as it is handed
        to a client socket: the daemon's latency histogram."""
        self.commands: CommandRunner | None = None
        """Who carries out command messages; the server, which knows the routes, sets it."""

    # ------------------------------------------------------------------ lifecycle

    async def run(self) -> None:
        """Stream to clients until cancelled; then close them with 1001."""
        watchdog = StallWatchdog(
            self.settings.stall_timeout, self._fanout.clients.values, self._stalled, self._clock
        )
        watching = asyncio.create_task(watchdog.run(), name="stall-watchdog")
        self._stopped = False
        self._running.set()
        try:
            await asyncio.Future()
        finally:
            self._running.clear()
            self._stopped = True
            watching.cancel()
            await self._close_all()

    async def serve(self, client: ClientConnection) -> None:
        """Stream to ``client`` (its slot reserved) until it is gone; then free its slot."""
        try:
            if not self._stopped:
                await self._running.wait()
            if self._stopped:
                await client.ws.close(code=WSCloseCode.GOING_AWAY, message=b"server shutting down")
                return
            self._admit(client)
            await client.finished.wait()
        finally:
            self.discard(client)

    def new_client_id(self) -> int:
        """A fresh id for a client the server is about to hand over."""
        client_id, self._next_id = self._next_id, self._next_id + 1
        return client_id

    def reserve_slot(self) -> bool:
        """Claim a place for a client about to be handed over; False when at ``max_clients``.

        The claim is synchronous, so clients connecting at once cannot overshoot the limit;
        it is released when the client leaves.
        """
        if self._slots_taken >= self.settings.limits.max_clients:
            return False
        self._slots_taken += 1
        return True

    def stats(self) -> ManagerStats:
        """Current counters."""
        fanout = self._fanout
        return ManagerStats(
            clients=len(fanout.clients),
            clients_per_topic={topic.label: fanout.clients_of(topic) for topic in self.topics},
            encoded={topic.label: count for topic, count in fanout.encoded.items()},
            encoded_envelopes={
                topic.label: count for topic, count in fanout.encoded_envelopes.items()
            },
            frames_built={topic.label: count for topic, count in fanout.frames_built.items()},
            events_routed={topic.label: count for topic, count in fanout.routed.items()},
            written_direct=self._written_by_gone_clients[0]
            + sum(client.stats.written_direct for client in fanout.clients.values()),
            written_queued=self._written_by_gone_clients[1]
            + sum(client.stats.written_queued for client in fanout.clients.values()),
            dropped=self.dropped(),
            closed_stalled=self._closed_stalled,
            closed_flooding=self._closed_flooding,
            closed_unread=self._closed_unread,
            pump_failures={
                topic.label: count for topic, count in self._pump_failures.counts.items()
            },
            client_tasks=len(self._client_tasks),
            encoded_legacy={topic.label: count for topic, count in fanout.encoded_legacy.items()},
        )

    def clients_per_route(self) -> dict[str, int]:
        """Connected clients per WebSocket route (``/ws``, ``/ws/filtered_eeg``, ...)."""
        counts: dict[str, int] = {}
        for client in self._fanout.clients.values():
            counts[client.route] = counts.get(client.route, 0) + 1
        return counts

    def client_ledger(self) -> list[dict[str, Any]]:
        """Each connected client's share of the ledger (``ClientConnection.ledger``)."""
        return [client.ledger() for client in self._fanout.clients.values()]

    def client_drops(self) -> list[int]:
        """Frames dropped so far from each connected client's queue, in no order."""
        return [client.stats.dropped for client in self._fanout.clients.values()]

    def dropped(self) -> int:
        """Frames dropped by every client's queue since start, departed clients included."""
        return self._dropped_by_gone_clients + sum(
            client.stats.dropped for client in self._fanout.clients.values()
        )

    def discard(self, client: ClientConnection) -> None:
        """Forget a client whose handler is ending, admitted or not, and free its slot."""
        if client.id in self._fanout.clients:
            self._remove(client)
        elif not client.finished.is_set():
            self._slots_taken -= 1
            client.finished.set()

    def _admit(self, client: ClientConnection) -> None:
        if client.finished.is_set():
            return
        client.frame_written = self.frame_written
        self._fanout.add(client)
        logger.debug("client %d connected from %s on %s", client.id, client.remote, client.route)
        hello = self._hello.current
        if hello is not None and not client.legacy:
            self._send_control(client, encode_server_message(hello))
        control = ControlSession(
            client.route,
            client.fixed_topics,
            self.settings.limits,
            principal=client.principal,
            topics=self.topics,
        )
        self._route(client, control.opening())
        for task in (self._read(client, control), self._write(client)):
            spawned = asyncio.create_task(task, name=f"client-{client.id}")
            client.tasks.append(spawned)
            self._client_tasks.add(spawned)
            spawned.add_done_callback(self._client_tasks.discard)

    def _remove(self, client: ClientConnection) -> None:
        topics = set(client.topics)
        if not self._fanout.remove(client):
            return
        self._slots_taken -= 1
        self._stop_unwanted_listeners(topics)
        self._dropped_by_gone_clients += client.stats.dropped
        self._written_by_gone_clients[0] += client.stats.written_direct
        self._written_by_gone_clients[1] += client.stats.written_queued
        self._drop_warnings.forget(client)
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

    def _stalled(self, client: ClientConnection) -> None:
        self._closed_stalled += 1
        logger.warning(
            "client %d made no progress for %g s; closing it (%d frames dropped)",
            client.id,
            self.settings.stall_timeout,
            client.stats.dropped,
        )
        self._shut_out(client, "stalled: not reading")

    def _shut_out(self, client: ClientConnection, reason: str) -> None:
        """Close ``client`` with 1008 and ``reason`` and forget it now, not when it answers."""
        client.sending_since = None
        closing = asyncio.create_task(
            client.force_close(WSCloseCode.POLICY_VIOLATION, reason),
            name=f"close-{client.id}",
        )
        self._client_tasks.add(closing)
        closing.add_done_callback(self._client_tasks.discard)
        self._remove(client)

    async def _close_all(self) -> None:
        """Say 1001 "going away" to every client at once, waiting 1 s at most, then forget them."""
        clients = list(self._fanout.clients.values())
        closing = [
            asyncio.ensure_future(
                client.ws.close(code=WSCloseCode.GOING_AWAY, message=b"server shutting down")
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
        await self._drop_warnings.close()
        self._stop_unwanted_listeners(list(self._listeners))

    # ------------------------------------------------------------------ per-client tasks

    async def _read(self, client: ClientConnection, control: ControlSession) -> None:
        """Feed the client's messages to its control session until it goes away or floods."""
        try:
            async for message in client.ws:
                if message.type is aiohttp.WSMsgType.TEXT:
                    outcome = control.receive_text(message.data, self._clock.monotonic())
                elif message.type is aiohttp.WSMsgType.BINARY:
                    outcome = control.receive_binary(self._clock.monotonic())
                else:
                    continue
                if not self._carry_out(client, outcome):
                    return
        finally:
            self._remove(client)

    def _carry_out(self, client: ClientConnection, outcome: Outcome) -> bool:
        """Apply what the control session decided; False once the client is shut out."""
        if outcome.flooding:
            self._closed_flooding += 1
            logger.warning("client %d floods control messages; closing it", client.id)
            self._shut_out(client, "flooding: too many messages")
            return False
        for change in outcome.changes:
            self._route(client, change)
        client.stats.errors += outcome.errors
        for text in outcome.replies:
            self._send_control(client, text)
        if outcome.command is not None:
            running = asyncio.create_task(
                self._run_command(client, outcome.command), name=f"command-{client.id}"
            )
            self._client_tasks.add(running)
            running.add_done_callback(self._client_tasks.discard)
        return True

    async def _run_command(self, client: ClientConnection, command: CommandRequest) -> None:
        """Carry out a command for the client and queue the answer: ``done`` or ``error``."""
        if self.commands is None:
            answer: Done | ErrorMessage = ErrorMessage(
                code="not_available", message=f"this server does not carry out {command.command!r}"
            )
        else:
            answer = await self.commands(command)
        if isinstance(answer, ErrorMessage):
            client.stats.errors += 1
        if not client.finished.is_set():
            self._send_control(client, encode_server_message(answer))

    async def _write(self, client: ClientConnection) -> None:
        """Drain the client's queue into its socket until it goes away."""
        try:
            await client.drain(self._clock)
        except (ConnectionError, aiohttp.ClientError):
            pass
        finally:
            self._remove(client)

    def _send_control(self, client: ClientConnection, text: str) -> None:
        """Queue a control message; a client with too many of them unread is closed."""
        if not client.send_control(text):
            self._unread(client)

    def _unread(self, client: ClientConnection) -> None:
        if client.id not in self._fanout.clients:
            return
        self._closed_unread += 1
        logger.warning("client %d leaves its replies unread; closing it", client.id)
        self._shut_out(client, "not reading: too many unread replies")

    # ------------------------------------------------------------------ routing and dispatch

    def _route(self, client: ClientConnection, change: RouteChange) -> None:
        """Change the client's routes; listen to a topic on the bus only while it is wanted."""
        if change.subscribe:
            self._fanout.subscribe(client, change.topics, change.max_rate)
            for topic in change.topics:
                if topic not in self._listeners:
                    self._listen(topic)
        else:
            self._fanout.unsubscribe(client, change.topics)
            self._stop_unwanted_listeners(change.topics)

    def _stop_unwanted_listeners(self, topics: Iterable[AnyTopic]) -> None:
        for topic in topics:
            if topic is Topic.SYSTEM or self._fanout.wanted(topic) or topic not in self._listeners:
                continue
            self._listeners.pop(topic).close()

    def _listen(self, topic: AnyTopic) -> None:
        self._listeners[topic] = self._bus.listen([topic], self._deliver, self._pump_failures)

    def _deliver(self, event: Event) -> None:
        """Send a changed hello to every client, then the event to its topic's clients."""
        hello = self._hello.note(event)
        if hello is not None:
            for client in self._fanout.broadcast(encode_server_message(hello)):
                self._unread(client)
        for client, dropped_before in self._fanout.dispatch(event):
            self._drop_warnings.dropped(client, dropped_before, self.settings.drop_warning_interval)
