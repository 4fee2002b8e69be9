"""The real daemon as a subprocess, reached over real WebSockets on loopback."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import subprocess
import sys
import time
from collections.abc import Callable

import aiohttp
import numpy as np
import pytest

import eegd.client
from eegd.client import Stream, connect
from eegd.events import FftPacket, SystemEvent, Topic
from eegd.net.protocol import EegFrame, Hello, Subscribed, Unsubscribed
from tests.support.daemon import DaemonProcess

StartDaemon = Callable[..., DaemonProcess]


async def next_of(stream: Stream, kind: type, timeout: float = 10.0) -> object:
    """The next item of type ``kind``, skipping others."""
    async with asyncio.timeout(timeout):
        async for item in stream:
            if isinstance(item, kind):
                return item
    raise AssertionError(f"stream ended before a {kind.__name__}")


async def collect_for(stream: Stream, seconds: float) -> list[object]:
    """Everything the stream yields within ``seconds``."""
    items: list[object] = []

    async def gather() -> None:
        async for item in stream:
            items.append(item)

    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(gather(), timeout=seconds)
    return items


async def test_brain_waves_route_gives_fft_within_3_s_with_alpha_at_10_hz(
    start_daemon: StartDaemon,
) -> None:
    daemon = start_daemon()
    started = time.monotonic()
    async with connect(daemon.ws_url + "applet/brain_waves/data") as stream:
        first = await next_of(stream, FftPacket, timeout=10)
        assert time.monotonic() - started < 3.0 + 2.0 + 1.0  # 2 s window must fill first
        assert isinstance(first, FftPacket)
        spectra = [first]
        while len(spectra) < 8:
            item = await next_of(stream, FftPacket)
            assert isinstance(item, FftPacket)
            spectra.append(item)
    assert stream.hello is not None
    names = list(stream.hello.channels)
    freqs = spectra[-1].freqs
    alpha = (freqs >= 8) & (freqs < 13)
    for name in ("O1", "O2"):
        mean_psd = np.mean([packet.psd[names.index(name)] for packet in spectra], axis=0)
        peak = freqs[alpha][np.argmax(mean_psd[alpha])]
        assert abs(peak - 10.0) <= 0.5, (name, peak)


async def test_first_fft_arrives_within_3_s_of_connecting_to_a_warm_daemon(
    start_daemon: StartDaemon,
) -> None:
    daemon = start_daemon()
    async with connect(daemon.ws_url + "ws/data") as warmup:
        await next_of(warmup, EegFrame)
    await asyncio.sleep(2.5)  # the spectrum window fills while nobody listens
    started = time.monotonic()
    async with connect(daemon.ws_url + "applet/brain_waves/data") as stream:
        await next_of(stream, FftPacket, timeout=10)
    assert time.monotonic() - started < 3.0


async def test_ws_data_route_streams_contiguous_frames_for_5_s(start_daemon: StartDaemon) -> None:
    daemon = start_daemon()
    frame_ids: list[int] = []
    async with connect(daemon.ws_url + "ws/data") as stream:
        first = await next_of(stream, EegFrame)
        assert isinstance(first, EegFrame)
        frame_ids.append(first.frame_id)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            item = await next_of(stream, EegFrame)
            assert isinstance(item, EegFrame)
            assert item.topic is Topic.FILTERED_EEG
            assert item.samples_uv.shape == (8, 32)
            frame_ids.append(item.frame_id)
    assert frame_ids == list(range(frame_ids[0], frame_ids[0] + len(frame_ids)))
    assert len(frame_ids) >= 30  # 7.8 frames/s for 5 s, with slack for a busy machine


async def test_ws_topic_routing_and_unsubscribe(start_daemon: StartDaemon) -> None:
    daemon = start_daemon()
    async with connect(daemon.ws_url + "ws", control=True) as stream:
        await stream.unsubscribe(["system"])
        await stream.subscribe(["fft"])
        seen: list[object] = []
        ffts = 0
        async with asyncio.timeout(15):
            async for item in stream:
                seen.append(item)
                if isinstance(item, FftPacket):
                    ffts += 1
                    if ffts == 4:
                        break
        assert any(isinstance(item, Subscribed) and item.topics == ("fft",) for item in seen)
        data = [item for item in seen if isinstance(item, EegFrame | FftPacket | SystemEvent)]
        assert all(isinstance(item, FftPacket) for item in data)

        await stream.unsubscribe(["fft"])
        async with asyncio.timeout(10):
            async for item in stream:
                if isinstance(item, Unsubscribed):
                    break
        after = await collect_for(stream, seconds=1.5)
        assert after == []


async def test_a_client_leaving_does_not_disturb_the_others(start_daemon: StartDaemon) -> None:
    daemon = start_daemon()
    async with connect(daemon.ws_url + "ws/data") as staying:
        first = await next_of(staying, EegFrame)
        assert isinstance(first, EegFrame)
        for _ in range(3):
            async with connect(daemon.ws_url + "ws/data") as leaving:
                await next_of(leaving, EegFrame)
        async with aiohttp.ClientSession() as session:
            ws = await session.ws_connect(daemon.ws_url + "ws/data")
            await ws.receive()
            ws._response.connection.transport.abort()  # type: ignore[union-attr]  # vanish
        ids = [first.frame_id]
        for _ in range(16):
            item = await next_of(staying, EegFrame)
            assert isinstance(item, EegFrame)
            ids.append(item.frame_id)
    assert ids == list(range(ids[0], ids[0] + len(ids)))
    assert "Traceback" not in "".join(daemon.stderr_lines)


async def test_foreign_origin_is_refused_and_own_origin_accepted(start_daemon: StartDaemon) -> None:
    daemon = start_daemon()
    async with aiohttp.ClientSession() as session:
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await session.ws_connect(daemon.ws_url + "ws", headers={"Origin": "http://evil.test"})
        assert refused.value.status == 403
        own = daemon.url.rstrip("/")
        async with session.ws_connect(daemon.ws_url + "ws", headers={"Origin": own}) as ws:
            message = await ws.receive(timeout=10)
            assert message.type is aiohttp.WSMsgType.TEXT


async def test_bad_messages_get_error_replies_and_the_stream_goes_on(
    start_daemon: StartDaemon,
) -> None:
    daemon = start_daemon()
    async with aiohttp.ClientSession() as session, session.ws_connect(daemon.ws_url + "ws") as ws:
        for bad, code in [
            ("not json", "bad_json"),
            ('{"type": "dance"}', "unknown_type"),
            ('{"type": "subscribe", "topics": ["beer"]}', "unknown_topic"),
            ('{"type": "subscribe", "topics": "fft"}', "bad_field"),
        ]:
            await ws.send_str(bad)
            async with asyncio.timeout(10):
                while True:
                    message = await ws.receive()
                    if message.type is aiohttp.WSMsgType.TEXT:
                        reply = json.loads(message.data)
                        if reply["type"] == "error":
                            break
            assert reply["code"] == code
            assert reply["message"]
        await ws.send_str('{"type": "subscribe", "topics": ["filtered_eeg"]}')
        async with asyncio.timeout(10):
            while (await ws.receive()).type is not aiohttp.WSMsgType.BINARY:
                pass


async def test_status_and_health_endpoints(start_daemon: StartDaemon) -> None:
    daemon = start_daemon()
    async with connect(daemon.ws_url + "ws/data") as stream:
        await next_of(stream, EegFrame)
        async with aiohttp.ClientSession() as session:
            async with session.get(daemon.url + "healthz") as response:
                assert response.status == 200
            async with session.get(daemon.url + "api/status") as response:
                status = await response.json()
    assert status["source"]["kind"] == "synthetic"
    assert status["source"]["sample_rate"] == 250
    assert status["source"]["channels"] == ["Fp1", "Fp2", "C3", "C4", "P3", "P4", "O1", "O2"]
    assert status["ledger"]["frames_published"] > 0
    assert status["clients"]["clients_per_topic"]["filtered_eeg"] == 1
    assert {task["name"] for task in status["tasks"]} >= {"acquisition", "connections"}
    assert all(task["state"] == "running" for task in status["tasks"])
    assert status["uptime_s"] > 0


async def test_shutdown_closes_clients_with_going_away(start_daemon: StartDaemon) -> None:
    daemon = start_daemon()
    async with connect(daemon.ws_url + "ws/data") as stream:
        await next_of(stream, EegFrame)
        daemon.process.terminate()
        async with asyncio.timeout(10):
            async for _ in stream:
                pass
        assert stream.close_code == 1001
    assert daemon.process.wait(timeout=10) == 0


def test_port_in_use_is_a_one_line_error() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "eegd.cli", "run", "--port", str(port)],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "address already in use" in lines[0]
    assert f":{port}" in lines[0]


async def test_hello_comes_first_on_every_route(start_daemon: StartDaemon) -> None:
    daemon = start_daemon()
    for path in ("ws", "ws/data", "applet/brain_waves/data"):
        async with connect(daemon.ws_url + path, control=True) as stream:
            first = await asyncio.wait_for(stream.__anext__(), timeout=10)
        assert isinstance(first, Hello)
        assert first.channels == ("Fp1", "Fp2", "C3", "C4", "P3", "P4", "O1", "O2")


async def test_filter_settings_change_at_run_time_and_clients_are_told(
    start_daemon: StartDaemon,
) -> None:
    daemon = start_daemon()
    async with aiohttp.ClientSession() as session, connect(daemon.ws_url + "ws") as stream:
        await stream.subscribe(["filtered_eeg"])
        await next_of(stream, EegFrame)
        async with session.put(daemon.url + "api/filter", json={"notch_hz": 60}) as response:
            assert response.status == 200
            assert (await response.json())["notch_hz"] == 60.0
        changed = await next_of(stream, SystemEvent)
        assert isinstance(changed, SystemEvent)
        assert changed.kind == "config_changed"
        assert changed.detail["filter"]["notch_hz"] == 60.0
        async with session.get(daemon.url + "api/filter") as response:
            assert (await response.json())["notch_hz"] == 60.0
        for body, code, words in [
            ("{not json", "bad_json", "not valid JSON"),
            ("[1, 2]", "bad_json", "JSON object"),
            ('{"notch": 60}', "bad_field", "notch: unknown voltage_filter option"),
            ('{"notch_hz": 55}', "bad_field", "notch_hz: 55"),
            ('{"lowpass_hz": 400}', "bad_field", "lowpass_hz"),
        ]:
            async with session.put(daemon.url + "api/filter", data=body) as response:
                assert response.status == 400, body
                reply = await response.json()
                assert reply["code"] == code
                assert words in reply["message"], reply
        async with session.get(daemon.url + "api/filter") as response:
            assert (await response.json())["notch_hz"] == 60.0
        ids = []
        for _ in range(8):
            item = await next_of(stream, EegFrame)
            assert isinstance(item, EegFrame)
            ids.append(item.frame_id)
        assert ids == list(range(ids[0], ids[0] + 8))


async def test_clients_that_come_and_go_leave_nothing_behind(start_daemon: StartDaemon) -> None:
    daemon = start_daemon()
    for _ in range(20):
        async with connect(daemon.ws_url + "ws", ["filtered_eeg"]) as stream:
            await next_of(stream, EegFrame)
    async with aiohttp.ClientSession() as session:
        async with asyncio.timeout(10):
            while True:
                async with session.get(daemon.url + "api/status") as response:
                    clients = (await response.json())["clients"]
                if clients["clients"] == 0 and clients["client_tasks"] == 0:
                    break
                await asyncio.sleep(0.1)
    assert clients["clients_per_topic"]["filtered_eeg"] == 0


async def test_the_readme_example_yields_only_the_topics_it_names(
    start_daemon: StartDaemon,
) -> None:
    daemon = start_daemon()
    received: list[object] = []

    async def consume() -> None:
        async for packet in eegd.client.stream(daemon.ws_url + "ws", topics=["fft"]):
            received.append(packet)
            if len(received) == 6:
                return

    reader = asyncio.create_task(consume())
    await asyncio.sleep(1.0)
    async with aiohttp.ClientSession() as session:
        async with session.put(daemon.url + "api/filter", json={"notch_hz": 60}) as response:
            assert response.status == 200  # publishes a system event the stream must not yield
    await asyncio.wait_for(reader, timeout=20)
    assert all(isinstance(packet, FftPacket) for packet in received), received
    assert received[0].band_power.shape == (8, 5)  # type: ignore[attr-defined]
