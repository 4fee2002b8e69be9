"""N WebSocket clients in one process that read every frame as fast as they can.

    python -m tests.support.fast_clients URL N SECONDS

Prints one JSON object: per client, the frame ids received (first, last, count, gaps)
and the back-pressure notices it got. Loopback only; ends by itself after SECONDS.
"""

from __future__ import annotations

import asyncio
import json
import sys

import aiohttp

from eegd.net.protocol import parse_header


async def one_client(session: aiohttp.ClientSession, url: str, seconds: float) -> dict[str, int]:
    ids: list[int] = []
    notices = 0
    async with session.ws_connect(url, max_msg_size=0) as ws:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        while (left := deadline - loop.time()) > 0:
            try:
                message = await ws.receive(timeout=left)
            except TimeoutError:
                break
            if message.type is aiohttp.WSMsgType.BINARY:
                ids.append(parse_header(message.data).frame_id)
            elif message.type is aiohttp.WSMsgType.TEXT:
                notices += json.loads(message.data)["type"] == "dropped"
            else:
                break
    gaps = sum(1 for before, after in zip(ids, ids[1:], strict=False) if after != before + 1)
    return {
        "first": ids[0] if ids else -1,
        "last": ids[-1] if ids else -1,
        "count": len(ids),
        "gaps": gaps,
        "dropped_notices": notices,
    }


async def main(url: str, clients: int, seconds: float) -> None:
    async with aiohttp.ClientSession() as session:
        results = await asyncio.gather(*(one_client(session, url, seconds) for _ in range(clients)))
    print(json.dumps(results), flush=True)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2]), float(sys.argv[3])))
