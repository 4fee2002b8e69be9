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
            assert samples[("eegd_route_clients", (("route", "/ws/filtered_eeg"),))] == 1
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
            expected = ("eegd_samples_expected_total", ())
            assert after[expected] - before[expected] == 5 * batch
            delivered = ("eegd_consumer_delivered_total", (("consumer", "voltage_filter"),))
            assert after[delivered] - before[delivered] >= 5
            assert ("eegd_consumer_queue_capacity", (("consumer", "voltage_filter"),)) in after


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


async def test_the_ledger_says_what_each_consumer_and_client_got() -> None:
    async with live_daemon(stepped=True) as live:
        async with watching(live) as watcher:
            last = await live.release(6)
            await watcher.wait_frame(last)
            ledger = live.daemon.status()["ledger"]
        consumers = {consumer["name"]: consumer for consumer in ledger["consumers"]}
        assert {"voltage_filter", "brain_waves", "recorder"} <= set(consumers)
        assert consumers["voltage_filter"]["delivered"] >= 6
        assert consumers["voltage_filter"]["dropped"] == 0
        assert consumers["recorder"]["topics"] == ["aux", "marker", "quality", "raw_eeg", "system"]
        (client,) = ledger["clients"]
        assert client["route"] == "/ws/filtered_eeg"
        assert client["topics"] == ["filtered_eeg"]
        assert client["frames_sent"] == len(watcher.frame_ids)
        assert client["frames_dropped"] == 0
        assert ledger["samples_recorded"] == 0  # the recorder runs, idle


def series(samples: Samples) -> set[tuple[str, tuple[tuple[str, str], ...]]]:
    """The names and labels of a scrape's samples, without their values."""
    return set(samples)


async def test_a_scrape_is_the_same_series_with_1_or_50_clients() -> None:
    """What a scrape walks does not grow with clients: no series per client (the cost of
    one scrape with 50 clients is measured in bench/metrics.py)."""
    async with live_daemon(stepped=True) as live, aiohttp.ClientSession() as session:
        first = await session.ws_connect(live.ws_url + "ws/filtered_eeg")
        await wait_until(lambda: live.daemon.connections.stats().clients == 1)
        one = series(await scrape(live))
        others = [await session.ws_connect(live.ws_url + "ws/filtered_eeg") for _ in range(49)]
        await wait_until(lambda: live.daemon.connections.stats().clients == 50)
        fifty = await scrape(live)
        assert series(fifty) == one
        assert fifty[("eegd_clients", ())] == 50
        assert fifty[("eegd_client_dropped_frames_gcount", ())] == 50
        for ws in [first, *others]:
            await ws.close()


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
