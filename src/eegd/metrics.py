"""``GET /metrics``: the daemon's counters as Prometheus metric families.

``DaemonCollector`` maps what ``/api/status`` reads (the acquisition ledger, the bus per
topic, the connection manager, the supervisor's tasks, plugins' stats, the HTTP guard) to
metric families at scrape time; it keeps no state of its own, so it is tested with plain
values. ``Metrics`` owns the daemon's own ``CollectorRegistry`` (never the global one, so
many daemons can run in one process), the two histograms observed as things happen (frame
latency, event-loop lag) and prometheus-client's process collector (CPU, RSS, open fds).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Histogram, ProcessCollector, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeHistogramMetricFamily,
    GaugeMetricFamily,
    InfoMetricFamily,
    Metric,
)
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.registry import Collector

from eegd.acquisition.loop import AcquisitionStats
from eegd.bus import BusStats, ConsumerStats
from eegd.net.stream.connections import ManagerStats
from eegd.supervisor import TaskState, TaskStatus

__all__ = [
    "CLIENT_DROP_BUCKETS",
    "CONTENT_TYPE",
    "LATENCY_BUCKETS",
    "LOOP_LAG_BUCKETS",
    "DaemonCollector",
    "Metrics",
    "MetricsSnapshot",
    "drop_buckets",
    "families",
    "probe_loop_lag",
]

#: The ``Content-Type`` of the text format ``/metrics`` answers in.
CONTENT_TYPE = CONTENT_TYPE_LATEST
#: Seconds from the acquisition stamp to a frame handed to a client socket.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
#: Seconds the event loop overshot a sleep of ``Metrics.lag_interval``.
LOOP_LAG_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0)
#: Frames dropped from one connected client's queue.
CLIENT_DROP_BUCKETS = (0.0, 1.0, 10.0, 100.0, 1000.0, 10000.0)


@dataclass(frozen=True, slots=True)
class MetricsSnapshot:
    """What one scrape reads from the daemon: its existing counters, nothing computed."""

    acquisition: AcquisitionStats
    bus: BusStats
    clients: ManagerStats
    clients_per_route: Mapping[str, int]
    client_drops: Sequence[int]
    """Frames dropped so far from each connected client's queue (no client ids)."""
    tasks: Sequence[TaskStatus]
    source_kind: str
    session: str | None
    sample_rate: float
    plugins: Mapping[str, Mapping[str, int]] = field(default_factory=dict)
    http: Mapping[str, int] = field(default_factory=dict)
    consumers: Sequence[ConsumerStats] = ()
    """Each named bus consumer (plugin subscriptions): delivered, dropped, queued."""
    samples_recorded: int | None = None
    """Samples the recorder wrote, when it runs."""
    ledger_consistent: bool = True
    """Whether the session's expected samples are acquired + lost, within one packet."""


def _counter(
    name: str, doc: str, labels: Sequence[str], values: Iterable[tuple[Sequence[str], float]]
) -> CounterMetricFamily:
    family = CounterMetricFamily(name, doc, labels=labels)
    for label_values, value in values:
        family.add_metric(label_values, value)
    return family


def _gauge(
    name: str, doc: str, labels: Sequence[str], values: Iterable[tuple[Sequence[str], float]]
) -> GaugeMetricFamily:
    family = GaugeMetricFamily(name, doc, labels=labels)
    for label_values, value in values:
        family.add_metric(label_values, value)
    return family


def drop_buckets(drops: Sequence[int]) -> list[tuple[str, float]]:
    """Cumulative buckets of per-client drop counts (``le`` label, count)."""
    buckets = [(str(bound), float(sum(d <= bound for d in drops))) for bound in CLIENT_DROP_BUCKETS]
    return [*buckets, ("+Inf", float(len(drops)))]


def _clock_families(acq: AcquisitionStats) -> Iterator[Metric]:
    """The session's clock model (``eegd.acquisition.clock_model``): residual, drift, rejected
    arrivals."""
    fit = acq.clock
    if fit is not None:
        yield GaugeMetricFamily(
            "eegd_clock_residual_seconds",
            "How late the last block arrived after the time the clock model gives it.",
            value=fit.residual_s,
        )
        yield GaugeMetricFamily(
            "eegd_clock_drift_ppm",
            "The source clock's rate against the host's, minus one, in parts per million.",
            value=fit.drift_ppm,
        )
        yield CounterMetricFamily(
            "eegd_clock_arrivals_rejected",
            "Blocks that arrived before their samples could have been taken (un-paced).",
            value=fit.rejected,
        )
    yield CounterMetricFamily(
        "eegd_clock_steps",
        "Wall-clock steps seen; none moved a sample's stamp.",
        value=acq.clock_steps,
    )


def families(snap: MetricsSnapshot) -> Iterator[Metric]:
    """The metric families of one snapshot, every name prefixed ``eegd_``."""
    acq = snap.acquisition
    yield CounterMetricFamily(
        "eegd_samples_acquired", "Samples read from the source.", value=acq.samples_acquired
    )
    yield CounterMetricFamily(
        "eegd_samples_lost",
        "Samples the source's clock expected but never came (gaps).",
        value=acq.samples_lost,
    )
    yield CounterMetricFamily(
        "eegd_samples_expected",
        "Samples the source's clock said were due, over every session.",
        value=acq.samples_expected,
    )
    yield CounterMetricFamily(
        "eegd_ledger_gaps", "Gaps (runs of lost samples) over every session.", value=acq.gaps
    )
    yield CounterMetricFamily(
        "eegd_blocks_rejected",
        "Malformed blocks from the source, discarded (their samples are a gap).",
        value=acq.blocks_rejected,
    )
    yield CounterMetricFamily(
        "eegd_source_outages",
        "Times the source failed or stalled and was closed (to be reopened in its session).",
        value=acq.outages,
    )
    yield from _clock_families(acq)
    if snap.samples_recorded is not None:
        yield CounterMetricFamily(
            "eegd_samples_recorded", "Samples the recorder wrote.", value=snap.samples_recorded
        )
    yield CounterMetricFamily(
        "eegd_frames_acquired", "Packets the acquisition published.", value=acq.frames_published
    )
    yield CounterMetricFamily("eegd_sessions", "Acquisition sessions started.", value=acq.sessions)
    yield GaugeMetricFamily(
        "eegd_ledger_consistent",
        "1 while the session's expected samples equal acquired + lost, within one packet.",
        value=float(snap.ledger_consistent),
    )
    info = InfoMetricFamily("eegd_source", "The running source.", labels=["kind", "session"])
    info.add_metric([snap.source_kind, snap.session or ""], {})
    yield info
    yield GaugeMetricFamily(
        "eegd_source_up", "1 while a source session is open.", value=float(snap.session is not None)
    )
    yield GaugeMetricFamily(
        "eegd_source_sample_rate_hertz", "The running sample rate.", value=snap.sample_rate
    )

    topics = snap.bus.topics
    yield _counter(
        "eegd_bus_published",
        "Events published on the bus, per topic.",
        ["topic"],
        (([t.label], s.published) for t, s in topics.items()),
    )
    yield _counter(
        "eegd_bus_dropped",
        "Events dropped from slow bus subscribers, per topic.",
        ["topic"],
        (([t.label], s.dropped) for t, s in topics.items()),
    )
    yield _gauge(
        "eegd_bus_subscribers",
        "Bus subscribers, per topic.",
        ["topic"],
        (([t.label], s.subscribers) for t, s in topics.items()),
    )

    consumers = snap.consumers
    yield _counter(
        "eegd_consumer_delivered",
        "Events queued for each bus consumer (a plugin), its restarts included.",
        ["consumer"],
        (([c.name], c.delivered) for c in consumers),
    )
    yield _counter(
        "eegd_consumer_dropped",
        "Events a bus consumer's full queue lost.",
        ["consumer"],
        (([c.name], c.dropped) for c in consumers),
    )
    yield _gauge(
        "eegd_consumer_queued",
        "Events waiting in a bus consumer's queue now.",
        ["consumer"],
        (([c.name], c.queued) for c in consumers),
    )
    yield _gauge(
        "eegd_consumer_queue_capacity",
        "Events a bus consumer's queue holds at most.",
        ["consumer"],
        (([c.name], c.capacity) for c in consumers),
    )

    cl = snap.clients
    yield GaugeMetricFamily("eegd_clients", "WebSocket clients connected.", value=cl.clients)
    yield _gauge(
        "eegd_route_clients",
        "WebSocket clients connected, per route.",
        ["route"],
        (([r], n) for r, n in snap.clients_per_route.items()),
    )
    yield _gauge(
        "eegd_topic_clients",
        "WebSocket clients subscribed, per topic.",
        ["topic"],
        (([t], n) for t, n in cl.clients_per_topic.items()),
    )
    yield _counter(
        "eegd_frames_encoded",
        "Full-rate frame encodings, per topic (one per event).",
        ["topic"],
        (([t], n) for t, n in cl.encoded.items()),
    )
    yield _counter(
        "eegd_envelopes_encoded",
        "Decimated encodings, per topic.",
        ["topic"],
        (([t], n) for t, n in cl.encoded_envelopes.items()),
    )
    yield _counter(
        "eegd_legacy_encoded",
        "Encodings in the old daemon's format (/ws/data), per topic (one per event).",
        ["topic"],
        (([t], n) for t, n in cl.encoded_legacy.items()),
    )
    yield _counter(
        "eegd_websocket_frames_built",
        "WebSocket frames built, per topic (one per encoding, however many clients).",
        ["topic"],
        (([t], n) for t, n in cl.frames_built.items()),
    )
    yield _counter(
        "eegd_client_frames_written",
        "Data frames written to connected clients: directly from the dispatch or queued.",
        ["path"],
        ((["direct"], cl.written_direct), (["queued"], cl.written_queued)),
    )
    yield _counter(
        "eegd_events_routed",
        "Events that had at least one client, per topic.",
        ["topic"],
        (([t], n) for t, n in cl.events_routed.items()),
    )
    yield CounterMetricFamily(
        "eegd_client_frames_dropped", "Frames dropped from client queues.", value=cl.dropped
    )
    hist = GaugeHistogramMetricFamily(
        "eegd_client_dropped_frames", "Frames dropped per connected client."
    )
    hist.add_metric([], drop_buckets(snap.client_drops), gsum_value=float(sum(snap.client_drops)))
    yield hist
    yield _counter(
        "eegd_clients_closed",
        "Clients the server closed, by reason.",
        ["reason"],
        [
            (["stalled"], cl.closed_stalled),
            (["flooding"], cl.closed_flooding),
            (["unread"], cl.closed_unread),
        ],
    )
    yield _counter(
        "eegd_pump_failures",
        "Topic pumps that failed and were restarted.",
        ["topic"],
        (([t], n) for t, n in cl.pump_failures.items()),
    )
    yield GaugeMetricFamily(
        "eegd_client_tasks", "Client reader and writer tasks alive.", value=cl.client_tasks
    )

    yield _gauge(
        "eegd_task_state",
        "1 for the state each supervised task is in, 0 for the others.",
        ["task", "state"],
        (
            ([s.name, state.value], float(s.state is state))
            for s in snap.tasks
            for state in TaskState
        ),
    )
    yield _counter(
        "eegd_task_restarts",
        "Restarts per supervised task.",
        ["task"],
        (([s.name], s.restarts) for s in snap.tasks),
    )
    yield _gauge(
        "eegd_task_failures",
        "Consecutive failures per supervised task.",
        ["task"],
        (([s.name], s.failures) for s in snap.tasks),
    )

    yield _counter(
        "eegd_plugin_events",
        "Plugins' own counters, by plugin and counter.",
        ["plugin", "counter"],
        (([p, name], n) for p, stats in snap.plugins.items() for name, n in stats.items()),
    )
    yield _counter(
        "eegd_http_connections",
        "HTTP guard counters, by kind.",
        ["kind"],
        (([k], n) for k, n in snap.http.items()),
    )


class DaemonCollector(Collector):
    """Reads a ``MetricsSnapshot`` at every scrape and yields its families."""

    def __init__(self, snapshot: Callable[[], MetricsSnapshot]) -> None:
        self._snapshot = snapshot

    def collect(self) -> Iterable[Metric]:
        return list(families(self._snapshot()))

    def describe(self) -> Iterable[Metric]:
        return []  # names depend on nothing known before the first scrape


class Metrics:
    """The daemon's registry: its counters at scrape time, two histograms, the process."""

    lag_interval = 0.1
    """Seconds the loop-lag probe sleeps between observations."""

    def __init__(self, snapshot: Callable[[], MetricsSnapshot]) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(DaemonCollector(snapshot))
        ProcessCollector(registry=self.registry)
        self.frame_latency = Histogram(
            "eegd_frame_latency_seconds",
            "From the acquisition stamp to the frame handed to a client socket.",
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.loop_lag = Histogram(
            "eegd_event_loop_lag_seconds",
            "How much later than asked the event loop woke a sleeping probe.",
            buckets=LOOP_LAG_BUCKETS,
            registry=self.registry,
        )

    def observe_frame(self, monotonic_ns: int) -> None:
        """A frame stamped at ``monotonic_ns`` is being handed to a client socket now."""
        self.frame_latency.observe((time.monotonic_ns() - monotonic_ns) / 1e9)

    def render(self) -> bytes:
        """The text format of every metric now."""
        return generate_latest(self.registry)

    async def probe(self) -> None:
        """Observe the event loop's lag every ``lag_interval`` until cancelled."""
        await probe_loop_lag(self.loop_lag.observe, self.lag_interval)


async def probe_loop_lag(observe: Callable[[float], None], interval: float) -> None:
    """Sleep ``interval`` again and again, observing how late each wake-up came."""
    while True:
        asked = time.monotonic()
        await asyncio.sleep(interval)
        observe(max(time.monotonic() - asked - interval, 0.0))
