"""``run_daemon``: the process's life, from the bound port to its exit code."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import threading
from pathlib import Path

import aiohttp
import pytest

from eegd.config import Config, load_config
from eegd.daemon import Daemon
from eegd.service import run_daemon
from eegd.sources.synthetic import SyntheticSettings, SyntheticSource
from tests.support.timing import scaled
from tests.support.waiting import wait_until

# A source that fails on its first read and stays away; one retry allowed, at once. The
# status line is due only after a day, so nothing but the supervisor's event can end it.
GIVES_UP = """
plugins = []
[source]
kind = "faulty"
retry_forever = false
[source.faulty]
wraps = "synthetic"
fail_every = 1
down_s = 86400
[supervisor]
max_retries = 1
initial_backoff = 0
jitter = 0
[log]
status_interval_s = 86400
"""


async def test_the_daemon_exits_1_once_the_acquisition_gives_up(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "eegd.toml"
    path.write_text(GIVES_UP)
    config = load_config(path, {"server.port": ("--port", 0)})
    stop = asyncio.Event()  # never set: the exit is the daemon's own
    with caplog.at_level(logging.ERROR, logger="eegd"):
        code = await asyncio.wait_for(run_daemon(config, stop), timeout=scaled(60))
    assert code == 1
    assert "the source failed too often; giving up" in caplog.text
    assert "task acquisition gave up after 2 consecutive failures" in caplog.text


async def test_the_daemon_exits_0_when_stopped(tmp_path: Path) -> None:
    path = tmp_path / "eegd.toml"
    path.write_text("plugins = []\n")
    config = load_config(path, {"server.port": ("--port", 0)})
    stop = asyncio.Event()
    running = asyncio.create_task(run_daemon(config, stop))
    stop.set()
    assert await asyncio.wait_for(running, timeout=scaled(60)) == 0


class HangsOnClose(SyntheticSource):
    """The synthetic source, whose ``close`` hangs until ``release`` is set (a stuck device)."""

    def __init__(self, release: threading.Event) -> None:
        super().__init__(SyntheticSettings())
        self.release = release

    def close(self) -> None:
        self.release.wait()
        super().close()


async def test_a_stop_waits_the_configured_stop_timeout_and_names_the_tasks_still_running(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "eegd.toml"
    path.write_text("plugins = []\n[supervisor]\nstop_timeout = 0.01\n")
    config = load_config(path, {"server.port": ("--port", 0)})
    release = threading.Event()
    daemon = Daemon(config, lambda: HangsOnClose(release))
    await daemon.serve()
    daemon.start()
    try:
        await wait_until(lambda: daemon.acquisition.session is not None)
        with caplog.at_level(logging.ERROR, logger="eegd.supervisor"):
            await asyncio.wait_for(daemon.stop(), timeout=scaled(10))
        # Names are sorted: the acquisition, whose source cannot close, comes first.
        assert "tasks did not stop within 0.01 s: acquisition" in caplog.text
    finally:
        release.set()
    await asyncio.wait_for(daemon.supervisor.wait(), timeout=scaled(10))


async def test_sighup_reads_the_file_off_the_event_loop_and_applies_it(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "eegd.toml"
    path.write_text("plugins = ['voltage_filter']\n[filter]\nnotch_hz = 50\n")
    config = load_config(path, {"server.port": ("--port", 0)})
    read_on: list[int] = []

    def read() -> Config:
        read_on.append(threading.get_ident())
        return load_config(path, {"server.port": ("--port", 0)})

    stop = asyncio.Event()
    caplog.set_level(logging.INFO, logger="eegd")
    running = asyncio.create_task(run_daemon(config, stop, reload=read))
    output: list[str] = []

    def url_printed() -> bool:
        output.append(capsys.readouterr().out)
        return "".join(output).endswith("\n")

    # The URL is printed once the port is bound, and the signal handlers are installed
    # before the daemon awaits anything else: from then on SIGHUP is the daemon's.
    try:
        await wait_until(url_printed, timeout=20)
        url = "".join(output).strip()
        path.write_text("plugins = ['voltage_filter']\n[filter]\nnotch_hz = 60\n")
        os.kill(os.getpid(), signal.SIGHUP)
        await wait_until(lambda: "reloaded the configuration" in caplog.text, timeout=20)
        async with aiohttp.ClientSession() as session, session.get(url + "api/filter") as reply:
            assert (await reply.json())["notch_hz"] == 60.0
    finally:
        stop.set()
    assert await asyncio.wait_for(running, timeout=scaled(60)) == 0
    assert len(read_on) == 1
    assert read_on[0] != threading.get_ident()  # a worker thread's, not the event loop's
