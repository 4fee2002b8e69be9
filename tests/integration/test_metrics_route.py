"""``GET /metrics`` on a live daemon: the text format parses and the counters follow the data."""

from __future__ import annotations

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

from tests.support.live import LiveDaemon, live_daemon, watching
from tests.support.waiting import wait_until

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


async def scrape(live: LiveDaemon) -> Samples:
    async with aiohttp.ClientSession() as session, session.get(live.url + "metrics") as response:
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("text/plain")
        text = await response.text()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


async def test_counters_move_with_the_released_data() -> None:
    async with live_daemon(stepped=True) as live:
        batch = live.daemon.config.source.batch_size
        before = await scrape(live)
        assert before[("eegd_source_up", ())] == 1
        assert before[("eegd_sessions_total", ())] == 1
        assert before[("eegd_task_state", (("state", "running"), ("task", "acquisition")))] == 1
        async with watching(live) as watcher:
            samples = await scrape(live)
            assert samples[("eegd_clients", ())] == 1
            assert samples[("eegd_route_clients", (("route", "/ws/data"),))] == 1
            last = await live.release(5)
            await watcher.wait_frame(last)
            after = await scrape(live)
            acquired = ("eegd_samples_acquired_total", ())
            assert after[acquired] - before[acquired] == 5 * batch
            assert after[("eegd_samples_lost_total", ())] == 0
            published = ("eegd_bus_published_total", (("topic", "raw_eeg"),))
            assert after[published] - before[published] == 5
            encoded = ("eegd_frames_encoded_total", (("topic", "filtered_eeg"),))
            assert after[encoded] - before.get(encoded, 0) >= 5
            latency = ("eegd_frame_latency_seconds_count", ())
            assert after[latency] - before[latency] >= 5
            assert ("process_resident_memory_bytes", ()) in after
            assert after[("eegd_ledger_consistent", ())] == 1


async def test_the_status_ledger_holds_per_session() -> None:
    async with live_daemon(stepped=True) as live, aiohttp.ClientSession() as session:
        batch = live.daemon.config.source.batch_size
        before = live.daemon.status()["ledger"]["session"]
        await live.release(4)
        async with session.get(live.url + "api/status") as response:
            ledger = (await response.json())["ledger"]
        assert ledger["consistent"] is True
        assert ledger["session"]["acquired"] - before["acquired"] == 4 * batch
        assert (
            ledger["session"]["expected"]
            == ledger["session"]["acquired"] + ledger["session"]["lost"]
        )


async def test_the_loop_lag_probe_has_observations() -> None:
    async with live_daemon(stepped=True) as live:
        lag = live.daemon.metrics.loop_lag

        def observed() -> bool:
            return any(
                sample.name.endswith("_count") and sample.value >= 1
                for family in lag.collect()
                for sample in family.samples
            )

        await wait_until(observed, timeout=10)
        samples = await scrape(live)
        assert samples[("eegd_event_loop_lag_seconds_count", ())] >= 1
