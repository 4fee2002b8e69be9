"""What the connection manager counts and reports: its counters for ``/api/status``, a
failed dispatch published as ``task_failed``, and a slow client's drops summed up in one
warning per interval (on the injected clock)."""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from dataclasses import dataclass, field

from eegd.bus import EventBus
from eegd.clock import Clock
from eegd.events import AnyTopic, Event, SystemEvent, SystemEventKind, Topic
from eegd.net.stream.clients import ClientConnection

__all__ = ["DropWarnings", "ManagerStats", "PumpFailures"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ManagerStats:
    """Counters for /api/status: clients per topic, encodes per topic, drops."""

    clients: int
    clients_per_topic: dict[str, int]
    encoded: dict[str, int]
    """Full-rate encodings per topic: one per event routed, however many clients."""
    encoded_envelopes: dict[str, int]
    """Decimated encodings per topic: one per event and distinct ``max_rate``."""
    frames_built: dict[str, int]
    """WebSocket frames built per topic: one per encoding, however many clients."""
    events_routed: dict[str, int]
    """Events that had at least one client."""
    written_direct: int
    """Data frames written straight from the dispatch since start, departed clients included."""
    written_queued: int
    """Data frames written by a writer task after waiting in a queue, the same way."""
    dropped: int
    closed_stalled: int
    """Clients closed because their socket made no progress for ``stall_timeout``."""
    closed_flooding: int
    """Clients closed for sending control messages faster than allowed."""
    closed_unread: int
    """Clients closed for leaving too many control replies unread."""
    pump_failures: dict[str, int]
    """Events whose dispatch failed (the next ones went on as usual), per topic."""
    client_tasks: int
    """Reader and writer tasks alive: two per connected client, none left behind."""
    encoded_legacy: dict[str, int] = field(default_factory=dict)
    """The old daemon's encodings per topic (``/ws/data``): one per event carried, however
    many clients."""


class PumpFailures:
    """Counts, logs and publishes dispatches that failed, per topic; the next event goes on."""

    def __init__(self, bus: EventBus) -> None:
        self._bus = bus
        self.counts: defaultdict[AnyTopic, int] = defaultdict(int, dict.fromkeys(Topic, 0))
        """Failed dispatches per topic since start."""
        self._reporting = False

    def __call__(self, event: Event, crash: Exception) -> None:
        """Note that dispatching ``event`` raised ``crash``: a bus listener's error handler."""
        topic = event.topic
        self.counts[topic] += 1
        failures = self.counts[topic]
        logger.error(
            "the %s pump failed (%d so far) on one event; the next ones go on",
            topic.label,
            failures,
            exc_info=crash if failures == 1 else None,
        )
        if self._reporting:
            return  # the report itself failed to dispatch: do not report that again
        self._reporting = True
        try:
            self._bus.publish(
                SystemEvent.now(
                    SystemEventKind.TASK_FAILED,
                    task=f"pump-{topic.label}",
                    error=f"{type(crash).__name__}: {crash}",
                    failures=failures,
                )
            )
        finally:
            self._reporting = False


class DropWarnings:
    """One warning per interval with the frames a slow client really lost in it."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._reported: dict[int, int] = {}
        """Per slow client: its drop count when its interval began."""
        self._waiting: set[asyncio.Task[None]] = set()

    def dropped(self, client: ClientConnection, dropped_before: int, interval: float) -> None:
        """``client`` dropped frames, ``dropped_before`` of them before this event: warn
        ``interval`` seconds on, unless an interval of its own is running already."""
        if client.id in self._reported:
            return
        self._reported[client.id] = dropped_before
        warning = asyncio.create_task(self._warn(client, interval), name=f"drops-{client.id}")
        self._waiting.add(warning)
        warning.add_done_callback(self._waiting.discard)

    def forget(self, client: ClientConnection) -> None:
        """``client`` left: no warning about it."""
        self._reported.pop(client.id, None)

    async def close(self) -> None:
        """Cancel the warnings waiting for their interval to end."""
        for task in list(self._waiting):
            task.cancel()
        await asyncio.gather(*self._waiting, return_exceptions=True)

    async def _warn(self, client: ClientConnection, interval: float) -> None:
        await self._clock.sleep(interval)
        before = self._reported.pop(client.id, None)
        if before is None:
            return
        logger.warning(
            "client %d is slow: dropped %d frames in the last %g s (%d in total)",
            client.id,
            client.stats.dropped - before,
            interval,
            client.stats.dropped,
        )
