"""``PUT /api/source`` with hostile playback paths against a live daemon: each is a JSON 400
that names the path and never a byte of the file, nothing blocks the event loop, and a
watching client keeps every frame."""

from __future__ import annotations

import asyncio
import logging
import os
import urllib.request
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.support.live import LiveDaemon, live_daemon, watching
from tests.support.recordings import write_recording
from tests.support.timing import scaled


def allowing(directory: Path) -> str:
    return f'[source.playback]\ndirectories = ["{directory}"]\n'


async def put_source(live: LiveDaemon, body: Any) -> tuple[int, dict[str, Any]]:
    async with (
        aiohttp.ClientSession() as session,
        session.put(live.url + "api/source", json=body) as response,
    ):
        reply: dict[str, Any] = await response.json()
        return response.status, reply


async def refused_path(live: LiveDaemon, path: str) -> str:
    async with watching(live) as watcher:
        await watcher.wait_frame(await live.release(1))
        session = live.daemon.acquisition.session
        status, reply = await put_source(live, {"kind": "playback", "playback": {"path": path}})
        assert status == 400, reply
        assert (reply["type"], reply["code"]) == ("error", "bad_field")
        await watcher.wait_frame(await live.release(3))
        watcher.assert_contiguous()
        assert live.daemon.acquisition.session is session
        assert live.daemon.config.source.kind == "synthetic"
    message: str = reply["message"]
    return message


async def test_put_source_outside_the_directories_is_refused_without_quoting_the_file(
    tmp_path: Path,
) -> None:
    async with live_daemon(allowing(tmp_path), stepped=True) as live:
        for path in ("/etc/passwd", "/proc/self/environ", str(tmp_path / ".." / "x.edf")):
            message = await refused_path(live, path)
            assert message.startswith(f"source.playback.path: {path}: outside the playback")
            assert "root:x" not in message
            assert "PATH=" not in message


async def test_put_source_cannot_widen_the_playback_directories(tmp_path: Path) -> None:
    async with live_daemon(allowing(tmp_path), stepped=True) as live:
        status, reply = await put_source(
            live, {"kind": "playback", "playback": {"path": "/etc/passwd", "directories": ["/"]}}
        )
        assert status == 400
        assert reply["message"].startswith("source.playback.directories: set in the config")


async def test_put_source_with_a_fifo_is_refused_and_the_loop_never_waits_for_it(
    tmp_path: Path,
) -> None:
    fifo = tmp_path / "pipe.edf"
    os.mkfifo(fifo)
    async with live_daemon(allowing(tmp_path), stepped=True) as live:

        def health_meanwhile() -> bool:
            """Whether the daemon answers /healthz while the PUT is in flight; if not, its
            loop waits on the FIFO, so give the FIFO a writer to let it go."""
            try:
                with urllib.request.urlopen(live.url + "healthz", timeout=scaled(10)) as reply:
                    return bool(reply.status == 200)
            except OSError:
                with fifo.open("wb"):
                    return False

        put = asyncio.ensure_future(
            put_source(live, {"kind": "playback", "playback": {"path": fifo.name}})
        )
        answered = await asyncio.to_thread(health_meanwhile)
        status, reply = await put
        assert answered, "the event loop blocked on the FIFO"
        assert status == 400
        assert "not a regular file" in reply["message"]


async def test_a_nul_in_a_playback_path_is_a_400_with_an_audit_line(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async with live_daemon(allowing(tmp_path), stepped=True) as live:
        with caplog.at_level(logging.INFO, logger="eegd.audit"):
            message = await refused_path(live, "night.edf\0/../../../etc/passwd")
    assert "cannot hold a NUL character" in message
    audit = [r.getMessage() for r in caplog.records if r.name == "eegd.audit"]
    assert len(audit) == 1, audit
    assert "PUT /api/source" in audit[0]
    assert "refused (400 source.playback.path:" in audit[0]
    assert "\0" not in audit[0]


async def test_a_file_in_the_directories_plays_after_a_put(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    recording = write_recording(tmp_path / "data", "EDF")
    async with live_daemon(allowing(tmp_path / "data")) as live:
        body = {"kind": "playback", "playback": {"path": recording.path.name, "speed": 0}}
        status, reply = await put_source(live, body)
        assert status == 200, reply
        assert reply["session"]["channels"] == list(recording.channel_names)
