"""``GET /metrics``: the daemon's counters as Prometheus metric families.

``FAMILIES`` declares every family the daemon reads at scrape time (the acquisition ledger,
the bus per topic, the connection manager, the supervisor's tasks, plugins' stats, the HTTP
guard): its name, type, help and how to read its samples from a ``MetricsSnapshot``;
``families`` walks that table, then adds the counters plugins contribute (each
``StatusFigure`` with a ``metric``) and their labelled gauges (``GaugeFamily``: the signal
quality of each channel), so this module names no plugin. Nothing keeps state, so
it is tested with plain values. ``Metrics`` owns the daemon's own ``CollectorRegistry``
(never the global one, so many daemons can run in one process), the two histograms observed
as things happen (frame latency, event-loop lag) and prometheus-client's process collector
(CPU, RSS, open fds).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

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

from eegd.acquisition.clock_model import ClockFit
from eegd.acquisition.loop import AcquisitionStats
from eegd.bus import BusStats, ConsumerStats, TopicStats
from eegd.clock import SYSTEM_CLOCK, Clock
from eegd.net.stream.reporting import ManagerStats
from eegd.plugin import GaugeFamily, StatusFigure
from eegd.supervisor import TaskState, TaskStatus

__all__ = [
    "CLIENT_DROP_BUCKETS",
    "CONTENT_TYPE",
    "FAMILIES",
    "LATENCY_BUCKETS",
    "LOOP_LAG_BUCKETS",
    "DaemonCollector",
    "Family",
    "Metrics",
    "MetricsSnapshot",
    "Samples",
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

#: A family's samples: each one's label values and its value.
Samples = Iterable[tuple[Sequence[str], float]]


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
    figures: Sequence[StatusFigure] = ()
    """What plugins add to the daemon's status; those with a ``metric`` are counters here."""
    ledger_consistent: bool = True
    """Whether the session's expected samples are acquired + lost, within one packet."""
    gauges: Sequence[GaugeFamily] = ()
    """What plugins add to ``/metrics`` as labelled gauges."""


@dataclass(frozen=True, slots=True)
class Family:
    """One metric family of ``/metrics``: what it is called and is, and how to read it.

    ``read`` gives the samples of one snapshot, or None when the family has nothing to say
    now (then it is left out, as the clock model's before a session). A ``gaugehistogram``'s
    samples are the observations it buckets; an ``info``'s values are ignored.
    """

    name: str
    kind: Literal["counter", "gauge", "info", "gaugehistogram"]
    help: str
    read: Callable[[MetricsSnapshot], Samples | None]
    labels: tuple[str, ...] = ()


def drop_buckets(drops: Sequence[float]) -> list[tuple[str, float]]:
    """Cumulative buckets of per-client drop counts (``le`` label, count)."""
    buckets = [(str(bound), float(sum(d <= bound for d in drops))) for bound in CLIENT_DROP_BUCKETS]
    return [*buckets, ("+Inf", float(len(drops)))]


def _one(
    value: Callable[[MetricsSnapshot], float | None],
) -> Callable[[MetricsSnapshot], Samples | None]:
    """The reader of an unlabelled family: its one value, or None to leave it out."""

    def read(snap: MetricsSnapshot) -> Samples | None:
        found = value(snap)
        return None if found is None else [((), found)]

    return read


def _fit(value: Callable[[ClockFit], float]) -> Callable[[MetricsSnapshot], Samples | None]:
    """The reader of one figure of the clock model's fit, left out before there is one."""
    return _one(lambda s: None if s.acquisition.clock is None else value(s.acquisition.clock))


def _per(
    mapping: Callable[[MetricsSnapshot], Mapping[str, int]],
) -> Callable[[MetricsSnapshot], Samples]:
    """The reader of a family labelled by a mapping's keys."""
    return lambda s: (([key], value) for key, value in mapping(s).items())


def _topics(value: Callable[[TopicStats], int]) -> Callable[[MetricsSnapshot], Samples]:
    """The reader of one bus counter per topic."""
    return lambda s: (([t.label], value(stats)) for t, stats in s.bus.topics.items())


def _consumers(value: Callable[[ConsumerStats], int]) -> Callable[[MetricsSnapshot], Samples]:
    """The reader of one counter per bus consumer."""
    return lambda s: (([c.name], value(c)) for c in s.consumers)


def _tasks(value: Callable[[TaskStatus], int]) -> Callable[[MetricsSnapshot], Samples]:
    """The reader of one figure per supervised task."""
    return lambda s: (([t.name], value(t)) for t in s.tasks)


#: Every family read from a snapshot, in the order ``/metrics`` shows them (``eegd_`` names).
FAMILIES: tuple[Family, ...] = (
    Family("eegd_samples_acquired", "counter", "Samples read from the source.",
           _one(lambda s: s.acquisition.samples_acquired)),
    Family("eegd_samples_lost", "counter",
           "Samples the source's clock expected but never came (gaps).",
           _one(lambda s: s.acquisition.samples_lost)),
    Family("eegd_samples_expected", "counter",
           "Samples the source's clock said were due, over every session.",
           _one(lambda s: s.acquisition.samples_expected)),
    Family("eegd_ledger_gaps", "counter", "Gaps (runs of lost samples) over every session.",
           _one(lambda s: s.acquisition.gaps)),
    Family("eegd_blocks_rejected", "counter",
           "Malformed blocks from the source, discarded (their samples are a gap).",
           _one(lambda s: s.acquisition.blocks_rejected)),
    Family("eegd_source_outages", "counter",
           "Times the source failed or stalled and was closed (to be reopened in its session).",
           _one(lambda s: s.acquisition.outages)),
    Family("eegd_clock_residual_seconds", "gauge",
           "How late the last block arrived after the time the clock model gives it.",
           _fit(lambda f: f.residual_s)),
    Family("eegd_clock_drift_ppm", "gauge",
           "The source clock's rate against the host's, minus one, in parts per million.",
           _fit(lambda f: f.drift_ppm)),
    Family("eegd_clock_arrivals_rejected", "counter",
           "Blocks that arrived before their samples could have been taken (un-paced).",
           _fit(lambda f: f.rejected)),
    Family("eegd_clock_steps", "counter", "Wall-clock steps seen; none moved a sample's stamp.",
           _one(lambda s: s.acquisition.clock_steps)),
    Family("eegd_frames_acquired", "counter", "Packets the acquisition published.",
           _one(lambda s: s.acquisition.frames_published)),
    Family("eegd_sessions", "counter", "Acquisition sessions started.",
           _one(lambda s: s.acquisition.sessions)),
    Family("eegd_ledger_consistent", "gauge",
           "1 while the session's expected samples equal acquired + lost, within one packet.",
           _one(lambda s: float(s.ledger_consistent))),
    Family("eegd_source", "info", "The running source.",
           lambda s: [([s.source_kind, s.session or ""], 1.0)], ("kind", "session")),
    Family("eegd_source_up", "gauge", "1 while a source session is open.",
           _one(lambda s: float(s.session is not None))),
    Family("eegd_source_sample_rate_hertz", "gauge", "The running sample rate.",
           _one(lambda s: s.sample_rate)),
    Family("eegd_bus_published", "counter", "Events published on the bus, per topic.",
           _topics(lambda t: t.published), ("topic",)),
    Family("eegd_bus_dropped", "counter", "Events dropped from slow bus subscribers, per topic.",
           _topics(lambda t: t.dropped), ("topic",)),
    Family("eegd_bus_subscribers", "gauge", "Bus subscribers, per topic.",
           _topics(lambda t: t.subscribers), ("topic",)),
    Family("eegd_consumer_delivered", "counter",
           "Events queued for each bus consumer (a plugin), its restarts included.",
           _consumers(lambda c: c.delivered), ("consumer",)),
    Family("eegd_consumer_dropped", "counter", "Events a bus consumer's full queue lost.",
           _consumers(lambda c: c.dropped), ("consumer",)),
    Family("eegd_consumer_queued", "gauge", "Events waiting in a bus consumer's queue now.",
           _consumers(lambda c: c.queued), ("consumer",)),
    Family("eegd_consumer_queue_capacity", "gauge",
           "Events a bus consumer's queue holds at most.",
           _consumers(lambda c: c.capacity), ("consumer",)),
    Family("eegd_clients", "gauge", "WebSocket clients connected.",
           _one(lambda s: s.clients.clients)),
    Family("eegd_route_clients", "gauge", "WebSocket clients connected, per route.",
           _per(lambda s: s.clients_per_route), ("route",)),
    Family("eegd_topic_clients", "gauge", "WebSocket clients subscribed, per topic.",
           _per(lambda s: s.clients.clients_per_topic), ("topic",)),
    Family("eegd_frames_encoded", "counter",
           "Full-rate frame encodings, per topic (one per event).",
           _per(lambda s: s.clients.encoded), ("topic",)),
    Family("eegd_envelopes_encoded", "counter", "Decimated encodings, per topic.",
           _per(lambda s: s.clients.encoded_envelopes), ("topic",)),
    Family("eegd_legacy_encoded", "counter",
           "Encodings in the old daemon's format (/ws/data), per topic (one per event).",
           _per(lambda s: s.clients.encoded_legacy), ("topic",)),
    Family("eegd_websocket_frames_built", "counter",
           "WebSocket frames built, per topic (one per encoding, however many clients).",
           _per(lambda s: s.clients.frames_built), ("topic",)),
    Family("eegd_client_frames_written", "counter",
           "Data frames written to connected clients: directly from the dispatch or queued.",
           _per(lambda s: {"direct": s.clients.written_direct, "queued": s.clients.written_queued}),
           ("path",)),
    Family("eegd_events_routed", "counter", "Events that had at least one client, per topic.",
           _per(lambda s: s.clients.events_routed), ("topic",)),
    Family("eegd_client_frames_dropped", "counter", "Frames dropped from client queues.",
           _one(lambda s: s.clients.dropped)),
    Family("eegd_client_dropped_frames", "gaugehistogram", "Frames dropped per connected client.",
           lambda s: (((), drops) for drops in s.client_drops)),
    Family("eegd_clients_closed", "counter", "Clients the server closed, by reason.",
           _per(lambda s: {
               "stalled": s.clients.closed_stalled,
               "flooding": s.clients.closed_flooding,
               "unread": s.clients.closed_unread,
           }),
           ("reason",)),
    Family("eegd_pump_failures", "counter", "Topic pumps that failed and were restarted.",
           _per(lambda s: s.clients.pump_failures), ("topic",)),
    Family("eegd_client_tasks", "gauge", "Client reader and writer tasks alive.",
           _one(lambda s: s.clients.client_tasks)),
    Family("eegd_task_state", "gauge",
           "1 for the state each supervised task is in, 0 for the others.",
           lambda s: (([t.name, state.value], float(t.state is state))
                      for t in s.tasks for state in TaskState),
           ("task", "state")),
    Family("eegd_task_restarts", "counter", "Restarts per supervised task.",
           _tasks(lambda t: t.restarts), ("task",)),
    Family("eegd_task_failures", "gauge", "Consecutive failures per supervised task.",
           _tasks(lambda t: t.failures), ("task",)),
    Family("eegd_plugin_events", "counter", "Plugins' own counters, by plugin and counter.",
           lambda s: (([p, name], n) for p, stats in s.plugins.items()
                      for name, n in stats.items()),
           ("plugin", "counter")),
    Family("eegd_http_connections", "counter", "HTTP guard counters, by kind.",
           _per(lambda s: s.http), ("kind",)),
)  # fmt: skip


def _build(family: Family, samples: Samples) -> Metric:
    """The prometheus-client family of ``family``'s samples."""
    labels = list(family.labels)
    if family.kind == "gaugehistogram":
        drops = [value for _, value in samples]
        histogram = GaugeHistogramMetricFamily(family.name, family.help)
        histogram.add_metric([], drop_buckets(drops), gsum_value=float(sum(drops)))
        return histogram
    if family.kind == "info":
        info = InfoMetricFamily(family.name, family.help, labels=labels)
        for values, _ in samples:
            info.add_metric(list(values), {})
        return info
    kind = CounterMetricFamily if family.kind == "counter" else GaugeMetricFamily
    metric = kind(family.name, family.help, labels=labels)
    for values, value in samples:
        metric.add_metric(list(values), value)
    return metric


def families(snap: MetricsSnapshot) -> Iterator[Metric]:
    """The metric families of one snapshot: the table's, then the plugins' figures and
    gauges."""
    for family in FAMILIES:
        samples = family.read(snap)
        if samples is not None:
            yield _build(family, samples)
    for figure in snap.figures:
        if figure.metric is not None:
            yield CounterMetricFamily(figure.metric, figure.help, value=figure.value)
    for gauge in snap.gauges:
        yield _build(
            Family(gauge.name, "gauge", gauge.help, lambda _: (), gauge.labels), gauge.samples
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

    def __init__(
        self, snapshot: Callable[[], MetricsSnapshot], clock: Clock = SYSTEM_CLOCK
    ) -> None:
        self._clock = clock
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
        self.frame_latency.observe(self._clock.monotonic() - monotonic_ns / 1e9)

    def render(self) -> bytes:
        """The text format of every metric now."""
        return generate_latest(self.registry)

    async def probe(self) -> None:
        """Observe the event loop's lag every ``lag_interval`` until cancelled."""
        await probe_loop_lag(self.loop_lag.observe, self.lag_interval, self._clock)


async def probe_loop_lag(
    observe: Callable[[float], None], interval: float, clock: Clock = SYSTEM_CLOCK
) -> None:
    """Sleep ``interval`` on ``clock`` again and again, observing how late each wake-up came."""
    while True:
        asked = clock.monotonic()
        await clock.sleep(interval)
        observe(max(clock.monotonic() - asked - interval, 0.0))
