"""``run_daemon``: the process's life, from the bound port to its exit code."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest

from eegd.config import load_config
from eegd.service import run_daemon

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
        code = await asyncio.wait_for(run_daemon(config, stop), timeout=60)
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
    assert await asyncio.wait_for(running, timeout=60) == 0
