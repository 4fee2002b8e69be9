"""The daemon in the test's own event loop, on a real loopback port, and a client that watches it.

Starting ``Daemon`` in-process costs milliseconds instead of a subprocess's second, and its
counters can be read directly; clients still talk to it over real sockets. ``Watcher`` is
the well-behaved client of the hostile-input tests: it records every frame id it receives so
a test can assert that nothing another client did cost it a frame.
"""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from eegd.config import load_config
from eegd.daemon import Daemon
from eegd.net.protocol import parse_header
from tests.support.waiting import wait_until


@dataclass
class LiveDaemon:
    """A started ``Daemon`` and the URL its server bound."""

    daemon: Daemon
    url: str

    @property
    def ws_url(self) -> str:
        """The base URL with the ws scheme."""
        return "ws" + self.url.removeprefix("http")

    @property
    def port(self) -> int:
        """The port the server listens on."""
        return int(self.url.rstrip("/").rsplit(":", 1)[1])


@contextlib.asynccontextmanager
async def live_daemon(
    toml: str = "", overrides: Mapping[str, Any] | None = None
) -> AsyncIterator[LiveDaemon]:
    """Run a daemon configured by ``toml`` and dotted ``overrides`` on a free port."""
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "eegd.toml"
        path.write_text(toml)
        flags = {key: (key, value) for key, value in (overrides or {}).items()}
        flags.setdefault("server.port", ("--port", 0))
        config = load_config(path, flags)
    daemon = Daemon(config)
    url = await daemon.serve()
    daemon.start()
    try:
        yield LiveDaemon(daemon, url)
    finally:
        await daemon.stop()


@dataclass
class Watcher:
    """A client of ``/ws/data`` that reads as fast as it can and keeps every frame id."""

    frame_ids: list[int] = field(default_factory=list)
    dropped_notices: int = 0
    closed: bool = False

    async def wait_frames(self, count: int, timeout: float = 10.0) -> None:
        """Wait until ``count`` more frames have arrived than now."""
        target = len(self.frame_ids) + count
        await wait_until(lambda: len(self.frame_ids) >= target or self.closed, timeout)
        assert not self.closed, "the watching client was disconnected"

    def assert_contiguous(self) -> None:
        """Every frame arrived, in order, none dropped."""
        ids = self.frame_ids
        assert ids, "the watcher received nothing"
        assert ids == list(range(ids[0], ids[0] + len(ids))), "the watcher lost frames"
        assert self.dropped_notices == 0


@contextlib.asynccontextmanager
async def watching(live: LiveDaemon, path: str = "ws/data") -> AsyncIterator[Watcher]:
    """A ``Watcher`` connected for the duration of the block, with its first frame in."""
    watcher = Watcher()
    async with aiohttp.ClientSession() as session:
        ws = await session.ws_connect(live.ws_url + path, max_msg_size=0)

        async def read() -> None:
            async for message in ws:
                if message.type is aiohttp.WSMsgType.BINARY:
                    watcher.frame_ids.append(parse_header(message.data).frame_id)
                elif message.type is aiohttp.WSMsgType.TEXT and '"dropped"' in message.data:
                    watcher.dropped_notices += 1
            watcher.closed = True

        reader = asyncio.create_task(read())
        try:
            await watcher.wait_frames(1)
            yield watcher
        finally:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader
            await ws.close()


def rss_kib() -> int:
    """This process's resident set size in KiB (the in-process daemon's too)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS in /proc/self/status")
