"""Phase 2: one slow client never hurts the others; events go only where they are wanted.

The daemon runs in-process on a stepped source clock: a test releases packets and waits
until the clients it watches have them, so a fast client is one that keeps up by definition
and a slow one is the only thing left to time.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from typing import Any

import aiohttp
import numpy as np
import pytest

from eegd.client import connect
from eegd.events import FftPacket
from eegd.net.protocol import EegFrame
from tests.support.live import (
    live_daemon,
    next_released,
    release_to_all,
    rss_kib,
    status,
    watching,
)
from tests.support.rawws import raw_websocket
from tests.support.timing import scaled
from tests.support.waiting import wait_until

SIXTEEN_KHZ = "[source]\nsample_rate = 16000\nbatch_size = 512\n"


async def test_a_stalled_client_is_dropped_and_closed_while_fast_clients_get_everything(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING)
    # Stall and queue on the stream's time (stepped_loop): a stalled socket's queue of 0.5 s
    # fills and drops for another half second before the stall is timed out, however slowly
    # the machine releases the packets
    toml = SIXTEEN_KHZ + "[server]\nstall_timeout_s = 1.0\nclient_queue_s = 0.5\n"
    async with (
        live_daemon(toml, stepped=True, stepped_loop=True) as live,
        contextlib.AsyncExitStack() as stack,
    ):
        fast = [await stack.enter_async_context(watching(live)) for _ in range(20)]
        await release_to_all(live, fast, 1)  # the stream is up
        rss_before = rss_kib()
        slow = await asyncio.to_thread(raw_websocket, live.port, "/ws/filtered_eeg")
        stack.callback(slow.close)
        connections = live.daemon.connections
        await wait_until(lambda: connections.stats().clients == 21)
        # Its socket fills, then its queue drops the oldest frames, then it is closed.
        released = 1
        while released < 100 or connections.stats().closed_stalled == 0:
            assert released < 20_000, "the slow client was never closed"
            await release_to_all(live, fast, 8)
            released += 8
        rss_after = rss_kib()
        report = await status(live)

    for watcher in fast:
        watcher.assert_contiguous()
        assert len(watcher.frame_ids) >= 100
    assert report["clients"]["closed_stalled"] == 1
    assert report["clients"]["dropped"] > 0
    assert rss_after - rss_before < 50 * 1024
    assert any("made no progress" in record.getMessage() for record in caplog.records)


async def test_events_are_encoded_only_for_topics_someone_wants() -> None:
    async with live_daemon(stepped=True) as live:
        await live.release(24)  # 3 s: the spectrum window would be full by now
        idle = await status(live)
        assert idle["spectra_computed"] == 0
        assert idle["clients"]["encoded"]["fft"] == 0
        async with connect(live.ws_url + "applet/brain_waves/data") as spectra:
            for _ in range(4):
                await next_released(live, spectra, FftPacket)
            busy = await status(live)
    assert busy["spectra_computed"] > 0
    assert busy["clients"]["encoded"]["fft"] > 0
    assert busy["clients"]["encoded"]["filtered_eeg"] == 0
    assert busy["clients"]["encoded"]["raw_eeg"] == 0


async def test_each_event_is_encoded_once_however_many_clients() -> None:
    async with live_daemon(stepped=True) as live:
        for count in (1, 50):
            async with contextlib.AsyncExitStack() as stack:
                watchers = [await stack.enter_async_context(watching(live)) for _ in range(count)]
                before = await status(live)
                await release_to_all(live, watchers, 16)  # 2 s
                after = await status(live)
            routed = after["clients"]["events_routed"]["filtered_eeg"]
            routed -= before["clients"]["events_routed"]["filtered_eeg"]
            encoded = after["clients"]["encoded"]["filtered_eeg"]
            encoded -= before["clients"]["encoded"]["filtered_eeg"]
            assert routed >= 10, routed
            assert encoded == routed, (count, encoded, routed)
            assert after["clients"]["clients_per_topic"]["filtered_eeg"] == count


async def test_max_rate_envelope_at_16_khz() -> None:
    full: dict[int, np.ndarray] = {}
    envelopes: list[EegFrame] = []
    async with (
        live_daemon(SIXTEEN_KHZ, stepped=True) as live,
        connect(live.ws_url + "ws", ["filtered_eeg"], max_rate=250) as decimated,
        connect(live.ws_url + "ws/filtered_eeg") as reference,
    ):

        async def read_reference() -> None:
            async for item in reference:
                if isinstance(item, EegFrame):
                    full[item.frame_id] = item.samples_uv

        async def read_envelopes() -> None:
            async for item in decimated:
                if isinstance(item, EegFrame):
                    assert item.decimated
                    envelopes.append(item)
                    if len(envelopes) >= 64:
                        return

        reader = asyncio.create_task(read_reference())
        enveloping = asyncio.create_task(read_envelopes())
        await live.release_until(enveloping.done)
        await enveloping
        await wait_until(lambda: all(frame.frame_id in full for frame in envelopes))
        reader.cancel()
    pairs = sum(frame.n_samples for frame in envelopes)
    seconds = pairs / envelopes[0].sample_rate
    assert 240 <= envelopes[0].sample_rate <= 250
    assert pairs == 64 * 8  # 512 samples per packet, 64 per pair
    assert abs(seconds - 64 * 512 / 16000) < 1e-9
    checked = 0
    for frame in envelopes:
        samples = full[frame.frame_id]
        low, high = frame.samples_uv[:, 0::2], frame.samples_uv[:, 1::2]
        groups = samples.reshape(samples.shape[0], -1, 64)
        assert np.all(low <= groups.min(axis=2))
        assert np.all(high >= groups.max(axis=2))
        np.testing.assert_array_equal(low, groups.min(axis=2))
        checked += 1
    assert checked == 64


async def test_limit_violations_get_replies_and_others_stream_on() -> None:
    toml = "[server]\nmax_clients = 3\nmax_topics_per_client = 2\n"
    async with live_daemon(toml, stepped=True) as live, watching(live) as bystander:
        await release_to_all(live, [bystander], 1)
        async with aiohttp.ClientSession() as session:
            async with session.ws_connect(live.ws_url + "ws") as greedy:
                await greedy.send_str(
                    '{"type":"subscribe","topics":["fft","raw_eeg","filtered_eeg"]}'
                )
                reply = await next_json(greedy, "error")
                assert reply["code"] == "too_many_topics"
                assert "at most 2" in reply["message"]

                huge = json.dumps({"type": "subscribe", "topics": ["fft"], "pad": "x" * 300_000})
                await greedy.send_str(huge)
                code, _ = await asyncio.wait_for(skip_to_close(greedy), timeout=scaled(10))
                assert code == aiohttp.WSCloseCode.MESSAGE_TOO_BIG

            connections = live.daemon.connections
            await wait_until(lambda: connections.stats().clients == 1)
            async with (
                session.ws_connect(live.ws_url + "ws") as second,
                session.ws_connect(live.ws_url + "ws") as third,
                session.ws_connect(live.ws_url + "ws") as fourth,
            ):
                for admitted in (second, third):
                    message = await admitted.receive(timeout=scaled(10))
                    assert message.type is aiohttp.WSMsgType.TEXT
                code, reason = await asyncio.wait_for(skip_to_close(fourth), timeout=scaled(10))
                assert code == 1013
                assert "too many clients (limit 3)" in reason
        await release_to_all(live, [bystander], 8)
        bystander.assert_contiguous()
        assert len(bystander.frame_ids) == 9


async def next_json(ws: aiohttp.ClientWebSocketResponse, kind: str) -> dict[str, Any]:
    async with asyncio.timeout(scaled(10)):
        while True:
            message = await ws.receive()
            if message.type is aiohttp.WSMsgType.TEXT:
                parsed: dict[str, Any] = json.loads(message.data)
                if parsed["type"] == kind:
                    return parsed


async def skip_to_close(ws: aiohttp.ClientWebSocketResponse) -> tuple[int | None, str]:
    """Read until the server closes; its close code and reason."""
    while True:
        message = await ws.receive()
        if message.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED):
            return ws.close_code, str(message.extra or "")
