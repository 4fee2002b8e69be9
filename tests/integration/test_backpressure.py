"""Phase 2: one slow client never hurts the others; events go only where they are wanted."""

from __future__ import annotations

import asyncio
import contextlib
import json
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
import numpy as np

from eegd.client import connect
from eegd.net.protocol import EegFrame
from tests.support.daemon import DaemonProcess
from tests.support.rawws import raw_websocket

StartDaemon = Callable[..., DaemonProcess]


def write_config(tmp_path: Path, text: str) -> str:
    path = tmp_path / "eegd.toml"
    path.write_text(text)
    return str(path)


async def status(daemon: DaemonProcess) -> dict[str, Any]:
    async with aiohttp.ClientSession() as session:
        async with session.get(daemon.url + "api/status") as response:
            result: dict[str, Any] = await response.json()
            return result


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


async def test_a_stalled_client_is_dropped_and_closed_while_fast_clients_get_everything(
    start_daemon: StartDaemon, tmp_path: Path
) -> None:
    config = write_config(tmp_path, "[server]\nstall_timeout_s = 2.0\nclient_queue_s = 1.0\n")
    daemon = start_daemon(
        "--config",
        config,
        "--sample-rate",
        "16000",
        "--batch-size",
        "512",
        "--log-level",
        "warning",
    )
    async with connect(daemon.ws_url + "ws/data") as probe:  # the stream is up
        await asyncio.wait_for(probe.__anext__(), timeout=10)
    rss_before = rss_kib(daemon.process.pid)
    slow = raw_websocket(daemon.port, "/ws/data")
    fast = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.support.fast_clients",
        daemon.ws_url + "ws/data",
        "20",
        "8",
        stdout=subprocess.PIPE,
    )
    output, _ = await asyncio.wait_for(fast.communicate(), timeout=40)
    clients = json.loads(output)
    rss_after = rss_kib(daemon.process.pid)
    report = await status(daemon)
    slow.close()

    assert len(clients) == 20
    for client in clients:
        assert client["gaps"] == 0, client
        assert client["dropped_notices"] == 0, client
        assert client["count"] == client["last"] - client["first"] + 1
        assert client["count"] >= 100, client  # 31 frames/s for ~8 s, with slack
    assert report["clients"]["closed_stalled"] == 1
    assert report["clients"]["dropped"] > 0
    assert rss_after - rss_before < 50 * 1024
    assert any("made no progress" in line for line in daemon.stderr_lines)


async def test_events_are_encoded_only_for_topics_someone_wants(start_daemon: StartDaemon) -> None:
    daemon = start_daemon()
    await asyncio.sleep(3)  # the spectrum window would be full by now
    idle = await status(daemon)
    assert idle["spectra_computed"] == 0
    assert idle["clients"]["encoded"]["fft"] == 0
    async with connect(daemon.ws_url + "applet/brain_waves/data") as spectra:
        for _ in range(4):
            await asyncio.wait_for(spectra.__anext__(), timeout=10)
        busy = await status(daemon)
    assert busy["spectra_computed"] > 0
    assert busy["clients"]["encoded"]["fft"] > 0
    assert busy["clients"]["encoded"]["filtered_eeg"] == 0
    assert busy["clients"]["encoded"]["raw_eeg"] == 0


async def test_each_event_is_encoded_once_however_many_clients(start_daemon: StartDaemon) -> None:
    daemon = start_daemon()
    for count in (1, 50):
        async with contextlib.AsyncExitStack() as stack:
            streams = [
                await stack.enter_async_context(connect(daemon.ws_url + "ws/data"))
                for _ in range(count)
            ]
            for stream in streams:
                await asyncio.wait_for(stream.__anext__(), timeout=10)
            before = await status(daemon)
            await asyncio.sleep(2)
            after = await status(daemon)
        routed = after["clients"]["events_routed"]["filtered_eeg"]
        routed -= before["clients"]["events_routed"]["filtered_eeg"]
        encoded = after["clients"]["encoded"]["filtered_eeg"]
        encoded -= before["clients"]["encoded"]["filtered_eeg"]
        assert routed >= 10, routed
        assert encoded == routed, (count, encoded, routed)
        assert after["clients"]["clients_per_topic"]["filtered_eeg"] == count


async def test_max_rate_envelope_at_16_khz(start_daemon: StartDaemon) -> None:
    daemon = start_daemon("--sample-rate", "16000", "--batch-size", "512")
    full: dict[int, np.ndarray] = {}
    envelopes: list[EegFrame] = []
    async with (
        connect(daemon.ws_url + "ws", ["filtered_eeg"], max_rate=250) as decimated,
        connect(daemon.ws_url + "ws/data") as reference,
    ):

        async def read_reference() -> None:
            async for item in reference:
                if isinstance(item, EegFrame):
                    full[item.frame_id] = item.samples_uv

        reader = asyncio.create_task(read_reference())
        started = None
        async with asyncio.timeout(20):
            async for item in decimated:
                if isinstance(item, EegFrame):
                    assert item.decimated
                    started = started or time.monotonic()
                    envelopes.append(item)
                    if len(envelopes) >= 64:
                        break
        await asyncio.sleep(0.5)
        reader.cancel()
    pairs = sum(frame.n_samples for frame in envelopes)
    seconds = pairs / envelopes[0].sample_rate
    assert 240 <= envelopes[0].sample_rate <= 250
    assert pairs == 64 * 8  # 512 samples per packet, 64 per pair
    assert abs(seconds - 64 * 512 / 16000) < 1e-9
    checked = 0
    for frame in envelopes:
        samples = full.get(frame.frame_id)
        if samples is None:
            continue
        low, high = frame.samples_uv[:, 0::2], frame.samples_uv[:, 1::2]
        groups = samples.reshape(samples.shape[0], -1, 64)
        assert np.all(low <= groups.min(axis=2))
        assert np.all(high >= groups.max(axis=2))
        np.testing.assert_array_equal(low, groups.min(axis=2))
        checked += 1
    assert checked >= 32


async def test_limit_violations_get_replies_and_others_stream_on(
    start_daemon: StartDaemon, tmp_path: Path
) -> None:
    config = write_config(tmp_path, "[server]\nmax_clients = 3\nmax_topics_per_client = 2\n")
    daemon = start_daemon("--config", config)
    async with connect(daemon.ws_url + "ws/data") as bystander:
        await asyncio.wait_for(bystander.__anext__(), timeout=10)
        async with aiohttp.ClientSession() as session:
            async with session.ws_connect(daemon.ws_url + "ws") as greedy:
                await greedy.send_str(
                    '{"type":"subscribe","topics":["fft","raw_eeg","filtered_eeg"]}'
                )
                reply = await next_json(greedy, "error")
                assert reply["code"] == "too_many_topics"
                assert "at most 2" in reply["message"]

                huge = json.dumps({"type": "subscribe", "topics": ["fft"], "pad": "x" * 300_000})
                await greedy.send_str(huge)
                code, _ = await asyncio.wait_for(skip_to_close(greedy), timeout=10)
                assert code == aiohttp.WSCloseCode.MESSAGE_TOO_BIG

            async with (
                session.ws_connect(daemon.ws_url + "ws") as second,
                session.ws_connect(daemon.ws_url + "ws") as third,
                session.ws_connect(daemon.ws_url + "ws") as fourth,
            ):
                for admitted in (second, third):
                    assert (await admitted.receive(timeout=10)).type is aiohttp.WSMsgType.TEXT
                code, reason = await asyncio.wait_for(skip_to_close(fourth), timeout=10)
                assert code == 1013
                assert "too many clients (limit 3)" in reason
        ids = []
        for _ in range(8):
            item = await asyncio.wait_for(bystander.__anext__(), timeout=10)
            if isinstance(item, EegFrame):
                ids.append(item.frame_id)
    assert ids == list(range(ids[0], ids[0] + len(ids)))


async def next_json(ws: aiohttp.ClientWebSocketResponse, kind: str) -> dict[str, Any]:
    async with asyncio.timeout(10):
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
