"""One connected WebSocket client: its topics, its bounded queue of frames and its counters.

The queue holds encoded frames shared with every other client (the very same ``bytes``
objects). When it is full the oldest data frame is dropped, counted, and its frame id kept
so the client can be told what it lost. Control replies (hello, acks, errors) are never
dropped, but they are bounded too: a client that lets more than ``MAX_CONTROL_QUEUED`` of
them pile up is not reading and is closed (``over_budget``).
"""

from __future__ import annotations

import asyncio
import collections
from dataclasses import dataclass, field

from aiohttp import web

from eegd.events import Topic

__all__ = ["MAX_CONTROL_QUEUED", "MAX_REPORTED_IDS", "ClientConnection", "ClientStats", "Outgoing"]

#: The most dropped frame ids a client keeps before its next notice; the count stays exact.
MAX_REPORTED_IDS = 1024
#: The most control messages (hello, replies) waiting for one client before it is closed.
MAX_CONTROL_QUEUED = 256


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One frame waiting to be written: bytes (data) or str (JSON), with what it carries."""

    payload: bytes | str
    topic: Topic | None = None
    frame_id: int | None = None


@dataclass(slots=True)
class ClientStats:
    """Counters of one client, for /api/status and the drop warnings."""

    sent: int = 0
    dropped: int = 0
    errors: int = 0
    unreported_drops: list[int] = field(default_factory=list)
    unreported_count: int = 0


class ClientConnection:
    """A WebSocket client handed to the ``ConnectionManager`` by the server.

    ``fixed_topics`` is set for single-topic routes (``/ws/data``, the brain-waves applet),
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
    ) -> None:
        self.id = client_id
        self.ws = ws
        self.route = route
        self.remote = remote
        self.fixed_topics = fixed_topics
        self.topics: set[Topic] = set()
        self.max_queue = max_queue
        self.transport = transport
        """The TCP transport, to cut off a peer that cannot even take a close frame."""
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

    def enqueue(self, item: Outgoing) -> None:
        """Queue a data frame; when the queue is full, drop (and remember) the oldest one."""
        if self._data_queued >= self.max_queue:
            self._drop_oldest_data()
        self._queue.append(item)
        self._data_queued += 1
        self._ready.set()

    def _drop_oldest_data(self) -> None:
        for index, queued in enumerate(self._queue):
            if queued.topic is not None:
                del self._queue[index]
                self._data_queued -= 1
                self.stats.dropped += 1
                self.stats.unreported_count += 1
                reported = self.stats.unreported_drops
                if queued.frame_id is not None and len(reported) < MAX_REPORTED_IDS:
                    reported.append(queued.frame_id)
                return

    def take_drop_report(self) -> tuple[list[int], int]:
        """Frame ids and count lost since the last report, and reset them."""
        report = (self.stats.unreported_drops, self.stats.unreported_count)
        self.stats.unreported_drops, self.stats.unreported_count = [], 0
        return report

    async def next_outgoing(self) -> bytes | str:
        """Wait for the next frame to write, in the order they were queued."""
        while not self._queue:
            self._ready.clear()
            await self._ready.wait()
        item = self._queue.popleft()
        if item.topic is not None:
            self._data_queued -= 1
        return item.payload
