"""The fan-out: each event encoded and framed once, the same frame offered to every client.

``Fanout`` keeps the connected clients and the routing table (``topic -> clients``, and
envelope groups for clients that asked for a ``max_rate``). Each event routed becomes one
complete WebSocket frame per form (full rate, one per distinct ``max_rate``, and the old
daemon's encoding for legacy clients), and that very ``bytes`` object is offered to each of
its clients. It never awaits: a client here is
anything that takes a frame now or queues it (``FanoutClient``), so tests drive it with
fake clients. The connection layer feeds it events and drains the queues.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping
from typing import Generic, Protocol, TypeVar

from eegd.events import (
    AnyTopic,
    AuxPacket,
    EegPacket,
    Event,
    FftPacket,
    FilteredEegPacket,
    OutputTopic,
    Topic,
)
from eegd.net.protocol import encode_decimated, encode_event, server_frame
from eegd.net.protocol.legacy import encode_legacy
from eegd.net.stream.clients import ClientStats, Outgoing
from eegd.net.stream.routing import DECIMATABLE, RoutingTable

__all__ = ["Fanout", "FanoutClient"]


class FanoutClient(Protocol):
    """What the fan-out needs of a client: its id, topics, counters and a way in."""

    @property
    def id(self) -> int:
        """Unique among the connected clients."""

    topics: set[AnyTopic]
    max_queue: int
    stats: ClientStats
    legacy: bool
    """Takes the old daemon's encoding (``eegd.net.protocol.legacy``) and no eegd text."""

    def offer(self, item: Outgoing) -> None:
        """Take a data frame: written now, or queued (dropping the oldest when full)."""

    def send_control(self, text: str) -> bool:
        """Queue a control message; False when too many are unread already."""


_ClientT = TypeVar("_ClientT", bound=FanoutClient)


class Fanout(Generic[_ClientT]):
    """Connected clients, their routes, and the encode-once dispatch of events to them.

    ``frame_rates`` (frames per second per topic) sizes each client's queue to about
    ``queue_seconds`` of its topics, never fewer than ``min_queue_frames``.
    """

    def __init__(
        self,
        frame_rates: Mapping[Topic, float],
        *,
        queue_seconds: float = 2.0,
        min_queue_frames: int = 8,
    ) -> None:
        self._frame_rates = frame_rates
        self._queue_seconds = queue_seconds
        self._min_queue_frames = min_queue_frames
        self.clients: dict[int, _ClientT] = {}
        self._routes = RoutingTable()
        self.encoded: dict[AnyTopic, int] = _counts(Topic)
        """Full-rate encodings per topic: one per event routed, however many clients."""
        self.encoded_envelopes: dict[AnyTopic, int] = _counts(DECIMATABLE)
        """Decimated encodings per topic: one per event and distinct ``max_rate``."""
        self.encoded_legacy: dict[AnyTopic, int] = _counts(Topic)
        """Legacy encodings per topic: one per event routed to legacy clients, however many."""
        self.frames_built: dict[AnyTopic, int] = _counts(Topic)
        """WebSocket frames built per topic: one per encoding, full-rate or decimated."""
        self.routed: dict[AnyTopic, int] = _counts(Topic)
        """Events that had at least one client."""

    def add(self, client: _ClientT) -> None:
        """Connect ``client``, with no topics yet."""
        self.clients[client.id] = client

    def remove(self, client: _ClientT) -> bool:
        """Disconnect ``client`` and drop its routes; False if it was not connected."""
        if self.clients.pop(client.id, None) is None:
            return False
        self.unsubscribe(client, set(client.topics))
        return True

    def subscribe(
        self, client: _ClientT, topics: Iterable[AnyTopic], max_rate: float | None = None
    ) -> None:
        """Route ``topics`` to ``client``: every event, or an envelope when ``max_rate`` is set."""
        for topic in topics:
            client.topics.add(topic)
            self._routes.add(client.id, topic, max_rate, legacy=client.legacy)
        client.max_queue = self._queue_frames(client.topics)

    def unsubscribe(self, client: _ClientT, topics: Iterable[AnyTopic]) -> None:
        """Stop routing ``topics`` to ``client``."""
        for topic in topics:
            client.topics.discard(topic)
            self._routes.remove(client.id, topic)
        client.max_queue = self._queue_frames(client.topics)

    def wanted(self, topic: AnyTopic) -> bool:
        """Whether any client gets ``topic``, in any form."""
        return self._routes.wanted(topic)

    def clients_of(self, topic: AnyTopic) -> int:
        """How many clients get ``topic``, full-rate or enveloped."""
        return self._routes.clients(topic)

    def broadcast(self, text: str) -> list[_ClientT]:
        """Queue a control message for every client but the legacy ones; return those with
        too many unread."""
        return [
            client
            for client in list(self.clients.values())
            if not client.legacy and not client.send_control(text)
        ]

    def dispatch(self, event: Event) -> list[tuple[_ClientT, int]]:
        """Encode and frame ``event`` once and offer the same frame to every client of it.

        Returns the clients that lost a frame to make room, each with its drop count before.
        """
        topic = event.topic
        if not self._routes.wanted(topic):
            return []
        self.routed[topic] += 1
        dropping: list[tuple[_ClientT, int]] = []
        if isinstance(event, EegPacket | FilteredEegPacket | FftPacket | AuxPacket):
            frame_id, stamp = event.frame_id, event.monotonic_ns
        else:
            frame_id, stamp = None, None
        full_rate = self._routes.full_rate(topic)
        if full_rate:
            self.encoded[topic] += 1
            item = Outgoing(self._frame(topic, encode_event(event)), topic, frame_id, stamp)
            self._offer(item, full_rate, dropping)
        legacy = self._routes.legacy(topic)
        if legacy:
            encoded = encode_legacy(event)
            if encoded is not None:
                self.encoded_legacy[topic] += 1
                item = Outgoing(self._frame(topic, encoded), topic, frame_id, stamp)
                self._offer(item, legacy, dropping)
        if isinstance(event, EegPacket | FilteredEegPacket):
            for group in self._routes.envelope_groups(topic):
                envelope = group.decimator.push(event)
                if envelope is None:
                    continue
                self.encoded_envelopes[topic] += 1
                payload = encode_decimated(
                    event.topic,
                    envelope.minima,
                    envelope.maxima,
                    frame_id=envelope.frame_id,
                    first_sample=envelope.first_sample,
                    timestamp_us=envelope.timestamp_us,
                    monotonic_ns=envelope.monotonic_ns,
                    pair_rate=envelope.pair_rate,
                )
                frame = self._frame(topic, payload)
                item = Outgoing(frame, topic, envelope.frame_id, envelope.monotonic_ns)
                self._offer(item, group.client_ids, dropping)
        return dropping

    def _frame(self, topic: AnyTopic, payload: bytes | str) -> bytes:
        self.frames_built[topic] += 1
        return server_frame(payload)

    def _offer(
        self,
        item: Outgoing,
        client_ids: Iterable[int],
        dropping: list[tuple[_ClientT, int]],
    ) -> None:
        clients = self.clients
        for client_id in client_ids:
            client = clients[client_id]
            stats = client.stats
            dropped_before = stats.dropped
            client.offer(item)
            if stats.dropped != dropped_before:
                dropping.append((client, dropped_before))

    def _queue_frames(self, topics: Iterable[AnyTopic]) -> int:
        per_second = sum(
            topic.frames_per_s
            if isinstance(topic, OutputTopic)
            else self._frame_rates.get(topic, 1.0)
            for topic in topics
        )
        return max(self._min_queue_frames, math.ceil(per_second * self._queue_seconds))


def _counts(topics: Iterable[AnyTopic]) -> defaultdict[AnyTopic, int]:
    """Counters per topic, 0 for ``topics`` and for any other topic once counted."""
    return defaultdict(int, dict.fromkeys(topics, 0))
