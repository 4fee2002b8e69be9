"""``POST /api/selftest`` against an in-process daemon on the emulated ADS1299.

The test ends the session, tests the chip (a fresh emulator on its virtual clock) and starts
a new session: a streaming client gets a new hello and, within each session, every frame.
It is refused while recording, while another test runs, and on a source without one.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

import eegd.client
from eegd.errors import RequestRefused
from eegd.events import SystemEventKind
from eegd.net.protocol import EegFrame, Hello, SystemMessage
from eegd.plugins.recorder import Recorder
from tests.support.live import LiveDaemon, live_daemon, stop_recording
from tests.support.rest import api
from tests.support.waiting import wait_until

EMULATED = """
[source]
kind = "ads1299"
channels = 8
sample_rate = 250
batch_size = 25

[source.ads1299]
emulate = true
"""


@dataclass
class Client:
    """A /ws client of raw_eeg and system that notes each frame id under its session."""

    frames: dict[str, list[int]] = field(default_factory=dict)
    sessions: list[str] = field(default_factory=list)
    system: list[str] = field(default_factory=list)

    def count(self, session: str) -> int:
        return len(self.frames.get(session, []))


@contextlib.asynccontextmanager
async def client_of(live: LiveDaemon) -> AsyncIterator[Client]:
    client = Client()
    async with eegd.client.connect(live.ws_url + "ws", ["raw_eeg", "system"], control=True) as ws:

        async def read() -> None:
            async for item in ws:
                if isinstance(item, Hello) and item.session not in client.sessions:
                    client.sessions.append(item.session)
                elif isinstance(item, EegFrame):
                    assert ws.hello is not None
                    client.frames.setdefault(ws.hello.session, []).append(item.frame_id)
                elif isinstance(item, SystemMessage):
                    client.system.append(item.kind)

        reader = asyncio.create_task(read())
        try:
            await wait_until(lambda: bool(client.sessions) and client.count(client.sessions[0]) > 2)
            yield client
        finally:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader


def assert_contiguous(ids: list[int]) -> None:
    assert ids == list(range(ids[0], ids[0] + len(ids))), ids


async def test_selftest_passes_and_the_stream_goes_on_in_a_new_session() -> None:
    async with live_daemon(EMULATED) as live, client_of(live) as client:
        status = await api(live, "GET", "api/status")
        assert status["source"]["selftest"] is True
        first = client.sessions[0]
        result = await api(live, "POST", "api/selftest")
        assert result["passed"] is True
        assert result["sample_rate"] == 250
        assert len(result["channels"]) == 8
        for channel in result["channels"]:
            assert channel["passed"], channel
            assert channel["noise"]["rms_uv"] <= channel["noise"]["limit_rms_uv"]
            assert channel["test_signal"]["passed"]
        await wait_until(lambda: len(client.sessions) == 2 and client.count(client.sessions[1]) > 2)
        second = client.sessions[1]
        assert second != first
        assert second == live.daemon.acquisition.session.id  # type: ignore[union-attr]
        assert_contiguous(client.frames[first])
        assert_contiguous(client.frames[second])
        assert client.frames[second][0] == 0
        await wait_until(lambda: SystemEventKind.SELFTEST_FINISHED.value in client.system)
        started = client.system.index(SystemEventKind.SELFTEST_STARTED.value)
        assert started < client.system.index(SystemEventKind.SELFTEST_FINISHED.value)


async def test_a_second_selftest_while_one_runs_is_refused() -> None:
    async with live_daemon(EMULATED) as live:
        service = live.daemon.selftest
        running = asyncio.create_task(service.run())
        await asyncio.sleep(0)  # one step: it has claimed the source and awaits its release
        assert service.running
        with pytest.raises(RequestRefused) as refused:
            await service.run()
        assert (refused.value.status, refused.value.code) == (409, "selftest_running")
        assert (await running)["passed"] is True
        assert not service.running


@contextlib.asynccontextmanager
async def recording_daemon(directory: Path) -> AsyncIterator[LiveDaemon]:
    """The emulated daemon with its recorder ready to record into ``directory``."""
    async with live_daemon(EMULATED + f'\n[recording]\ndirectory = "{directory}"\n') as live:

        def ready() -> bool:
            recorder = live.daemon.plugins.get("recorder")
            return isinstance(recorder, Recorder) and recorder.ready

        await wait_until(ready)
        yield live


async def test_selftest_is_refused_while_recording_and_the_stream_is_untouched(
    tmp_path: Path,
) -> None:
    async with recording_daemon(tmp_path) as live:
        async with client_of(live) as client:
            await api(live, "POST", "api/recordings", {"name": "busy"})
            refused = await api(live, "POST", "api/selftest", status=409)
            assert refused["type"] == "error"
            assert refused["code"] == "recording"
            assert "busy" in refused["message"]
            session = client.sessions[0]
            seen = client.count(session)
            await wait_until(lambda: client.count(session) >= seen + 3)
            await stop_recording(live)
            assert client.sessions == [session]
            assert_contiguous(client.frames[session])
            assert SystemEventKind.SELFTEST_STARTED.value not in client.system


async def test_a_source_without_a_selftest_says_so() -> None:
    async with live_daemon() as live:
        status = await api(live, "GET", "api/status")
        assert status["source"]["selftest"] is False
        refused = await api(live, "POST", "api/selftest", status=409)
        assert refused["type"] == "error"
        assert refused["code"] == "no_selftest"
        assert "synthetic source has no self-test" in refused["message"]
        route = live.daemon.selftest.route()
        assert (route.method, route.path, route.role) == ("POST", "/api/selftest", "operator")
