"""One connected WebSocket client: its topics, its bounded queue of frames and its counters.

A data frame is a complete WebSocket frame built once and shared with every other client
(the very same ``bytes`` object). ``offer`` writes it straight to the client's transport
when the client keeps up: nothing is queued, no writer is in the middle of a write, no drop
is unreported and the transport holds less than its low-water mark. Otherwise the frame
goes to the bounded queue that the client's writer task drains, so a frame never overtakes
one queued before it and a full queue is never bypassed.

When the queue is full the oldest stream frame (one with a frame id: EEG, its envelope,
fft, aux) is dropped, counted, and its frame id kept so the client can be told what it
lost; the next frames of its stream stand in for it. Events that happen once (a marker, a
file's annotation, a system event) have no such stand-in, so they are kept while a stream
frame can go instead; only a queue holding nothing else drops its oldest one (counted too).
Control replies (hello, acks, errors) are never dropped, but they are bounded too: a client
that lets more than ``MAX_CONTROL_QUEUED`` of them pile up is not reading and is closed
(``over_budget``). They are written by aiohttp
(``send_text``), from the writer task only, in queue order with the data frames; a legacy
client (the old daemon's ``/ws/data``), which takes binary messages only, gets each as a
log line (``eegd.net.protocol.legacy``, topic 255).
"""

from __future__ import annotations

import asyncio
import collections
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web
from aiohttp.abc import AbstractStreamWriter

from eegd.clock import Clock
from eegd.events import AnyTopic, Topic
from eegd.net.protocol import Dropped, encode_server_message
from eegd.net.protocol.legacy import encode_log
from eegd.net.security.roles import Principal

__all__ = ["MAX_CONTROL_QUEUED", "MAX_REPORTED_IDS", "ClientConnection", "ClientStats", "Outgoing"]

#: The most dropped frame ids a client keeps before its next notice; the count stays exact.
MAX_REPORTED_IDS = 1024
#: The most control messages (hello, replies) waiting for one client before it is closed.
MAX_CONTROL_QUEUED = 256


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One frame to write: a complete WebSocket frame (data, ``topic`` set) or JSON text
    (a control message, ``topic`` None, framed by aiohttp), with what it carries.

    ``stamp_ns`` is a data frame's acquisition stamp (``monotonic_ns``), for the latency
    histogram; None for frames without one (system events, markers).
    """

    payload: bytes | str
    topic: AnyTopic | None = None
    frame_id: int | None = None
    stamp_ns: int | None = None


@dataclass(slots=True)
class ClientStats:
    """Counters of one client, for /api/status and the drop warnings."""

    sent: int = 0
    written_direct: int = 0
    """Data frames written straight from the dispatch (the fast path)."""
    written_queued: int = 0
    """Data frames written by the writer task, after waiting in the queue."""
    dropped: int = 0
    errors: int = 0
    unreported_drops: list[int] = field(default_factory=list)
    unreported_count: int = 0


class ClientConnection:
    """A WebSocket client handed to the ``ConnectionManager`` by the server.

    ``fixed_topics`` is set for single-topic routes (``/ws/filtered_eeg``, the brain-waves applet),
    which stream one topic from the start and take no subscriptions.
    """

    def __init__(
        self,
        client_id: int,
        ws: web.WebSocketResponse,
        *,
        route: str,
        remote: str,
        fixed_topics: frozenset[Topic] | None,
        max_queue: int,
        transport: asyncio.Transport | None = None,
        stream: AbstractStreamWriter | None = None,
        principal: Principal | None = None,
        legacy: bool = False,
    ) -> None:
        self.id = client_id
        self.ws = ws
        self.route = route
        self.remote = remote
        self.fixed_topics = fixed_topics
        self.legacy = legacy
        """Gets the old daemon's encoding and no eegd text: no hello, replies as log lines."""
        self.topics: set[AnyTopic] = set()
        self.max_queue = max_queue
        self.transport = transport
        """The TCP transport: data frames are written to it, and a peer that cannot even
        take a close frame is cut off there."""
        self.stream = stream
        """aiohttp's writer of the same connection (``prepare``'s result), for ``drain``."""
        self.frame_written: Callable[[int], None] | None = None
        """Called with a data frame's stamp as it is handed to the transport."""
        self.principal = principal
        """Who the client is (role, address), as the server admitted it; None: no role."""
        self.stats = ClientStats()
        self.sending_since: float | None = None
        """Monotonic time the current socket write began; None between writes."""
        self.over_budget = False
        """Set once more than ``MAX_CONTROL_QUEUED`` control messages wait unread."""
        self.tasks: list[asyncio.Task[None]] = []
        """Its reader and writer, cancelled together when the client goes."""
        self.finished = asyncio.Event()
        """Set once the client is gone and its tasks have ended."""
        self._queue: collections.deque[Outgoing] = collections.deque()
        self._data_queued = 0
        self._writing = False
        """True from the writer taking an item until it is written: no frame may pass it."""
        self._low_water = transport.get_write_buffer_limits()[0] if transport is not None else 0
        self._ready = asyncio.Event()
        self._buffered = 0
        self._sent_seen = 0
        self._progress_at: float | None = None

    def __repr__(self) -> str:
        return f"<client {self.id} {self.remote} {self.route}>"

    def send_control(self, text: str) -> bool:
        """Queue a JSON control message (hello, ack, error); never dropped.

        Returns False, queues nothing and sets ``over_budget`` when the client already has
        ``MAX_CONTROL_QUEUED`` of them unread: it must be closed.
        """
        if len(self._queue) - self._data_queued >= MAX_CONTROL_QUEUED:
            self.over_budget = True
            return False
        self._queue.append(Outgoing(text))
        self._ready.set()
        return True

    async def send_text(self, text: str) -> None:
        """Write a control message now: JSON text, or a log line for a legacy client."""
        if self.legacy:
            await self.ws.send_bytes(encode_log(text))
        else:
            await self.ws.send_str(text)

    def take_control(self) -> list[str]:
        """The control messages still queued, in order, taken out of the queue (for a close)."""
        texts = [item.payload for item in self._queue if item.topic is None]
        self._queue.clear()
        self._data_queued = 0
        return [text for text in texts if isinstance(text, str)]

    def stalled_for(self, now: float) -> float:
        """Seconds this client's socket has made no progress (0 when it is keeping up).

        Progress is a write that completes, or a socket send buffer that shrinks. Bytes stuck
        in the buffer count even when no write of ours is pending (pongs to a flood of pings,
        a close frame), so a peer that stopped reading is found whatever filled its buffer.
        """
        transport = self.transport
        buffered = transport.get_write_buffer_size() if transport is not None else 0
        sent = self.stats.sent
        if (
            self._progress_at is None
            or buffered == 0
            or buffered < self._buffered
            or sent != self._sent_seen
        ):
            self._progress_at = now
        self._buffered, self._sent_seen = buffered, sent
        stuck = now - self._progress_at if buffered else 0.0
        writing = now - self.sending_since if self.sending_since is not None else 0.0
        return max(stuck, writing)

    def offer(self, item: Outgoing) -> None:
        """Write a data frame now if the client keeps up (see the module); else queue it."""
        transport = self.transport
        if (
            transport is None
            or self._queue
            or self._writing
            or self.stats.unreported_count
            or self.ws.closed
            or transport.is_closing()
            or transport.get_write_buffer_size() >= self._low_water
        ):
            self.enqueue(item)
            return
        self._hand_over(transport, item)
        self.stats.written_direct += 1

    def enqueue(self, item: Outgoing) -> None:
        """Queue a data frame; when the queue is full, drop (and remember) the oldest stream
        frame, or the oldest data frame when none is queued (see the module)."""
        if self._data_queued >= self.max_queue:
            self._drop_oldest_data()
        self._queue.append(item)
        self._data_queued += 1
        self._ready.set()

    def _drop_oldest_data(self) -> None:
        oldest: int | None = None  # the oldest data frame, dropped when no stream frame is queued
        for index, queued in enumerate(self._queue):
            if queued.topic is None:
                continue
            if queued.frame_id is not None:
                oldest = index
                break
            if oldest is None:
                oldest = index
        if oldest is None:
            return
        queued = self._queue[oldest]
        del self._queue[oldest]
        self._data_queued -= 1
        self.stats.dropped += 1
        self.stats.unreported_count += 1
        reported = self.stats.unreported_drops
        if queued.frame_id is not None and len(reported) < MAX_REPORTED_IDS:
            reported.append(queued.frame_id)

    def take_drop_report(self) -> tuple[list[int], int]:
        """Frame ids and count lost since the last report, and reset them."""
        report = (self.stats.unreported_drops, self.stats.unreported_count)
        self.stats.unreported_drops, self.stats.unreported_count = [], 0
        return report

    async def next_outgoing(self) -> Outgoing:
        """Wait for the next frame to write, in the order they were queued.

        From here until ``written`` no frame is written directly: the writer holds this one.
        """
        while not self._queue:
            self._ready.clear()
            await self._ready.wait()
        item = self._queue.popleft()
        if item.topic is not None:
            self._data_queued -= 1
        self._writing = True
        return item

    def written(self) -> None:
        """The item ``next_outgoing`` gave is written (or abandoned): direct writes may resume."""
        self._writing = False

    async def write_queued(self, item: Outgoing) -> None:
        """Write a queued data frame to the transport, then wait while the transport is full."""
        transport = self.transport
        if transport is None or self.stream is None:
            raise ConnectionResetError(f"client {self.id} has no transport to write to")
        if transport.is_closing():
            raise ConnectionResetError(f"client {self.id}'s transport is closing")
        self._hand_over(transport, item)
        self.stats.written_queued += 1
        await self.stream.drain()

    def ledger(self) -> dict[str, Any]:
        """The client's share of the ledger: what it was sent and what it lost.

        ``frames_sent`` counts data frames written to its socket, ``frames_dropped`` those
        its full queue dropped (it was told which, in a ``dropped`` notice).
        """
        return {
            "id": self.id,
            "route": self.route,
            "topics": sorted(topic.label for topic in self.topics),
            "frames_sent": self.stats.written_direct + self.stats.written_queued,
            "frames_dropped": self.stats.dropped,
        }

    async def drain(self, clock: Clock) -> None:
        """Write the queue into the socket until it closes; ``sending_since`` (on ``clock``)
        lets the watchdog close a client whose send stalls.

        Data frames are written as built; the drop notice and control messages go through
        aiohttp, which writes each whole frame before it awaits anything.
        """
        while not self.ws.closed:
            item = await self.next_outgoing()
            try:
                lost_ids, lost = self.take_drop_report()
                self.sending_since = clock.monotonic()
                if lost:
                    notice = Dropped(frames=tuple(lost_ids), count=lost)
                    await self.send_text(encode_server_message(notice))
                if isinstance(item.payload, str):
                    await self.send_text(item.payload)
                    self.stats.sent += 1
                else:
                    await self.write_queued(item)
            finally:
                self.written()
            self.sending_since = None
            # A send into a socket with room completes without suspending: yield, so
            # that draining a long queue never holds the loop from everyone else.
            await asyncio.sleep(0)

    async def force_close(self, code: int, reason: str) -> None:
        """Close with ``code`` after the replies still queued (the error that says why).

        A peer that cannot take them and the close frame within 1 s is cut off.
        """
        try:
            async with asyncio.timeout(1.0):
                for text in self.take_control():
                    await self.send_text(text)
                await self.ws.close(code=code, message=reason.encode())
        except (TimeoutError, ConnectionError, aiohttp.ClientError):
            if self.transport is not None:
                self.transport.abort()

    def _hand_over(self, transport: asyncio.Transport, item: Outgoing) -> None:
        payload = item.payload
        if not isinstance(payload, bytes):
            raise TypeError(f"a data frame must be bytes, not {type(payload).__name__}")
        if self.frame_written is not None and item.stamp_ns is not None:
            self.frame_written(item.stamp_ns)
        transport.write(payload)
        self.stats.sent += 1
