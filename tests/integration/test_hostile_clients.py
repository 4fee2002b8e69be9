"""Hostile WebSocket and HTTP peers: each is answered or cut off, and nobody else loses a frame.

Every test runs the daemon in-process on a real port with a ``Watcher`` on another
connection; it asserts the reply the hostile peer gets, that the watcher received every
frame in order, and that the daemon's memory stayed bounded. Where the hostile peer is not
timed against real deadlines, the source runs on a stepped clock and the test releases the
frames it waits for.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import re
import socket
from typing import Any

import aiohttp
import pytest

from eegd.events import FilteredEegPacket, SystemEventKind
from eegd.net.protocol import encode_client_message
from eegd.net.protocol.messages import Ping
from eegd.net.stream.clients import MAX_CONTROL_QUEUED
from tests.support.live import LiveDaemon, Watcher, live_daemon, rss_kib, watching
from tests.support.rawws import (
    PING,
    TEXT,
    client_frame,
    close_code,
    raw_websocket,
    read_until_closed,
)
from tests.support.timing import scaled
from tests.support.waiting import wait_until

#: What a hostile client may add to the daemon's memory before a test calls it unbounded.
RSS_GROWTH_LIMIT_KIB = 60 * 1024


async def get_json(live: LiveDaemon, path: str) -> Any:
    async with aiohttp.ClientSession() as session, session.get(live.url + path) as response:
        return await response.json()


async def next_reply(ws: aiohttp.ClientWebSocketResponse, kind: str) -> dict[str, Any]:
    async with asyncio.timeout(scaled(10)):
        while True:
            message = await ws.receive()
            assert message.type is aiohttp.WSMsgType.TEXT, message
            reply: dict[str, Any] = json.loads(message.data)
            if reply["type"] == kind:
                return reply


async def released(live: LiveDaemon, watcher: Watcher, frames: int) -> None:
    """Release ``frames`` packets from the stepped source and wait until the watcher has them."""
    await watcher.wait_frame(await live.release(frames))


async def test_a_ping_flood_is_refused_then_closed_and_nobody_else_notices() -> None:
    async with live_daemon(stepped=True) as live, watching(live) as watcher:
        rss_before = rss_kib()
        flood = await asyncio.to_thread(raw_websocket, live.port, "/ws")
        ping = client_frame(TEXT, encode_client_message(Ping()).encode())
        try:
            await asyncio.to_thread(flood.sendall, ping * 5000)
        except (BrokenPipeError, ConnectionResetError):
            pass  # closed while still flooding: what should happen
        received = await asyncio.to_thread(read_until_closed, flood)
        flood.close()
        assert close_code(received) == 1008
        assert b"rate_limited" in received
        await released(live, watcher, 4)
        stats = live.daemon.connections.stats()
        assert stats.closed_flooding == 1
        assert rss_kib() - rss_before < RSS_GROWTH_LIMIT_KIB
        watcher.assert_contiguous()


async def test_a_client_that_never_reads_its_replies_is_closed_when_they_pile_up() -> None:
    toml = "[server]\nmax_messages_per_s = 100000\nstall_timeout_s = 60\n"
    async with live_daemon(toml) as live, watching(live) as watcher:
        rss_before = rss_kib()
        greedy = await asyncio.to_thread(raw_websocket, live.port, "/ws")
        subscribe = '{"type":"subscribe","topics":["raw_eeg","filtered_eeg"]}'
        ping = client_frame(TEXT, encode_client_message(Ping()).encode())
        await asyncio.to_thread(greedy.sendall, client_frame(TEXT, subscribe.encode()))
        # Its socket fills with data it does not read; then its pongs have nowhere to go.
        connections = live.daemon.connections
        sent = 0
        while connections.stats().closed_unread == 0 and sent < 200 * MAX_CONTROL_QUEUED:
            try:
                await asyncio.to_thread(greedy.sendall, ping * 64)
            except (BrokenPipeError, ConnectionResetError):
                break
            sent += 64
        await wait_until(lambda: connections.stats().closed_unread == 1, timeout=30)
        greedy.close()
        await watcher.wait_frames(4)
        assert rss_kib() - rss_before < RSS_GROWTH_LIMIT_KIB
        watcher.assert_contiguous()


async def test_ping_frame_zombies_are_aborted_and_their_slots_freed() -> None:
    # The default heartbeat: aiohttp closes a client whose pong is later than half of it, and
    # the watcher shares this busy event loop with the daemon and the flooders.
    toml = "[server]\nmax_clients = 4\nstall_timeout_s = 1.0\n"
    async with live_daemon(toml) as live, watching(live) as watcher:
        zombies = []
        for _ in range(3):
            zombie = await asyncio.to_thread(raw_websocket, live.port, "/ws", 1024)
            zombie.setblocking(False)
            zombies.append(zombie)
        ping = client_frame(PING, b"z" * 125)
        connections = live.daemon.connections

        async def flood(zombie: socket.socket) -> None:
            loop = asyncio.get_running_loop()
            try:
                while True:
                    await loop.sock_sendall(zombie, ping * 512)
            except OSError:
                return  # the daemon cut it off

        flooders = [asyncio.create_task(flood(zombie)) for zombie in zombies]
        await wait_until(lambda: connections.stats().closed_stalled == 3, timeout=30)
        for flooder in flooders:
            flooder.cancel()
        await asyncio.gather(*flooders, return_exceptions=True)
        for zombie in zombies:
            zombie.close()
        async with aiohttp.ClientSession() as session:
            async with session.ws_connect(live.ws_url + "ws") as newcomer:
                hello = await next_reply(newcomer, "hello")
        assert hello["channels"][0] == "Fp1"
        await watcher.wait_frames(4)
        watcher.assert_contiguous()


async def test_slow_and_silent_http_peers_are_cut_off_and_health_still_answers() -> None:
    toml = "[server]\nheader_timeout_s = 1.0\nmax_pending_connections = 32\n"
    async with live_daemon(toml) as live, watching(live) as watcher:
        loop = asyncio.get_running_loop()
        peers = []
        for index in range(180):
            peer = socket.socket()
            peer.setblocking(False)
            await loop.sock_connect(peer, ("127.0.0.1", live.port))
            if index < 150:  # half a request; the rest never comes
                await loop.sock_sendall(peer, b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-")
            peers.append(peer)
        assert (await get_json(live, "healthz")) == {"status": "ok"}
        guard = live.daemon.server.guard.stats

        async def closed_by_daemon(peer: socket.socket) -> None:
            try:
                while await loop.sock_recv(peer, 4096):
                    pass
            except ConnectionResetError:
                pass

        async with asyncio.timeout(scaled(15)):
            await asyncio.gather(*(closed_by_daemon(peer) for peer in peers))
        for peer in peers:
            peer.close()
        assert guard.timed_out + guard.evicted >= 180
        assert guard.evicted >= 180 - 32
        await watcher.wait_frames(4)
        watcher.assert_contiguous()


async def test_a_failing_pump_is_restarted_at_once_and_reported(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async with (
        live_daemon(stepped=True) as live,
        watching(live) as watcher,
        aiohttp.ClientSession() as session,
        session.ws_connect(live.ws_url + "ws") as observer,
    ):
        await next_reply(observer, "hello")
        await released(live, watcher, 1)
        # A packet whose frame id does not fit the wire's u64: what a buggy plugin might publish.
        filtered = asyncio.create_task(wait_for_filtered(live))
        await live.release_until(filtered.done)
        sample = await filtered
        live.daemon.bus.publish(dataclasses.replace(sample, frame_id=1 << 64))
        failed = await next_reply(observer, "system")
        while failed["kind"] != SystemEventKind.TASK_FAILED:
            failed = await next_reply(observer, "system")
        assert failed["detail"]["task"] == "pump-filtered_eeg"
        await released(live, watcher, 8)
        status = await get_json(live, "api/status")
        assert status["clients"]["pump_failures"]["filtered_eeg"] == 1
        watcher.assert_contiguous()
    assert any("pump failed" in record.getMessage() for record in caplog.records)


async def wait_for_filtered(live: LiveDaemon) -> FilteredEegPacket:
    """The next ``filtered_eeg`` packet on the daemon's bus."""
    with live.daemon.bus.subscribe([FilteredEegPacket.topic]) as subscription:
        async with asyncio.timeout(scaled(10)):
            event = await subscription.get()
    assert isinstance(event, FilteredEegPacket)
    return event


async def test_a_message_of_exactly_the_limit_is_read_and_a_larger_one_refused() -> None:
    toml = "[server]\nmax_message_bytes = 1024\n"
    async with (
        live_daemon(toml, stepped=True) as live,
        watching(live) as watcher,
        aiohttp.ClientSession() as session,
        session.ws_connect(live.ws_url + "ws") as client,
    ):
        await next_reply(client, "hello")
        exact = '{"type":"ping"}' + " " * (1024 - 15)
        assert len(exact) == 1024
        await client.send_str(exact)
        assert (await next_reply(client, "pong"))["type"] == "pong"
        await client.send_str(exact + " ")
        refused = await next_reply(client, "error")
        assert refused["code"] == "too_large"
        assert "1024" in refused["message"]
        await client.send_str(" " * (4 * 1024 + 1))
        async with asyncio.timeout(scaled(10)):
            while (await client.receive()).type is not aiohttp.WSMsgType.CLOSE:
                pass
        assert client.close_code == aiohttp.WSCloseCode.MESSAGE_TOO_BIG
        await released(live, watcher, 4)
        watcher.assert_contiguous()


async def test_the_automatic_system_topic_is_not_counted_against_the_topic_limit() -> None:
    toml = "[server]\nmax_topics_per_client = 2\n"
    async with (
        live_daemon(toml) as live,
        aiohttp.ClientSession() as session,
        session.ws_connect(live.ws_url + "ws") as client,
    ):
        await client.send_str('{"type":"subscribe","topics":["raw_eeg","filtered_eeg"]}')
        assert (await next_reply(client, "subscribed"))["topics"] == ["raw_eeg", "filtered_eeg"]
        await client.send_str('{"type":"subscribe","topics":["fft"]}')
        refused = await next_reply(client, "error")
        assert refused["code"] == "too_many_topics"


async def test_an_https_origin_is_refused_on_plain_http() -> None:
    async with live_daemon() as live, aiohttp.ClientSession() as session:
        own = live.url.rstrip("/")
        secure = "https" + own.removeprefix("http")
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await session.ws_connect(live.ws_url + "ws", headers={"Origin": secure})
        assert refused.value.status == 403
        async with session.ws_connect(live.ws_url + "ws", headers={"Origin": own}) as ws:
            assert (await next_reply(ws, "hello"))["type"] == "hello"


#: Requests aiohttp refuses; all but the first make it log a traceback at error level.
MALFORMED = (
    b"\x16\x03\x01 this is not HTTP\r\n\r\n",
    b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nno colon in this header\r\n\r\n",
    b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: -5\r\n\r\n",
    b"GET /healthz HTTP/9.9\r\nHost: 127.0.0.1\r\n\r\n",
)


async def test_malformed_requests_and_connections_do_not_flood_the_log(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    async with live_daemon(stepped=True) as live, watching(live) as watcher:
        loop = asyncio.get_running_loop()
        for index in range(50):
            peer = socket.socket()
            peer.setblocking(False)
            await loop.sock_connect(peer, ("127.0.0.1", live.port))
            await loop.sock_sendall(peer, MALFORMED[index % len(MALFORMED)])
            try:
                while await loop.sock_recv(peer, 4096):
                    pass
            except ConnectionResetError:
                pass
            peer.close()
        async with aiohttp.ClientSession() as session:
            for _ in range(20):
                async with session.ws_connect(live.ws_url + "ws") as ws:
                    await next_reply(ws, "hello")
        await released(live, watcher, 2)
        watcher.assert_contiguous()
    loud = [record for record in caplog.records if record.levelno >= logging.WARNING]
    assert loud == [], [record.getMessage() for record in loud]
    summaries = [record for record in caplog.records if "malformed" in record.getMessage()]
    assert len(summaries) == 1
    assert not any("connected" in record.getMessage() for record in caplog.records)


async def test_a_slow_clients_losses_show_in_the_warning_and_the_status_line(
    caplog: pytest.LogCaptureFixture,
) -> None:
    toml = (
        "[source]\nchannels = 32\nsample_rate = 16000\nbatch_size = 512\n"
        "[server]\nclient_queue_s = 0.5\nstall_timeout_s = 60\n"
    )
    async with live_daemon(toml, stepped=True) as live, watching(live) as watcher:
        connections = live.daemon.connections
        connections.settings = dataclasses.replace(connections.settings, drop_warning_interval=0.5)
        before = live.daemon.report.snapshot()
        slow = await asyncio.to_thread(raw_websocket, live.port, "/ws/filtered_eeg")

        def warning() -> re.Match[str] | None:
            for record in caplog.records:
                found = SLOW_WARNING.search(record.getMessage())
                if found:
                    return found
            return None

        while warning() is None:  # the slow socket fills, its queue drops, the warning comes
            await released(live, watcher, 8)
        found = warning()
        assert found is not None
        in_window, in_total = int(found["window"]), int(found["total"])
        assert in_window > 1  # the real count of the burst, not "1 so far"
        assert in_window <= in_total <= connections.dropped()
        line = live.daemon.report.line(before, live.daemon.report.snapshot())
        reported = int(re.search(r"client drops (\d+)", line)[1])  # type: ignore[index]
        assert reported >= in_total
        slow.close()
        await released(live, watcher, 4)
        watcher.assert_contiguous()


SLOW_WARNING = re.compile(r"is slow: dropped (?P<window>\d+) frames .* \((?P<total>\d+) in total\)")


@pytest.mark.parametrize("max_rate", [2, 3, 4.5])
async def test_an_envelope_slower_than_a_packet_reaches_its_client_and_nobody_loses_frames(
    max_rate: float,
) -> None:
    async with (
        live_daemon(stepped=True) as live,
        watching(live) as watcher,
        aiohttp.ClientSession() as session,
        session.ws_connect(live.ws_url + "ws") as slow_display,
    ):
        rss_before = rss_kib()
        await slow_display.send_str(
            json.dumps({"type": "subscribe", "topics": ["filtered_eeg"], "max_rate": max_rate})
        )
        await next_reply(slow_display, "subscribed")
        envelopes = 0

        async def three_envelopes() -> None:
            nonlocal envelopes
            while envelopes < 3:
                message = await slow_display.receive()
                envelopes += message.type is aiohttp.WSMsgType.BINARY

        reading = asyncio.create_task(three_envelopes())
        while not reading.done():
            await released(live, watcher, 1)
        await reading
        await released(live, watcher, 4)
        assert live.daemon.connections.stats().pump_failures["filtered_eeg"] == 0
        assert rss_kib() - rss_before < RSS_GROWTH_LIMIT_KIB
        watcher.assert_contiguous()


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ('{"type":"subscribe","topics":["filtered_eeg"],"max_rate":1e-9}', "bad_field"),
        ('{"type":"subscribe","topics":["filtered_eeg"],"max_rate":5e-324}', "bad_field"),
        ("[" * 950 + "]" * 950, "bad_json"),
        ('{"type":"subscribe","topics":' + "[" * 950 + "]" * 950 + "}", "bad_json"),
    ],
)
async def test_a_bad_message_gets_its_error_and_the_connection_and_stream_go_on(
    text: str, code: str
) -> None:
    async with (
        live_daemon(stepped=True) as live,
        watching(live) as watcher,
        aiohttp.ClientSession() as session,
        session.ws_connect(live.ws_url + "ws") as client,
    ):
        await next_reply(client, "hello")
        await client.send_str(text)
        refused = await next_reply(client, "error")
        assert refused["code"] == code
        if code == "bad_field":
            assert "max_rate" in refused["message"]
            assert "100000" in refused["message"]
        await client.send_str('{"type":"ping"}')
        await next_reply(client, "pong")
        await released(live, watcher, 4)
        watcher.assert_contiguous()
