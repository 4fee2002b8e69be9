"""The daemon in-process on a real loopback port, reached over real WebSockets and HTTP.

The synthetic source runs on a stepped clock: a test releases the packets it needs and
waits for them to arrive, so nothing depends on real time. Shutting down a daemon process
with SIGTERM is in ``test_cli.py``.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

import aiohttp
import numpy as np
import pytest

import eegd.client
from eegd.client import Item, connect
from eegd.events import FftPacket, SystemEvent, Topic
from eegd.net.protocol import EegFrame, Hello, Subscribed, Unsubscribed
from tests.support.live import LiveDaemon, live_daemon, next_of, next_released
from tests.support.timing import scaled
from tests.support.waiting import wait_until

#: Seconds of stream per packet: 32 samples at 250 Hz.
PACKET_S = 32 / 250


async def get_json(live: LiveDaemon, path: str) -> Any:
    async with aiohttp.ClientSession() as session, session.get(live.url + path) as response:
        assert response.status == 200
        return await response.json()


async def test_brain_waves_route_gives_fft_within_3_s_with_alpha_at_10_hz() -> None:
    async with (
        live_daemon(stepped=True) as live,
        connect(live.ws_url + "applet/brain_waves/data") as stream,
    ):
        started = live.frames
        first = await next_released(live, stream, FftPacket)
        # Within 3 s of stream, of which the 2 s window must fill first.
        assert (live.frames - started) * PACKET_S <= 3.0
        spectra = [first]
        while len(spectra) < 8:
            spectra.append(await next_released(live, stream, FftPacket))
    assert stream.hello is not None
    names = list(stream.hello.channels)
    freqs = spectra[-1].freqs
    alpha = (freqs >= 8) & (freqs < 13)
    for name in ("O1", "O2"):
        mean_psd = np.mean([packet.psd[names.index(name)] for packet in spectra], axis=0)
        peak = freqs[alpha][np.argmax(mean_psd[alpha])]
        assert abs(peak - 10.0) <= 0.5, (name, peak)


async def test_first_fft_arrives_within_3_s_of_connecting_to_a_warm_daemon() -> None:
    async with live_daemon(stepped=True) as live:
        async with connect(live.ws_url + "ws/filtered_eeg") as warmup:
            await next_released(live, warmup, EegFrame)
        await live.release(round(2.5 / PACKET_S))  # the window fills while nobody listens
        async with connect(live.ws_url + "applet/brain_waves/data") as stream:
            started = live.frames
            await next_released(live, stream, FftPacket)
        assert (live.frames - started) * PACKET_S < 3.0


async def test_ws_data_route_streams_contiguous_frames() -> None:
    frames: list[EegFrame] = []
    async with (
        live_daemon(stepped=True) as live,
        connect(live.ws_url + "ws/filtered_eeg") as stream,
    ):
        for _ in range(5):  # 5 s of stream, a second at a time
            last = await live.release(8)
            while not frames or frames[-1].frame_id < last:
                frames.append(await next_of(stream, EegFrame))
    ids = [frame.frame_id for frame in frames]
    assert ids == list(range(ids[0], ids[0] + len(ids)))
    assert len(ids) >= 39  # every packet of 5 s at 7.8 frames/s
    assert all(frame.topic is Topic.FILTERED_EEG for frame in frames)
    assert all(frame.samples_uv.shape == (8, 32) for frame in frames)


async def test_ws_topic_routing_and_unsubscribe() -> None:
    async with (
        live_daemon(stepped=True) as live,
        connect(live.ws_url + "ws", control=True) as stream,
        connect(live.ws_url + "applet/brain_waves/data") as witness,
    ):
        seen: list[Item] = []

        async def until_ffts(count: int) -> None:
            async for item in stream:
                seen.append(item)
                if sum(isinstance(item, FftPacket) for item in seen) == count:
                    return

        await stream.unsubscribe(["system"])
        await stream.subscribe(["fft"])
        reading = asyncio.create_task(until_ffts(4))
        await live.release_until(reading.done)
        await reading
        assert any(isinstance(item, Subscribed) and item.topics == ("fft",) for item in seen)
        data = [item for item in seen if isinstance(item, EegFrame | FftPacket | SystemEvent)]
        assert all(isinstance(item, FftPacket) for item in data)

        await stream.unsubscribe(["fft"])
        await next_of(stream, Unsubscribed)
        after: list[Item] = []

        async def read_after() -> None:
            async for item in stream:
                after.append(item)

        reader = asyncio.create_task(read_after())
        # 1.5 s of spectra go to a client that still wants them, and to nobody else.
        await witness_spectra(live, witness, count=6)
        reader.cancel()
        assert after == []


async def witness_spectra(live: LiveDaemon, witness: eegd.client.Stream, count: int) -> None:
    for _ in range(count):
        await next_released(live, witness, FftPacket)


async def test_a_client_leaving_does_not_disturb_the_others(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async with (
        live_daemon(stepped=True) as live,
        connect(live.ws_url + "ws/filtered_eeg") as staying,
    ):
        first = await next_released(live, staying, EegFrame)
        for _ in range(3):
            async with connect(live.ws_url + "ws/filtered_eeg") as leaving:
                await next_released(live, leaving, EegFrame)
        async with aiohttp.ClientSession() as session:
            ws = await session.ws_connect(live.ws_url + "ws/filtered_eeg")
            await ws.receive()
            ws._response.connection.transport.abort()  # type: ignore[union-attr]  # vanish
        ids = [first.frame_id]
        for _ in range(16):
            ids.append((await next_released(live, staying, EegFrame)).frame_id)
        await wait_until(lambda: live.daemon.connections.stats().clients == 1)
    assert ids == list(range(ids[0], ids[0] + len(ids)))
    assert not [record for record in caplog.records if record.exc_info], "a traceback was logged"
    assert not [record for record in caplog.records if record.levelno >= logging.ERROR]


async def test_foreign_origin_is_refused_and_own_origin_accepted() -> None:
    async with live_daemon(stepped=True) as live, aiohttp.ClientSession() as session:
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await session.ws_connect(live.ws_url + "ws", headers={"Origin": "http://evil.test"})
        assert refused.value.status == 403
        own = live.url.rstrip("/")
        async with session.ws_connect(live.ws_url + "ws", headers={"Origin": own}) as ws:
            message = await ws.receive(timeout=scaled(10))
            assert message.type is aiohttp.WSMsgType.TEXT


async def test_bad_messages_get_error_replies_and_the_stream_goes_on() -> None:
    async with (
        live_daemon(stepped=True) as live,
        aiohttp.ClientSession() as session,
        session.ws_connect(live.ws_url + "ws") as ws,
    ):
        for bad, code in [
            ("not json", "bad_json"),
            ('{"type": "dance"}', "unknown_type"),
            ('{"type": "subscribe", "topics": ["beer"]}', "unknown_topic"),
            ('{"type": "subscribe", "topics": "fft"}', "bad_field"),
        ]:
            await ws.send_str(bad)
            async with asyncio.timeout(scaled(10)):
                while True:
                    message = await ws.receive()
                    if message.type is aiohttp.WSMsgType.TEXT:
                        reply = json.loads(message.data)
                        if reply["type"] == "error":
                            break
            assert reply["code"] == code
            assert reply["message"]
        await ws.send_str('{"type": "subscribe", "topics": ["filtered_eeg"]}')

        async def until_binary() -> None:
            while (await ws.receive()).type is not aiohttp.WSMsgType.BINARY:
                pass

        reading = asyncio.create_task(until_binary())
        await live.release_until(reading.done)
        await reading


async def test_status_and_health_endpoints() -> None:
    async with (
        live_daemon(stepped=True) as live,
        connect(live.ws_url + "ws/filtered_eeg") as stream,
    ):
        await next_released(live, stream, EegFrame)
        assert (await get_json(live, "healthz")) == {"status": "ok"}
        status = await get_json(live, "api/status")
    assert status["source"]["kind"] == "synthetic"
    assert status["source"]["sample_rate"] == 250
    assert status["source"]["channels"] == ["Fp1", "Fp2", "C3", "C4", "P3", "P4", "O1", "O2"]
    assert status["ledger"]["frames_published"] > 0
    assert status["clients"]["clients_per_topic"]["filtered_eeg"] == 1
    assert {task["name"] for task in status["tasks"]} >= {"acquisition", "connections"}
    assert all(task["state"] == "running" for task in status["tasks"])
    assert status["uptime_s"] > 0
    assert status["asyncio_tasks"] >= len(status["tasks"]) + status["clients"]["client_tasks"]


async def test_hello_comes_first_on_every_route() -> None:
    async with live_daemon(stepped=True) as live:
        for path in ("ws", "ws/filtered_eeg", "applet/brain_waves/data"):
            async with connect(live.ws_url + path, control=True) as stream:
                first = await asyncio.wait_for(stream.__anext__(), timeout=scaled(10))
            assert isinstance(first, Hello)
            assert first.channels == ("Fp1", "Fp2", "C3", "C4", "P3", "P4", "O1", "O2")


async def test_filter_settings_change_at_run_time_and_clients_are_told() -> None:
    async with (
        live_daemon(stepped=True) as live,
        aiohttp.ClientSession() as session,
        connect(live.ws_url + "ws") as stream,
    ):
        await stream.subscribe(["filtered_eeg"])
        await next_released(live, stream, EegFrame)
        async with session.put(live.url + "api/filter", json={"notch_hz": 60}) as response:
            assert response.status == 200
            assert (await response.json())["notch_hz"] == 60.0
        changed = await next_of(stream, SystemEvent)
        assert changed.kind == "config_changed"
        assert changed.detail["filter"]["notch_hz"] == 60.0
        async with session.get(live.url + "api/filter") as response:
            assert (await response.json())["notch_hz"] == 60.0
        for body, code, words in [
            ("{not json", "bad_json", "not valid JSON"),
            ("[1, 2]", "bad_json", "JSON object"),
            ('{"notch": 60}', "bad_field", "notch: unknown key (allowed: highpass_hz"),
            ('{"notch_hz": 55}', "bad_field", "notch_hz: 55"),
            ('{"lowpass_hz": 400}', "bad_field", "lowpass_hz"),
        ]:
            json_body = {"Content-Type": "application/json"}
            async with session.put(
                live.url + "api/filter", data=body, headers=json_body
            ) as response:
                assert response.status == 400, body
                reply = await response.json()
                assert reply["code"] == code
                assert words in reply["message"], reply
        async with session.get(live.url + "api/filter") as response:
            assert (await response.json())["notch_hz"] == 60.0
        ids = [(await next_released(live, stream, EegFrame)).frame_id for _ in range(8)]
        assert ids == list(range(ids[0], ids[0] + 8))


async def test_clients_that_come_and_go_leave_nothing_behind() -> None:
    async with live_daemon(stepped=True) as live:
        for _ in range(20):
            async with connect(live.ws_url + "ws", ["filtered_eeg"]) as stream:
                await next_released(live, stream, EegFrame)
        connections = live.daemon.connections
        await wait_until(lambda: connections.stats().clients == 0, timeout=10)
        await wait_until(lambda: connections.stats().client_tasks == 0, timeout=10)
        clients = (await get_json(live, "api/status"))["clients"]
    assert clients["clients"] == 0
    assert clients["client_tasks"] == 0
    assert clients["clients_per_topic"]["filtered_eeg"] == 0


async def test_the_readme_example_yields_only_the_topics_it_names() -> None:
    received: list[object] = []
    async with live_daemon(stepped=True) as live:

        async def consume() -> None:
            async for packet in eegd.client.stream(live.ws_url + "ws", topics=["fft"]):
                received.append(packet)
                if len(received) == 6:
                    return

        reader = asyncio.create_task(consume())
        connections = live.daemon.connections
        await wait_until(lambda: connections.stats().clients_per_topic.get("fft", 0) == 1)
        async with aiohttp.ClientSession() as session:
            async with session.put(live.url + "api/filter", json={"notch_hz": 60}) as response:
                assert response.status == 200  # publishes a system event the stream must not yield
        await live.release_until(reader.done)
        await reader
    assert all(isinstance(packet, FftPacket) for packet in received), received
    assert received[0].band_power.shape == (8, 5)  # type: ignore[attr-defined]
