"""The ``quality`` topic end to end: a daemon whose faulty source holds one channel flat and
one at full scale, and a client on a real WebSocket that subscribes to ``quality`` by name
and reads each channel's verdict."""

from __future__ import annotations

import json
from typing import Any

import aiohttp

from tests.support.live import live_daemon
from tests.support.timing import scaled

FAULTS = """
[source]
kind = "faulty"
channels = 8

[source.faulty]
wraps = "synthetic"
flat_channels = [2]     # C3
railed_channels = [7]   # O2

[source.faulty.options]
alpha = false
"""


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
        live_daemon(FAULTS) as live,
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
    plugin = live.daemon.plugins["signal_quality"]
    assert plugin.stats()["verdicts_published"] >= 1
