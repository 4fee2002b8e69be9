"""The daemon in the test's own event loop, on a real loopback port, and a client that watches it.

Starting ``Daemon`` in-process costs milliseconds instead of a subprocess's second, and its
counters can be read directly; clients still talk to it over real sockets. ``Watcher`` is
the well-behaved client of the hostile-input tests: it records every frame id it receives so
a test can assert that nothing another client did cost it a frame.

Where time is the subject, ``live_daemon(..., stepped=True)`` gives the synthetic source a
``FakeClock``: no sample is due until the test lets its time come with ``live.release``,
so a test streams exactly as many frames as it asks for, as fast as the machine allows.
"""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import aiohttp
import msgspec

from eegd.client import Stream
from eegd.clock import SYSTEM_CLOCK
from eegd.config import load_config
from eegd.daemon import Daemon
from eegd.events import Topic
from eegd.net.protocol import parse_header
from eegd.plugins.recorder import Recorder
from eegd.plugins.recorder.settings import RecordingSettings
from eegd.sources.base import Source
from eegd.sources.synthetic import SyntheticSettings, SyntheticSource
from tests.support.address import DaemonAddress
from tests.support.clocks import FakeClock
from tests.support.rest import api
from tests.support.timing import scaled
from tests.support.waiting import wait_until

T = TypeVar("T")


@dataclass
class LiveDaemon(DaemonAddress):
    """A started ``Daemon`` and the URL its server bound (and its source's clock, if stepped)."""

    daemon: Daemon
    url: str
    clock: FakeClock | None = None

    @property
    def frames(self) -> int:
        """Packets the source has published so far."""
        return self.daemon.acquisition.stats().frames_published

    async def release(self, frames: int = 1) -> int:
        """Let ``frames`` more packets' time come; return the last frame id, once the bus has it.

        When the voltage filter runs, this waits for its ``filtered_eeg`` packet too, so a
        client of that topic is never more than its own pump behind.
        """
        if self.clock is None:
            raise AssertionError("release needs live_daemon(..., stepped=True)")
        source = self.daemon.config.source
        target = self.frames + frames
        # Time comes packet by packet, as it does for a real source (the clock model sees
        # each block arrive when due), to a microsecond past each one's last sample.
        for due in range(self.frames + 1, target + 1):
            self.clock.set(due * source.batch_size / source.sample_rate + 1e-6)
            await wait_until(lambda due=due: self.frames >= due, timeout=10)
        bus = self.daemon.bus
        filtered = "voltage_filter" in self.daemon.config.plugins

        def carried() -> bool:
            if self.frames < target:
                return False
            topic = bus.stats().topics.get(Topic.FILTERED_EEG)
            return not filtered or (topic is not None and topic.published >= target)

        await wait_until(carried, timeout=10)
        return target - 1

    async def release_until(self, condition: Callable[[], bool], limit: int = 10_000) -> None:
        """Release one packet at a time until ``condition()`` holds (at most ``limit``)."""
        for _ in range(limit):
            if condition():
                return
            await self.release(1)
            await asyncio.sleep(0)  # let the clients' reads run before looking again
        raise AssertionError(f"not reached within {limit} packets")


async def stop_recording(live: LiveDaemon) -> dict[str, Any]:
    """POST Stop as a source that keeps its pace; Stop's reply.

    Stop waits for the packet that holds the sample of its moment, the next one, which on a
    stepped daemon comes only when released: it is released once Stop waits (not before, or
    the moment would move on with it), so the file ends with that packet.
    """
    stopping = asyncio.ensure_future(api(live, "POST", "api/recordings/current/stop"))
    if live.clock is not None:
        await release_for_stop(live, stopping.done)
    reply: dict[str, Any] = await stopping
    return reply


async def release_for_stop(live: LiveDaemon, done: Callable[[], bool] = lambda: False) -> None:
    """Once a Stop asked by other means waits (or ``done()``), release the packet of its
    moment (see ``stop_recording``)."""
    recorder = live.daemon.plugins["recorder"]
    assert isinstance(recorder, Recorder)
    await wait_until(lambda: recorder.stopping or done(), timeout=10)
    if not done():
        await live.release(1)


class LiveDaemons:
    """Daemons a test starts in its own loop (as ``live_daemon``), each stopped after the test.

    ``stop`` ends one early, so that the test can start the next on the port it freed: a
    restart as the page sees it, without a subprocess's second of start-up.
    """

    def __init__(self) -> None:
        self._running: dict[int, contextlib.AsyncExitStack] = {}

    async def start(
        self, toml: str = "", overrides: Mapping[str, Any] | None = None, *, stepped: bool = False
    ) -> LiveDaemon:
        """A daemon configured by ``toml`` and dotted ``overrides``, once its source is open."""
        stack = contextlib.AsyncExitStack()
        live = await stack.enter_async_context(live_daemon(toml, overrides, stepped=stepped))
        self._running[id(live)] = stack
        return live

    async def stop(self, live: LiveDaemon) -> None:
        """Stop ``live`` now, freeing its port."""
        await self._running.pop(id(live)).aclose()

    async def stop_all(self) -> None:
        """Stop every daemon still running, the last started first."""
        while self._running:
            _, stack = self._running.popitem()
            await stack.aclose()


@contextlib.asynccontextmanager
async def live_daemon(
    toml: str = "",
    overrides: Mapping[str, Any] | None = None,
    *,
    stepped: bool = False,
    stepped_loop: bool = False,
    source: Callable[[], Source] | None = None,
) -> AsyncIterator[LiveDaemon]:
    """Run a daemon configured by ``toml`` and dotted ``overrides`` on a free port.

    With ``stepped`` the synthetic source (the ``[source]`` shape, default synthetic
    options) paces itself by a ``FakeClock`` that only the test moves
    (``LiveDaemon.release``). ``stepped_loop`` makes it the daemon's event-loop clock too
    (a client's stall, uptime, loop lag): a client then stalls in stream time, whatever the
    machine's load. ``source`` opens the source instead of ``[source]`` (a device on
    stand-in hardware). The daemon is yielded once the source is open.
    """
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "eegd.toml"
        path.write_text(toml)
        flags = {key: (key, value) for key, value in (overrides or {}).items()}
        flags.setdefault("server.port", ("--port", 0))
        config = load_config(path, flags)
        if config.recording.directory == RecordingSettings().directory:
            # A test that names no directory records beside its config, not into the clone.
            recording = msgspec.structs.replace(config.recording, directory=directory)
            config = msgspec.structs.replace(config, recording=recording)
        clock = FakeClock(manual=True) if stepped else None
        if clock is None:
            daemon = Daemon(config, source)
        else:
            shape = config.source  # a stepped source has the default synthetic options
            settings = SyntheticSettings(
                channels=shape.channels,
                sample_rate=shape.sample_rate,
                channel_names=tuple(shape.channel_names) if shape.channel_names else None,
            )
            daemon = Daemon(
                config,
                lambda: SyntheticSource(settings, clock),
                source_clock=clock,
                wall_clock=clock.wall_clock_us,
                clock=clock.asyncio if stepped_loop else SYSTEM_CLOCK,
            )
        url = await daemon.serve()
        daemon.start()
        try:
            await wait_until(lambda: daemon.acquisition.session is not None, timeout=10)
            yield LiveDaemon(daemon, url, clock)
        finally:
            if clock is not None:
                clock.run_free()  # the reader thread must not wait for a time that never comes
            await daemon.stop()


@dataclass
class Watcher:
    """A client of ``/ws/filtered_eeg`` that reads as fast as it can and keeps every frame id."""

    frame_ids: list[int] = field(default_factory=list)
    dropped_notices: int = 0
    greeted: bool = False
    closed: bool = False

    async def wait_frames(self, count: int, timeout: float = 10.0) -> None:
        """Wait until ``count`` more frames have arrived than now."""
        target = len(self.frame_ids) + count
        await wait_until(lambda: len(self.frame_ids) >= target or self.closed, timeout)
        assert not self.closed, "the watching client was disconnected"

    def has(self, frame_id: int) -> bool:
        """Whether frame ``frame_id`` (or a later one) has arrived."""
        return bool(self.frame_ids) and self.frame_ids[-1] >= frame_id

    async def wait_frame(self, frame_id: int, timeout: float = 10.0) -> None:
        """Wait until frame ``frame_id`` has arrived."""
        await wait_until(lambda: self.has(frame_id) or self.closed, timeout)
        assert not self.closed, "the watching client was disconnected"

    def assert_contiguous(self) -> None:
        """Every frame arrived, in order, none dropped."""
        ids = self.frame_ids
        assert ids, "the watcher received nothing"
        assert ids == list(range(ids[0], ids[0] + len(ids))), "the watcher lost frames"
        assert self.dropped_notices == 0


@contextlib.asynccontextmanager
async def watching(
    live: LiveDaemon, path: str = "ws/filtered_eeg", headers: Mapping[str, str] | None = None
) -> AsyncIterator[Watcher]:
    """A ``Watcher`` connected for the duration of the block, with its first frame in.

    On a stepped daemon it is yielded once greeted instead: frames come when released.
    ``headers`` go with the handshake (``Authorization`` where tokens are configured).
    """
    watcher = Watcher()
    async with aiohttp.ClientSession() as session:
        ws = await session.ws_connect(live.ws_url + path, max_msg_size=0, headers=headers)

        async def read() -> None:
            async for message in ws:
                if message.type is aiohttp.WSMsgType.BINARY:
                    watcher.frame_ids.append(parse_header(message.data).frame_id)
                elif message.type is aiohttp.WSMsgType.TEXT:
                    watcher.dropped_notices += '"dropped"' in message.data
                    watcher.greeted |= '"hello"' in message.data
            watcher.closed = True

        reader = asyncio.create_task(read())
        try:
            if live.clock is None:
                await watcher.wait_frames(1)
            else:
                await wait_until(lambda: watcher.greeted or watcher.closed, timeout=10)
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


async def next_of(stream: Stream, kind: type[T], timeout: float = 10.0) -> T:
    """The next item of type ``kind`` on ``stream``, skipping others."""
    async with asyncio.timeout(scaled(timeout)):
        async for item in stream:
            if isinstance(item, kind):
                return item
    raise AssertionError(f"the stream ended before a {kind.__name__}")


async def next_released(live: LiveDaemon, stream: Stream, kind: type[T]) -> T:
    """The next item of type ``kind``, releasing one packet at a time until it comes."""
    task = asyncio.create_task(next_of(stream, kind))
    try:
        await live.release_until(task.done)
        return await task
    finally:
        task.cancel()


async def status(live: LiveDaemon) -> dict[str, Any]:
    """The daemon's /api/status."""
    result: dict[str, Any] = await api(live, "GET", "api/status")
    return result


async def release_to_all(live: LiveDaemon, watchers: list[Watcher], frames: int) -> None:
    """Release ``frames`` packets and wait until every watcher has them."""
    last = await live.release(frames)
    await wait_until(lambda: all(watcher.has(last) for watcher in watchers), timeout=20)
