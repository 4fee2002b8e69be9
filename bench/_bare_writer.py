"""The machine's limit for bench/fanout.py: one pre-built frame written to every client's socket.

A minimal aiohttp server: ``/ws/data`` accepts WebSockets (no compression), sends each a
hello text, and a paced loop builds one eegd-shaped data frame per tick (the 56-byte header,
with its frame id and ``monotonic_ns`` stamped at the tick, and a payload of the same size
as eegd's) and writes the same complete WebSocket frame to every client's transport. Nothing
else: no bus, no filter, no queues. It prints its URL on stdout, then serves until killed.

    python bench/_bare_writer.py --channels 8 --rate 16000 --batch 512
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time

from aiohttp import web

from eegd.events import Topic
from eegd.net.protocol import HEADER, PROTOCOL_VERSION, server_frame

__all__ = ["main"]


def data_frame(frame_id: int, channels: int, batch: int, rate: float, payload: bytes) -> bytes:
    """A filtered_eeg frame as eegd sends it, stamped now."""
    header = HEADER.pack(
        PROTOCOL_VERSION,
        Topic.FILTERED_EEG,
        0,
        channels,
        0,
        batch,
        frame_id,
        frame_id * batch,
        0,
        time.monotonic_ns(),
        rate,
    )
    return server_frame(header + payload)


async def serve(channels: int, rate: float, batch: int) -> None:
    """Serve ``/ws/data`` and write a frame to every client every ``batch / rate`` s."""
    transports: set[asyncio.Transport] = set()
    hello = json.dumps({"type": "hello", "bare": True})

    async def websocket(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(compress=False, max_msg_size=1 << 16)
        await ws.prepare(request)
        await ws.send_str(hello)
        transport = request.transport
        if transport is None:
            return ws
        transports.add(transport)
        try:
            async for _ in ws:
                pass
        finally:
            transports.discard(transport)
        return ws

    app = web.Application()
    app.router.add_get("/ws/data", websocket)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    print(f"http://127.0.0.1:{port}/", flush=True)
    payload = bytes(channels * batch * 4)
    period_ns = round(batch / rate * 1e9)
    next_ns = time.monotonic_ns()
    frame_id = 0
    while True:
        frame = data_frame(frame_id, channels, batch, rate, payload)
        for transport in list(transports):
            transport.write(frame)
        frame_id += 1
        next_ns += period_ns
        await asyncio.sleep(max(0.0, (next_ns - time.monotonic_ns()) / 1e9))


def main() -> None:
    """Parse the flags and serve until killed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--channels", type=int, required=True)
    parser.add_argument("--rate", type=float, required=True)
    parser.add_argument("--batch", type=int, required=True)
    args = parser.parse_args()
    asyncio.run(serve(args.channels, args.rate, args.batch))


if __name__ == "__main__":
    main()
