"""The mapping from the daemon's counters to Prometheus families, without a server."""

from __future__ import annotations

import asyncio

import pytest
from prometheus_client.parser import text_string_to_metric_families

from eegd.acquisition.clock_model import ClockFit
from eegd.acquisition.ledger import SessionLedger
from eegd.acquisition.loop import AcquisitionStats
from eegd.bus import BusStats, TopicStats
from eegd.events import Topic
from eegd.metrics import Metrics, MetricsSnapshot, drop_buckets, probe_loop_lag
from eegd.net.stream.reporting import ManagerStats
from eegd.supervisor import TaskState, TaskStatus
from tests.support.clocks import FakeClock
from tests.support.timing import scaled


def snapshot(drops: tuple[int, ...] = (0, 3, 250)) -> MetricsSnapshot:
    return MetricsSnapshot(
        acquisition=AcquisitionStats(
            frames_published=10,
            samples_acquired=320,
            samples_lost=32,
            sessions=2,
            clock=ClockFit(residual_s=0.0015, drift_ppm=-12.5, observations=10, rejected=1),
            clock_steps=1,
        ),
        bus=BusStats(topics={Topic.RAW_EEG: TopicStats(published=10, subscribers=3, dropped=1)}),
        clients=ManagerStats(
            clients=3,
            clients_per_topic={"filtered_eeg": 2},
            encoded={"filtered_eeg": 9},
            encoded_envelopes={"filtered_eeg": 4},
            frames_built={"filtered_eeg": 13},
            events_routed={"filtered_eeg": 9},
            written_direct=20,
            written_queued=7,
            dropped=253,
            closed_stalled=1,
            closed_flooding=2,
            closed_unread=3,
            pump_failures={"fft": 1},
            client_tasks=6,
        ),
        clients_per_route={"/ws": 2, "/ws/filtered_eeg": 1},
        client_drops=drops,
        tasks=[TaskStatus("acquisition", TaskState.RUNNING, 4, 0, None)],
        source_kind="synthetic",
        session="s1",
        sample_rate=250.0,
        plugins={"brain_waves": {"spectra_computed": 7}},
        http={"timed_out": 5},
    )


def scrape(metrics: Metrics) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = metrics.render().decode()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def test_every_counter_is_a_named_sample() -> None:
    samples = scrape(Metrics(snapshot))
    expected = {
        ("eegd_samples_acquired_total", ()): 320,
        ("eegd_samples_lost_total", ()): 32,
        ("eegd_frames_acquired_total", ()): 10,
        ("eegd_sessions_total", ()): 2,
        ("eegd_source_up", ()): 1,
        ("eegd_ledger_consistent", ()): 1,
        ("eegd_source_sample_rate_hertz", ()): 250,
        ("eegd_clock_residual_seconds", ()): 0.0015,
        ("eegd_clock_drift_ppm", ()): -12.5,
        ("eegd_clock_arrivals_rejected_total", ()): 1,
        ("eegd_clock_steps_total", ()): 1,
        ("eegd_bus_published_total", (("topic", "raw_eeg"),)): 10,
        ("eegd_bus_dropped_total", (("topic", "raw_eeg"),)): 1,
        ("eegd_bus_subscribers", (("topic", "raw_eeg"),)): 3,
        ("eegd_clients", ()): 3,
        ("eegd_route_clients", (("route", "/ws"),)): 2,
        ("eegd_topic_clients", (("topic", "filtered_eeg"),)): 2,
        ("eegd_frames_encoded_total", (("topic", "filtered_eeg"),)): 9,
        ("eegd_envelopes_encoded_total", (("topic", "filtered_eeg"),)): 4,
        ("eegd_client_frames_dropped_total", ()): 253,
        ("eegd_clients_closed_total", (("reason", "stalled"),)): 1,
        ("eegd_clients_closed_total", (("reason", "flooding"),)): 2,
        ("eegd_clients_closed_total", (("reason", "unread"),)): 3,
        ("eegd_pump_failures_total", (("topic", "fft"),)): 1,
        ("eegd_task_state", (("state", "running"), ("task", "acquisition"))): 1,
        ("eegd_task_state", (("state", "gave_up"), ("task", "acquisition"))): 0,
        ("eegd_task_restarts_total", (("task", "acquisition"),)): 4,
        (
            "eegd_plugin_events_total",
            (("counter", "spectra_computed"), ("plugin", "brain_waves")),
        ): 7,
        ("eegd_http_connections_total", (("kind", "timed_out"),)): 5,
        ("eegd_client_dropped_frames_gcount", ()): 3,
        ("eegd_client_dropped_frames_gsum", ()): 253,
    }
    assert {key: samples.get(key) for key in expected} == expected
    assert samples[("eegd_source_info", (("kind", "synthetic"), ("session", "s1")))] == 1
    assert ("process_open_fds", ()) in samples


def test_client_drops_are_buckets_not_one_series_per_client() -> None:
    assert drop_buckets([0, 3, 250]) == [
        ("0.0", 1.0),
        ("1.0", 1.0),
        ("10.0", 2.0),
        ("100.0", 2.0),
        ("1000.0", 3.0),
        ("10000.0", 3.0),
        ("+Inf", 3.0),
    ]
    samples = scrape(Metrics(lambda: snapshot(drops=tuple(range(50)))))
    assert sum(name == "eegd_client_dropped_frames_bucket" for name, _ in samples) == 7


def test_registries_are_per_daemon() -> None:
    one, two = Metrics(snapshot), Metrics(snapshot)
    one.observe_frame(0)
    assert scrape(one)[("eegd_frame_latency_seconds_count", ())] == 1
    assert scrape(two)[("eegd_frame_latency_seconds_count", ())] == 0


def test_frame_latency_is_read_on_the_daemons_clock() -> None:
    metrics = Metrics(snapshot, clock=FakeClock(100.0).asyncio)
    metrics.observe_frame(99_997_000_000)  # stamped 3 ms before the clock's now
    samples = scrape(metrics)
    assert samples[("eegd_frame_latency_seconds_sum", ())] == pytest.approx(0.003)
    assert samples[("eegd_frame_latency_seconds_bucket", (("le", "0.0025"),))] == 0
    assert samples[("eegd_frame_latency_seconds_bucket", (("le", "0.005"),))] == 1


async def test_the_loop_lag_probe_observes_each_wake_up() -> None:
    observed: list[float] = []
    enough = asyncio.Event()

    def observe(lag: float) -> None:
        observed.append(lag)
        if len(observed) >= 3:
            enough.set()

    probe = asyncio.create_task(probe_loop_lag(observe, 0.1, FakeClock(5.0, late=0.02).asyncio))
    await asyncio.wait_for(enough.wait(), timeout=scaled(10))
    probe.cancel()
    assert observed[:3] == pytest.approx([0.02, 0.02, 0.02])


def test_the_session_ledger_is_consistent_within_one_packet() -> None:
    def ledger(expected: int, acquired: int, lost: int) -> SessionLedger:
        return SessionLedger("s", 250.0, expected, acquired, lost, frames=0, batch_size=32)

    assert ledger(expected=640, acquired=576, lost=64).consistent
    assert ledger(expected=640, acquired=576, lost=32).consistent
    assert not ledger(expected=640, acquired=640, lost=64).consistent
