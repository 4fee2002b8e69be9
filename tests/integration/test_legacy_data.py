"""``/ws/data`` in elata-eeg's format, read as its kiosk reads it: the channel count from
``/config``, every binary message through a decoder written from the kiosk's rules
(``tests.support.elata_wire``), compared with the packets on the daemon's bus."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import numpy as np
from websockets.frames import Opcode

from eegd.bus import EventBus
from eegd.events import Event, FftPacket, FilteredEegPacket, SystemEvent, SystemEventKind, Topic
from tests.support.elata_wire import EegMessage, LogMessage, SpectrumMessage, decode
from tests.support.live import LiveDaemon, live_daemon, status
from tests.support.strictws import StrictClient
from tests.support.timing import scaled
from tests.support.waiting import wait_until


@dataclass
class OldKiosk:
    """What one ``/ws/data`` client received, in order: binary messages and any text."""

    binary: list[bytes] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)

    def decoded(self, channels: int) -> list[EegMessage | SpectrumMessage | LogMessage]:
        return [decode(data, channels) for data in self.binary]

    def eeg(self, channels: int) -> list[EegMessage]:
        return [m for m in self.decoded(channels) if isinstance(m, EegMessage)]


@contextlib.asynccontextmanager
async def old_kiosk(live: LiveDaemon, count: int = 1) -> AsyncIterator[list[OldKiosk]]:
    """``count`` clients of ``/ws/data`` reading everything until the block ends."""
    kiosks = [OldKiosk() for _ in range(count)]
    async with aiohttp.ClientSession() as session:
        sockets = [
            await session.ws_connect(live.ws_url + "ws/data", max_msg_size=0) for _ in kiosks
        ]

        async def read(ws: aiohttp.ClientWebSocketResponse, kiosk: OldKiosk) -> None:
            async for message in ws:
                if message.type is aiohttp.WSMsgType.BINARY:
                    kiosk.binary.append(message.data)
                else:
                    kiosk.texts.append(str(message.data))

        readers = [asyncio.create_task(read(ws, k)) for ws, k in zip(sockets, kiosks, strict=True)]
        await wait_until(lambda: live.daemon.connections.stats().clients >= count)
        try:
            yield kiosks
        finally:
            for reader in readers:
                reader.cancel()
            await asyncio.gather(*readers, return_exceptions=True)
            for ws in sockets:
                await ws.close()


@contextlib.contextmanager
def on_the_bus(bus: EventBus, *topics: Topic) -> Any:
    """The events of ``topics`` published while the block runs: the daemon's own truth."""
    seen: list[Event] = []

    def failed(event: Event, exc: Exception) -> None:
        raise AssertionError(f"recording {event!r} failed") from exc

    listener = bus.listen(topics, seen.append, failed)
    try:
        yield seen
    finally:
        listener.close()


async def channels_of(session: aiohttp.ClientSession, live: LiveDaemon) -> int:
    """The channel count the kiosk splits topic 0 by: ``len(channels)`` from ``/config``."""
    ws = await session.ws_connect(live.ws_url + "config")
    message = await ws.receive(timeout=scaled(10))
    await ws.close()
    return len(json.loads(message.data)["channels"])


def assert_same_samples(message: EegMessage, packet: FilteredEegPacket) -> None:
    """The message holds the packet's samples, in volts, each with its sample's time."""
    assert message.values == packet.samples.tolist()
    assert message.timestamps == [packet.timestamps.tolist()] * packet.samples.shape[0]


def packet_starting_at(events: list[Event], stamp: int) -> FilteredEegPacket:
    for event in events:
        if isinstance(event, FilteredEegPacket) and int(event.timestamps[0]) == stamp:
            return event
    raise AssertionError(f"no packet on the bus starts at {stamp}")


async def test_filtered_eeg_in_volts_with_a_timestamp_per_value() -> None:
    async with (
        live_daemon(stepped=True) as live,
        aiohttp.ClientSession() as session,
    ):
        channels = await channels_of(session, live)
        session_state = live.daemon.acquisition.session
        assert session_state is not None
        with on_the_bus(live.daemon.bus, Topic.FILTERED_EEG) as published:
            async with old_kiosk(live) as (kiosk,):
                await live.release(6)
                await wait_until(lambda: len(kiosk.eeg(channels)) >= 6)
                assert kiosk.texts == []  # the old format has no text messages
                messages = kiosk.eeg(channels)
        assert channels == 8
        period = 1_000_000 // 250
        stamps: list[int] = []
        for message in messages:
            assert message.samples == 32
            assert_same_samples(message, packet_starting_at(published, message.timestamps[0][0]))
            stamps += message.timestamps[0]
            # Volts, not µV: EEG is tens of µV.
            assert 0 < max(abs(v) for row in message.values for v in row) < 1e-3
        # Per sample one period apart, within and across messages: from the sample index.
        assert np.diff(stamps).tolist() == [period] * (len(stamps) - 1)
        first = (stamps[0] - session_state.time_anchor_us) / period
        assert first == round(first)


async def test_the_spectrum_as_the_old_fft_json() -> None:
    async with live_daemon(stepped=True) as live:
        with on_the_bus(live.daemon.bus, Topic.FFT) as published:
            async with old_kiosk(live) as (kiosk,):

                def spectra() -> list[SpectrumMessage]:
                    return [m for m in kiosk.decoded(8) if isinstance(m, SpectrumMessage)]

                await live.release_until(lambda: len(spectra()) >= 2)
        for spectrum in spectra():
            sent = spectrum.packet
            packet = next(
                event
                for event in published
                if isinstance(event, FftPacket) and event.source_frame_id == sent["source_frame_id"]
            )
            assert sent["timestamp"] == packet.timestamp
            assert [entry["channel"] for entry in sent["psd_packets"]] == list(range(8))
            np.testing.assert_allclose(spectrum.frequencies(), packet.freqs, atol=1e-4)
            for channel, entry in enumerate(sent["psd_packets"]):
                np.testing.assert_allclose(
                    np.power(10.0, entry["psd"]), packet.psd[channel], rtol=1e-5
                )


async def test_each_event_is_encoded_once_for_every_old_kiosk() -> None:
    async with live_daemon(stepped=True) as live:
        async with old_kiosk(live, count=3) as kiosks:
            before = (await status(live))["clients"]
            await live.release(8)
            await wait_until(lambda: all(len(k.eeg(8)) >= 8 for k in kiosks))
            after = (await status(live))["clients"]
            # Warnings and errors go out as log lines, to every client too.
            live.daemon.bus.publish(
                SystemEvent.now(SystemEventKind.TASK_FAILED, task="probe", error="a test")
            )
            await wait_until(lambda: all(isinstance(k.decoded(8)[-1], LogMessage) for k in kiosks))
        assert kiosks[0].binary == kiosks[1].binary == kiosks[2].binary
        routed, encoded = (
            after[key]["filtered_eeg"] - before[key]["filtered_eeg"]
            for key in ("events_routed", "encoded_legacy")
        )
        assert routed >= 8
        assert encoded == routed
        log = kiosks[0].decoded(8)[-1]
        assert isinstance(log, LogMessage)
        assert log.text.startswith("error task_failed: ")
        assert "probe" in log.text


async def test_a_client_message_is_answered_in_the_old_format() -> None:
    async with (
        live_daemon(stepped=True) as live,
        aiohttp.ClientSession() as session,
    ):
        ws = await session.ws_connect(live.ws_url + "ws/data")
        await ws.send_str('{"type": "subscribe", "topics": ["raw_eeg"]}')
        message = await ws.receive(timeout=scaled(10))
        assert message.type is aiohttp.WSMsgType.BINARY
        reply = decode(message.data, 8)
        assert isinstance(reply, LogMessage)
        assert "/ws/data streams" in reply.text
        await ws.close()


async def test_after_a_config_change_to_4_channels_at_500_hz_frames_have_that_shape() -> None:
    async with live_daemon() as live, aiohttp.ClientSession() as session:
        with on_the_bus(live.daemon.bus, Topic.FILTERED_EEG) as published:
            async with old_kiosk(live) as (kiosk,):
                config = await session.ws_connect(live.ws_url + "config")
                before = json.loads((await config.receive(timeout=scaled(10))).data)
                assert (len(before["channels"]), before["sample_rate"]) == (8, 250)
                await wait_until(lambda: len(kiosk.binary) >= 2)
                await config.send_json({"channels": [0, 1, 2, 3], "sample_rate": 500})
                replied = json.loads((await config.receive(timeout=scaled(10))).data)
                assert replied == {"status": "ok", "message": "Config update submitted"}
                after = json.loads((await config.receive(timeout=scaled(10))).data)
                assert (after["channels"], after["sample_rate"]) == ([0, 1, 2, 3], 500)
                await config.close()

                def shapes() -> list[tuple[int, float]]:
                    """Per topic-0 message, its packet's channel count and rate."""
                    found = []
                    for data in kiosk.binary:
                        message = decode(data, 1)
                        if isinstance(message, EegMessage):
                            packet = packet_starting_at(published, message.timestamps[0][0])
                            found.append((packet.samples.shape[0], packet.sample_rate))
                    return found

                await wait_until(lambda: shapes().count((4, 500.0)) >= 4)
        shape = shapes()
        switched = shape.index((4, 500.0))
        assert shape[:switched] == [(8, 250.0)] * switched  # the old shape, then only the new
        assert set(shape[switched:]) == {(4, 500.0)}
        stamps: list[int] = []
        for data in [m for m in kiosk.binary if m[1] == 0][switched:]:
            message = decode(data, len(after["channels"]))  # split as the kiosk splits it
            assert isinstance(message, EegMessage)
            assert_same_samples(message, packet_starting_at(published, message.timestamps[0][0]))
            stamps += message.timestamps[0]
        assert np.diff(stamps).tolist() == [1_000_000 // 500] * (len(stamps) - 1)


async def test_a_client_that_falls_behind_is_told_its_drops_as_a_log_line() -> None:
    toml = (
        "[source]\nsample_rate = 16000\nbatch_size = 512\n"
        "[server]\nclient_queue_s = 0.25\nstall_timeout_s = 60\n"
        "heartbeat_s = 3600\n"  # it answers pings only while it reads: no pong deadline
    )
    async with live_daemon(toml, stepped=True) as live:
        connections = live.daemon.connections
        client = await StrictClient.connect(live.port, "/ws/data")
        try:
            await wait_until(lambda: connections.stats().clients == 1)
            released = 0
            while connections.stats().dropped < 5:  # not reading: the queue drops
                assert released < 5000, "the client never fell behind"
                await live.release(4)
                released += 4

            # Only the topic byte, to stay cheap: frames at 16 kHz are 48 KiB.
            def topics() -> list[int]:
                return [frame.data[1] for frame in client.frames]

            await client.receive_until(lambda: 255 in topics())
            first = decode(next(f.data for f in client.frames if f.data[1] == 255), 8)
            assert isinstance(first, LogMessage)
            dropped = connections.stats().dropped
            # Then the rest of the queue, up to the last packet released.
            clock = live.daemon.acquisition.clock
            assert clock is not None
            published = live.daemon.bus.stats().topics[Topic.FILTERED_EEG].published
            last = clock.stamp_us((published - 1) * 512).to_bytes(8, "little")  # as issued
            await client.receive_until(
                lambda: any(f.data[1] == 0 and f.data[6:14] == last for f in client.frames)
            )
        finally:
            client.close()
    assert all(frame.opcode is Opcode.BINARY for frame in client.frames)
    # Frames in order; each gap right after a notice that counts it (spectra too).
    stamps: list[int] = []
    told: dict[int, int] = {}
    for frame in client.frames:
        message = decode(frame.data, 8)
        if isinstance(message, LogMessage):
            notice = json.loads(message.text)
            assert notice["type"] == "dropped"
            told[len(stamps)] = notice["count"]
        elif isinstance(message, EegMessage):
            stamps.append(message.timestamps[0][0])
    assert sum(told.values()) == dropped >= 5
    packet_us = 32_000  # 512 samples at 16 kHz
    steps = (np.diff(stamps) // packet_us).tolist()
    gaps = {index + 1: step - 1 for index, step in enumerate(steps) if step != 1}
    assert gaps, "no frame was missing"
    for at, missing in gaps.items():
        assert 1 <= missing <= told.get(at, 0), (at, missing, told)
