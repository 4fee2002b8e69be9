"""The ``quality`` topic end to end: a daemon whose faulty source holds one channel flat and
one at full scale, a client on a real WebSocket that subscribes to ``quality`` by name and
reads each channel's verdict, and a recording whose sidecar says them."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

import eegd.client
from eegd.events import OutputEvent
from tests.support.faults import FLAT_C3_RAILED_O2
from tests.support.live import live_daemon
from tests.support.timing import scaled
from tests.support.waiting import wait_until


async def _next(ws: aiohttp.ClientWebSocketResponse, kind: str) -> dict[str, Any]:
    """The next text message of type ``kind``, skipping the others."""
    while True:
        message = await ws.receive(timeout=scaled(10.0))
        assert message.type is aiohttp.WSMsgType.TEXT, message
        decoded: dict[str, Any] = json.loads(message.data)
        if decoded["type"] == kind:
            return decoded


async def test_a_quality_subscriber_gets_the_railed_and_the_flat_channel_named() -> None:
    async with (
        live_daemon(FLAT_C3_RAILED_O2) as live,
        aiohttp.ClientSession() as session,
        session.ws_connect(live.ws_url + "ws") as ws,
    ):
        hello = await _next(ws, "hello")
        assert hello["topics"][-1] == "quality"

        await ws.send_str('{"type": "subscribe", "topics": ["qualty"]}')
        refused = await _next(ws, "error")
        assert refused["code"] == "unknown_topic"
        assert "qualty" in refused["message"]
        assert "quality)" in refused["message"]

        await ws.send_str('{"type": "subscribe", "topics": ["Quality"]}')
        assert (await _next(ws, "subscribed"))["topics"] == ["quality"]
        quality = await _next(ws, "quality")
        async with session.get(live.url + "api/status") as reply:
            status = await reply.json()
            counted = status["plugins"]["signal_quality"]
        async with session.get(live.url + "metrics") as reply:
            metrics = await reply.text()

    assert quality["session"] == hello["session"]
    assert quality["window_s"] == 1.0
    channels = {channel["name"]: channel for channel in quality["channels"]}
    assert list(channels) == hello["channels"]
    assert channels["O2"]["level"] == "bad"
    assert channels["O2"]["reason"].startswith("railed")
    assert channels["O2"]["railed_percent"] >= 99
    assert channels["C3"]["level"] == "bad"
    assert channels["C3"]["reason"].startswith("flat")
    assert channels["C3"]["peak_to_peak_uv"] == 0
    for name in ("C4", "P3", "P4", "O1"):
        assert channels[name]["level"] == "good", channels[name]
    # Every verdict judged O2 and C3 bad and no channel as warn: the counters say so.
    published = counted["verdicts_published"]
    assert published >= 1
    assert counted["channel_verdicts_bad"] == 2 * published
    assert counted["channel_verdicts_warn"] == 0
    assert (status["quality_channels_bad"], status["quality_channels_warn"]) == (2, 0)
    line = 'eegd_plugin_events_total{counter="channel_verdicts_bad",plugin="signal_quality"}'
    assert line in metrics
    assert_quality_gauges(metrics, hello["channels"])


def assert_quality_gauges(metrics: str, channels: list[str]) -> None:
    """The scrape, read by Prometheus's own parser, says per channel what the verdicts say:
    one series per verdict with 1 on the one it got, a grade, and the measures."""
    gauges: dict[str, dict[tuple[tuple[str, str], ...], float]] = {}
    for family in text_string_to_metric_families(metrics):
        if family.name.startswith("eegd_channel_"):
            assert family.type == "gauge", family
            for sample in family.samples:
                labels = tuple(sorted(sample.labels.items()))
                gauges.setdefault(sample.name, {})[labels] = sample.value

    def per_channel(name: str) -> dict[str, float]:
        return {dict(labels)["channel"]: value for labels, value in gauges[name].items()}

    verdicts = gauges["eegd_channel_quality"]
    names = {"good", "line_noise", "clipping", "flat", "railed", "lead_off"}
    assert set(verdicts) == {
        (("channel", channel), ("verdict", verdict)) for channel in channels for verdict in names
    }
    got = {
        dict(labels)["channel"]: dict(labels)["verdict"]
        for labels, value in verdicts.items()
        if value == 1
    }
    assert list(verdicts.values()).count(1) == len(channels)  # one verdict each, 0 for the rest
    assert (got["C3"], got["O2"]) == ("flat", "railed")
    assert all(got[name] == "good" for name in ("C4", "P3", "P4", "O1")), got
    grades = per_channel("eegd_channel_quality_grade")
    assert (grades["C3"], grades["O2"], grades["C4"]) == (2, 2, 0)
    swing = per_channel("eegd_channel_peak_to_peak_volts")
    assert swing["C3"] == 0
    assert 1e-6 < swing["C4"] < 1e-3  # EEG: microvolts to a millivolt
    at_full_scale = per_channel("eegd_channel_full_scale_ratio")
    assert (at_full_scale["O2"], at_full_scale["C4"]) == (1, 0)
    line = gauges["eegd_channel_line_noise_volts"]
    assert {dict(labels)["frequency"] for labels in line} == {"50", "60"}
    assert {dict(labels)["channel"] for labels in line} == set(channels)


async def test_a_recordings_sidecar_says_the_quality_at_its_start_and_its_stop(
    tmp_path: Path,
) -> None:
    toml = FLAT_C3_RAILED_O2 + f'\n[recording]\ndirectory = "{tmp_path}"\n'
    async with live_daemon(toml) as live, aiohttp.ClientSession() as session:
        plugins = live.daemon.plugins
        await wait_until(lambda: plugins["signal_quality"].summary() is not None, 10.0)
        await wait_until(lambda: plugins["recorder"].ready, 10.0)
        async with session.post(live.url + "api/recordings", json={"name": "q1"}) as reply:
            assert reply.status == 200, await reply.text()
        started = json.loads((tmp_path / "q1.json").read_text())
        before = plugins["signal_quality"].summary()
        await wait_until(lambda: plugins["signal_quality"].summary() != before, 10.0)
        async with session.post(live.url + "api/recordings/current/stop") as reply:
            assert reply.status == 200, await reply.text()
        stopped = json.loads((tmp_path / "q1.json").read_text())

    def levels(summary: dict[str, Any]) -> dict[str, str]:
        return {channel["name"]: channel["level"] for channel in summary["channels"]}

    at_start = started["quality_at_start"]
    assert levels(at_start)["O2"] == "bad"
    assert levels(at_start)["C3"] == "bad"
    assert levels(at_start)["O1"] == "good"
    assert stopped["quality_at_start"] == at_start
    at_stop = stopped["quality_at_stop"]
    assert at_stop["timestamp"] > at_start["timestamp"]
    assert levels(at_stop) == levels(at_start)
    assert at_stop["session"] == at_start["session"]


async def test_the_python_client_yields_the_verdicts_as_output_events() -> None:
    async with (
        live_daemon(FLAT_C3_RAILED_O2) as live,
        eegd.client.connect(live.ws_url + "ws", ["quality"]) as stream,
    ):
        async with asyncio.timeout(scaled(10.0)):
            item = await anext(stream)
    assert isinstance(item, OutputEvent)
    assert item.topic.label == "quality"
    assert isinstance(item.payload, dict)
    levels = {channel["name"]: channel["level"] for channel in item.payload["channels"]}
    assert (levels["O2"], levels["C3"], levels["O1"]) == ("bad", "bad", "good")
