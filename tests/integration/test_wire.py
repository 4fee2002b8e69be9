"""Frames built once and written straight to the sockets: a valid WebSocket stream, in order.

Every data frame is one complete WebSocket frame built once per event and written to each
client's transport; a client that keeps up gets it from the dispatch itself, one that fell
behind through its queue and writer. Control messages, pings and closes stay with aiohttp.
Strict clients (the ``websockets`` library) check the bytes on the wire.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any

import websockets
from websockets.asyncio.client import ClientConnection
from websockets.frames import Opcode

from eegd.events import FftPacket
from eegd.net.protocol import EegFrame, Hello, decode_frame, decode_text, parse_header
from tests.support.live import LiveDaemon, live_daemon, release_to_all, status, watching
from tests.support.strictws import StrictClient
from tests.support.timing import scaled
from tests.support.waiting import wait_until

BINARY = Opcode.BINARY
SIXTEEN_KHZ = "[source]\nsample_rate = 16000\nbatch_size = 512\n"


class Received:
    """Everything one strict client got, in order: JSON texts and decoded data frames."""

    def __init__(self) -> None:
        self.hello: Hello | None = None
        self.texts: list[dict[str, Any]] = []
        self.frames: list[EegFrame | FftPacket] = []

    def of(self, kind: str) -> list[dict[str, Any]]:
        return [text for text in self.texts if text["type"] == kind]

    def has_frame(self, frame_id: int) -> bool:
        """Whether an EEG frame with ``frame_id`` (or a later one) has come."""
        return any(
            isinstance(frame, EegFrame) and frame.frame_id >= frame_id
            for frame in reversed(self.frames)
        )

    async def read(self, ws: ClientConnection) -> None:
        async for message in ws:
            if isinstance(message, str):
                self.texts.append(json.loads(message))
                if self.texts[-1]["type"] == "hello":
                    hello = decode_text(message)
                    assert isinstance(hello, Hello)
                    self.hello = hello
            else:
                assert self.hello is not None, "a data frame came before the hello"
                self.frames.append(decode_frame(message, self.hello))


async def test_the_bytes_on_the_wire_are_a_valid_websocket_stream_of_every_topic() -> None:
    async with (
        live_daemon(stepped=True) as live,
        websockets.connect(live.ws_url + "ws", compression=None, max_size=None) as mixed,
        websockets.connect(live.ws_url + "ws", compression=None, max_size=None) as twin,
        websockets.connect(
            live.ws_url + "ws/filtered_eeg", compression=None, max_size=None
        ) as plain,
    ):
        received = {name: Received() for name in ("mixed", "twin", "plain")}
        readers = [
            asyncio.create_task(received[name].read(ws))
            for name, ws in (("mixed", mixed), ("twin", twin), ("plain", plain))
        ]
        subscribe = {"type": "subscribe", "topics": ["raw_eeg", "fft", "marker", "system"]}
        decimated = {"type": "subscribe", "topics": ["filtered_eeg"], "max_rate": 50}
        for ws in (mixed, twin):
            await ws.send(json.dumps(subscribe))
            await ws.send(json.dumps(decimated))
        controls = [
            {"type": "ping"},
            {"type": "marker", "label": "blink"},
            {"type": "no such type"},
            {"type": "unsubscribe", "topics": ["marker"]},
            {"type": "subscribe", "topics": ["marker"]},
        ]
        mixed_got = received["mixed"]
        pongs: list[asyncio.Future[float]] = []

        def enough() -> bool:
            kinds = {type(frame).__name__ for frame in mixed_got.frames}
            decimated_frames = [
                frame
                for frame in mixed_got.frames
                if isinstance(frame, EegFrame) and frame.decimated
            ]
            return (
                kinds == {"EegFrame", "FftPacket"}
                and len(decimated_frames) >= 3
                and len(mixed_got.of("marker")) >= 2
                and len(mixed_got.of("error")) >= 2
                and len(received["plain"].frames) >= 24
            )

        for step in range(400):
            if enough():
                break
            await mixed.send(json.dumps(controls[step % len(controls)]))
            # The server's pongs interleave with its data frames (its own pings would too, but
            # a client must answer those within half their interval: a deadline of time).
            pongs += [await ws.ping() for ws in (twin, plain)]
            last = await live.release(1)
            await wait_until(lambda last=last: received["plain"].has_frame(last))
        await wait_until(enough)
        await asyncio.wait_for(asyncio.gather(*pongs), scaled(10))
        for ws in (mixed, twin, plain):
            await ws.close()
        await asyncio.gather(*readers)  # a protocol error in any frame would raise here
        closes = [ws.close_code for ws in (mixed, twin, plain)]

    assert closes == [1000, 1000, 1000]
    mixed_frames = mixed_got.frames
    raw = [frame for frame in mixed_frames if isinstance(frame, EegFrame) and not frame.decimated]
    assert [frame.frame_id for frame in raw] == list(range(raw[0].frame_id, raw[-1].frame_id + 1))
    envelopes = [frame for frame in mixed_frames if isinstance(frame, EegFrame) and frame.decimated]
    assert all(frame.n_samples > 0 for frame in envelopes)
    assert any(isinstance(frame, FftPacket) for frame in mixed_frames)
    assert {text["type"] for text in mixed_got.texts} >= {
        "hello",
        "subscribed",
        "unsubscribed",
        "pong",
        "done",
        "error",
        "marker",
    }
    # The twin asked for the same envelope: the very same frames (one build serves both).
    twin_ids = {
        frame.frame_id
        for frame in received["twin"].frames
        if isinstance(frame, EegFrame) and frame.decimated
    }
    assert twin_ids & {frame.frame_id for frame in envelopes}
    plain_ids = [frame.frame_id for frame in received["plain"].frames]
    assert plain_ids == list(range(plain_ids[0], plain_ids[-1] + 1))


async def test_each_event_is_encoded_and_framed_once_at_1_and_50_clients() -> None:
    async with live_daemon(stepped=True) as live:
        for count in (1, 50):
            async with contextlib.AsyncExitStack() as stack:
                watchers = [await stack.enter_async_context(watching(live)) for _ in range(count)]
                before = (await status(live))["clients"]
                await release_to_all(live, watchers, 8)
                after = (await status(live))["clients"]
            await wait_until(lambda: live.daemon.connections.stats().clients == 0)
            gone = (await status(live))["clients"]
            for watcher in watchers:
                watcher.assert_contiguous()
            # The writes of clients that left still count.
            for key in ("written_direct", "written_queued"):
                assert gone[key] == after[key], key
            routed, encoded, built = (
                after[key]["filtered_eeg"] - before[key]["filtered_eeg"]
                for key in ("events_routed", "encoded", "frames_built")
            )
            assert routed >= 8, routed
            assert encoded == routed, count
            assert built == routed, count
            assert after["written_direct"] + after["written_queued"] >= 8 * count


def data_ids(client: StrictClient) -> list[int]:
    """The frame ids of the data frames the client has received, in order."""
    return [parse_header(frame.data).frame_id for frame in client.frames if frame.opcode is BINARY]


async def released_and_read(live: LiveDaemon, client: StrictClient) -> int:
    """Release one packet and read until the client has its frame; its frame id."""
    last = await live.release(1)
    await client.receive_until(lambda: data_ids(client)[-1:] == [last])
    return last


async def test_a_client_that_falls_behind_gets_its_frames_in_order_with_the_drops_announced() -> (
    None
):
    # The client answers pings only while it reads: while it deliberately does not, however
    # long a loaded machine takes, neither a stall nor a missed pong may close it.
    toml = (
        SIXTEEN_KHZ + "[server]\nclient_queue_s = 0.25\nstall_timeout_s = 60\nheartbeat_s = 3600\n"
    )
    async with live_daemon(toml, stepped=True) as live:
        connections = live.daemon.connections
        client = await StrictClient.connect(live.port, "/ws/filtered_eeg")
        try:
            await client.receive_until(lambda: bool(client.frames))  # the hello
            # Keeping up: every frame is written from the dispatch, none queued.
            for _ in range(4):
                await released_and_read(live, client)
            keeping_up = connections.stats()
            # Not reading: the socket fills, the queue engages, then drops its oldest frames.
            released = 4
            while connections.stats().dropped < 5:
                assert released < 5000, "the client never fell behind"
                last = await live.release(4)
                released += 4
            assert connections.stats().closed_stalled == 0
            # Reading again, while new frames come behind those still queued: it catches up,
            # then is written to directly again.
            for _ in range(8):
                seen = len(data_ids(client))
                await client.receive_until(lambda seen=seen: len(data_ids(client)) > seen)
                last = await live.release(1)
            await client.receive_until(lambda: data_ids(client)[-1:] == [last])
            direct = connections.stats().written_direct
            for _ in range(20):
                await released_and_read(live, client)
                if connections.stats().written_direct > direct:
                    break
            direct = connections.stats().written_direct
            for _ in range(3):
                last = await released_and_read(live, client)
            stats = connections.stats()
        finally:
            client.close()

    assert (keeping_up.written_direct, keeping_up.written_queued) == (4, 0)
    assert stats.written_queued > 0
    assert stats.written_direct == direct + 3, "it did not return to the fast path"
    ids: list[int] = []
    announced: list[int] = []
    announced_count = 0
    for frame in client.frames:
        if frame.opcode is BINARY:
            frame_id = parse_header(frame.data).frame_id
            assert not ids or frame_id > ids[-1], "frames out of order"
            assert all(lost < frame_id for lost in announced), "a frame came before its notice"
            ids.append(frame_id)
            continue
        message = json.loads(frame.data)
        if message["type"] == "dropped":
            assert all(lost > ids[-1] for lost in message["frames"]), "a notice came late"
            announced += message["frames"]
            announced_count += message["count"]
    missing = sorted(set(range(ids[0], ids[-1] + 1)) - set(ids))
    assert ids[0] == 0
    assert ids[-1] == last
    assert missing == announced
    assert announced_count == len(missing) == stats.dropped
