"""What the daemon reports about itself: ``/api/status``, the ``/metrics`` snapshot and the
status line on the log.

``DaemonStatus`` reads the running parts (the acquisition and its ledger, the bus, the
connection manager, the HTTP server's guard, the supervisor's tasks, the plugins) and keeps
nothing of its own but the moment it started. It names no plugin: a plugin's counters show
under its name (``ReportsStats``), its figures for the daemon's own status where they say
(``ReportsStatus``), its trouble in ``degraded`` (``ReportsProblem``).
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from eegd.acquisition.loop import AcquisitionLoop
from eegd.bus import EventBus
from eegd.clock import Clock
from eegd.config import Config
from eegd.metrics import MetricsSnapshot
from eegd.net.server import Server
from eegd.net.stream.connections import ConnectionManager
from eegd.plugin import (
    GaugeFamily,
    Plugin,
    ReportsGauges,
    ReportsProblem,
    ReportsStats,
    ReportsStatus,
    StatusFigure,
)
from eegd.selftest import ImpedanceService, SelfTestService
from eegd.supervisor import Supervisor, TaskState, TaskStatus

__all__ = ["DaemonStatus", "StatusSnapshot"]

logger = logging.getLogger("eegd")


@dataclass(frozen=True, slots=True)
class StatusSnapshot:
    """Counters at one moment, from which the status line computes rates."""

    at: float
    frames: int
    samples: int
    dropped: int


class DaemonStatus:
    """``/api/status``, the ``/metrics`` snapshot and the status line, read from the parts."""

    def __init__(
        self,
        config: Callable[[], Config],
        *,
        acquisition: AcquisitionLoop,
        bus: EventBus,
        supervisor: Supervisor,
        connections: ConnectionManager,
        server: Server,
        plugins: Mapping[str, Plugin],
        selftest: SelfTestService,
        impedance: ImpedanceService,
        clock: Clock,
    ) -> None:
        self._config = config
        self._acquisition = acquisition
        self._bus = bus
        self._supervisor = supervisor
        self._connections = connections
        self._server = server
        self._plugins = plugins
        self._selftest = selftest
        self._impedance = impedance
        self._clock = clock
        self.started = clock.monotonic()
        """When the daemon started, on ``clock``."""

    def status(self) -> dict[str, Any]:
        """Everything /api/status reports: source, ledger, clients, tasks."""
        source = self._config().source
        session = self._acquisition.session
        return {
            "source": {
                "kind": source.kind,
                "sample_rate": session.sample_rate if session else source.sample_rate,
                "channels": list(session.channel_names) if session else None,
                "batch_size": source.batch_size,
                "session": session.id if session else None,
                "physical_range": (
                    [list(span) for span in session.physical_range]
                    if session and session.physical_range is not None
                    else None
                ),
                "selftest": self._selftest.supported(),
                "impedance": {
                    "supported": self._impedance.supported(),
                    "last": self._impedance.last,
                },
            },
            "uptime_s": round(self._clock.monotonic() - self.started, 3),
            "asyncio_tasks": len(asyncio.all_tasks()),
            "ledger": self.ledger(),
            "bus": {
                topic.label: {
                    "published": stats.published,
                    "subscribers": stats.subscribers,
                    "dropped": stats.dropped,
                }
                for topic, stats in self._bus.stats().topics.items()
            },
            "clients": dataclasses.asdict(self._connections.stats()),
            "http": self.http_stats(),
            "access": self._server.access_stats(),
            "plugins": self.plugin_stats(),
            **_summed(figure for figure in self.figures() if not figure.ledger),
            "tasks": [
                {
                    "name": status.name,
                    "state": status.state.value,
                    "restarts": status.restarts,
                    "failures": status.failures,
                    "last_error": status.last_error,
                    "retry_in_s": _retry_in(status),
                }
                for status in self._supervisor.statuses()
            ],
            "degraded": self.degraded(),
        }

    def ledger(self) -> dict[str, Any]:
        """``/api/status`` → ``ledger``: flat totals over every session since the start,
        the running session (``session``) and the last few (``sessions``), each with its
        gaps; ``consistent`` says that every one has ``expected = acquired + lost`` within
        one packet; the plugins' ledger figures; then what each consumer got: every plugin's
        bus subscriptions (``consumers``) and every connected client (``clients``),
        delivered and dropped (docs/protocol.md, "The sample ledger")."""
        stats = self._acquisition.stats()
        ledgers = self._acquisition.ledgers()
        return {
            "samples_expected": stats.samples_expected,
            "samples_acquired": stats.samples_acquired,
            "samples_lost": stats.samples_lost,
            "frames_published": stats.frames_published,
            "blocks_rejected": stats.blocks_rejected,
            "outages": stats.outages,
            "session_count": stats.sessions,
            "consistent": self.ledger_consistent(),
            "session": ledgers[-1].as_json() if ledgers else None,
            "sessions": [ledger.as_json() for ledger in ledgers],
            **_summed(figure for figure in self.figures() if figure.ledger),
            "consumers": [
                {
                    "name": consumer.name,
                    "topics": list(consumer.topics),
                    "delivered": consumer.delivered,
                    "dropped": consumer.dropped,
                    "queued": consumer.queued,
                    "capacity": consumer.capacity,
                }
                for consumer in self._bus.consumers()
            ],
            "clients": self._connections.client_ledger(),
        }

    def ledger_consistent(self) -> bool:
        """Whether every session kept has ``expected = acquired + lost`` within one packet."""
        return all(ledger.consistent for ledger in self._acquisition.ledgers())

    def degraded(self) -> list[dict[str, Any]]:
        """The parts not working now: plugins that run but cannot do their job (a recorder
        whose directory cannot be used), then tasks backing off (with the seconds until their
        retry, the acquisition among them while its source is away) or given up; empty when
        all is well. The kiosk shows it (docs/protocol.md, "Degraded parts")."""
        problems = [
            {"task": name, "state": "degraded", "failures": 0, "error": problem, "retry_in_s": None}
            for name, plugin in self._plugins.items()
            if isinstance(plugin, ReportsProblem) and (problem := plugin.problem()) is not None
        ]
        return problems + [
            {
                "task": status.name,
                "state": status.state.value,
                "failures": status.failures,
                "error": status.last_error,
                "retry_in_s": _retry_in(status),
            }
            for status in self._supervisor.statuses()
            if status.state in (TaskState.BACKING_OFF, TaskState.GAVE_UP)
        ]

    def plugin_stats(self) -> dict[str, dict[str, int]]:
        """Each running plugin's counters, for those that keep any."""
        return {
            name: dict(plugin.stats())
            for name, plugin in self._plugins.items()
            if isinstance(plugin, ReportsStats)
        }

    def http_stats(self) -> dict[str, int]:
        """The HTTP guard's counters and the requests too malformed for aiohttp to parse."""
        return {
            **self._server.guard.stats.as_dict(),
            "malformed_requests": self._server.aiohttp_log.count,
        }

    def figures(self) -> list[StatusFigure]:
        """What the running plugins add to the daemon's own status and metrics."""
        return [
            figure
            for plugin in self._plugins.values()
            if isinstance(plugin, ReportsStatus)
            for figure in plugin.status()
        ]

    def gauges(self) -> list[GaugeFamily]:
        """What the running plugins add to ``/metrics`` as labelled gauges."""
        return [
            gauge
            for plugin in self._plugins.values()
            if isinstance(plugin, ReportsGauges)
            for gauge in plugin.gauges()
        ]

    def metrics_snapshot(self) -> MetricsSnapshot:
        """The counters one ``/metrics`` scrape reads: those of ``status()``."""
        session = self._acquisition.session
        config = self._config()
        return MetricsSnapshot(
            acquisition=self._acquisition.stats(),
            bus=self._bus.stats(),
            clients=self._connections.stats(),
            clients_per_route=self._connections.clients_per_route(),
            client_drops=self._connections.client_drops(),
            tasks=self._supervisor.statuses(),
            source_kind=config.source.kind,
            session=session.id if session else None,
            sample_rate=session.sample_rate if session else config.source.sample_rate,
            plugins=self.plugin_stats(),
            ledger_consistent=self.ledger_consistent(),
            consumers=self._bus.consumers(),
            figures=self.figures(),
            gauges=self.gauges(),
            http=self.http_stats(),
        )

    def snapshot(self) -> StatusSnapshot:
        """Current counters for the status line."""
        stats = self._acquisition.stats()
        return StatusSnapshot(
            at=self._clock.monotonic(),
            frames=stats.frames_published,
            samples=stats.samples_acquired,
            dropped=self._bus.stats().dropped,
        )

    def line(self, previous: StatusSnapshot, current: StatusSnapshot) -> str:
        """One line: rates since ``previous``, drops, and which tasks run."""
        elapsed = max(current.at - previous.at, 1e-9)
        statuses = self._supervisor.statuses()
        running = sum(status.state is TaskState.RUNNING for status in statuses)
        troubled = ", ".join(
            f"{status.name} {status.state.value}"
            for status in statuses
            if status.state is not TaskState.RUNNING
        )
        return (
            f"{(current.frames - previous.frames) / elapsed:.1f} frames/s, "
            f"{(current.samples - previous.samples) / elapsed:.0f} samples/s, "
            f"lost {self._acquisition.stats().samples_lost} samples, "
            f"bus drops {current.dropped}, "
            f"client drops {self._connections.dropped()}, "
            f"clients {self._connections.stats().clients}, "
            f"tasks {running}/{len(statuses)} running" + (f" ({troubled})" if troubled else "")
        )

    async def report(self) -> None:
        """Log the status line every ``[log] status_interval_s`` until cancelled."""
        previous = self.snapshot()
        while True:
            await self._clock.sleep(self._config().log.status_interval_s)
            current = self.snapshot()
            logger.info("%s", self.line(previous, current))
            previous = current


def _summed(figures: Iterable[StatusFigure]) -> dict[str, int]:
    """Figures by key, those of one key from several plugins added up."""
    totals: dict[str, int] = {}
    for figure in figures:
        totals[figure.key] = totals.get(figure.key, 0) + figure.value
    return totals


def _retry_in(status: TaskStatus) -> float | None:
    """Seconds until a backing-off task's retry, to the millisecond."""
    return None if status.retry_in is None else round(status.retry_in, 3)
