"""The command line as a user meets it: help, config errors, exit codes, signals.

These are the suite's daemon subprocesses, kept to what only a process shows: the URL line
on stdout, signals, exit codes. Everything else runs the daemon in-process.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import aiohttp
import pytest

from eegd.cli import main
from eegd.client import Stream, connect
from eegd.events import SystemEvent
from eegd.net.protocol import EegFrame
from tests.support.daemon import DaemonProcess
from tests.support.timing import scaled
from tests.support.waiting import wait_until


def eegd(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """``eegd ARGS`` as a user runs it: without the suite's asyncio debug mode, whose
    slow-callback warnings on a loaded machine would add lines to the stderr checked here."""
    env = {name: value for name, value in os.environ.items() if name != "PYTHONASYNCIODEBUG"}
    return subprocess.run(
        [sys.executable, "-m", "eegd.cli", *args],
        capture_output=True,
        text=True,
        timeout=scaled(30),
        cwd=cwd,
        env=env,
        check=False,
    )


def in_process(
    args: list[str], cwd: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> tuple[int, str, str]:
    """``eegd ARGS`` run by ``eegd.cli.main`` in this process: exit code, stdout, stderr.

    Only for commands that end by themselves (help, errors, ``config``), so the process
    level is tested once per behaviour and the many cases of each cost no interpreter.
    """
    monkeypatch.chdir(cwd)
    try:
        code = main(args)
    except SystemExit as exit:
        code = exit.code if isinstance(exit.code, int) else 1
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_help_documents_the_commands_and_flags(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    top = eegd("--help")
    assert top.returncode == 0
    assert "run" in top.stdout
    assert "config" in top.stdout
    code, out, _ = in_process(["run", "--help"], tmp_path, capsys, monkeypatch)
    assert code == 0
    for flag in ("--config", "--channels", "--sample-rate", "--batch-size", "--notch", "--port"):
        assert flag in out


def test_the_readme_error_line_is_what_a_bad_flag_prints(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # The process exits with main's code (test_a_port_in_use_exits_2_with_one_line).
    code, _, stderr = in_process(["run", "--channels", "33"], tmp_path, capsys, monkeypatch)
    assert code == 2
    assert stderr.strip().splitlines() == [
        "eegd: error: --channels (source.channels: 33 is out of range (allowed: 1..32))"
    ]


@pytest.mark.parametrize(
    ("args", "toml", "expected"),
    [
        (["--channels", "0"], None, "source.channels"),
        (["--channels", "33"], None, "source.channels"),
        (["--sample-rate", "300"], None, "source.sample_rate"),
        ([], "[source]\ncolour = 1\n", "source.colour: unknown key"),
        ([], "[source]\nchannels = 8.5\n", "source.channels"),
        (["--channels", "many"], None, "--channels"),
        (["--bogus"], None, "--bogus"),
    ],
)
def test_bad_config_is_one_line_naming_the_key_and_exit_2(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    args: list[str],
    toml: str | None,
    expected: str,
) -> None:
    if toml is not None:
        (tmp_path / "eegd.toml").write_text(toml)
    code, _, stderr = in_process(["run", *args], tmp_path, capsys, monkeypatch)
    assert code == 2
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert expected in lines[0]
    assert "Traceback" not in stderr


def test_config_command_prints_the_effective_configuration(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "eegd.toml").write_text("[source]\nchannels = 4\n")
    code, out, err = in_process(["config", "--sample-rate", "500"], tmp_path, capsys, monkeypatch)
    assert code == 0, err
    assert '"channels": 4' in out
    assert '"sample_rate": 500' in out


def test_a_port_in_use_exits_2_with_one_line() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = eegd("run", "--port", str(port))
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"eegd: error: cannot listen on 127.0.0.1:{port}: address already in use"
    ]


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
async def test_a_signal_closes_20_clients_with_1001_finishes_the_recording_and_exits_0(
    start_daemon: Callable[..., DaemonProcess], signum: signal.Signals, tmp_path: Path
) -> None:
    config = tmp_path / "eegd.toml"
    # The stop's limit is a deadline here: with twelve of these tests and three busy loops on
    # two cores the tasks took up to 2.8 s to end, starved of CPU (most runs well under 1 s).
    # A task that ignores its cancellation still never ends, and is named in the log.
    config.write_text(
        f'[recording]\ndirectory = "{tmp_path / "recordings"}"\n'
        f"[supervisor]\nstop_timeout = {scaled(10)}\n"
    )
    daemon = start_daemon("--log-level", "debug", "--config", str(config))
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+/", daemon.url), daemon.url
    async with aiohttp.ClientSession() as session:
        clients = [
            await session.ws_connect(daemon.ws_url + "ws/filtered_eeg", max_msg_size=0)
            for _ in range(20)
        ]
        for ws in clients:  # every task runs, data flows to each
            while (await ws.receive()).type is not aiohttp.WSMsgType.BINARY:
                pass
        async with asyncio.timeout(scaled(10)):
            while True:  # until the recorder has started (503 not_ready before)
                async with session.post(
                    daemon.url + "api/recordings", json={"name": "night"}
                ) as reply:
                    if reply.status != 503:
                        assert reply.status == 200, await reply.text()
                        break
        sidecar_path = tmp_path / "recordings" / "night.json"
        await wait_until(sidecar_path.exists, timeout=10)  # its first packet is written
        daemon.process.send_signal(signum)

        async def close_frame(ws: aiohttp.ClientWebSocketResponse) -> tuple[int, str]:
            async with asyncio.timeout(scaled(10)):
                while (message := await ws.receive()).type is not aiohttp.WSMsgType.CLOSE:
                    if message.type in (aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.ERROR):
                        raise AssertionError(f"no close frame: {message}")
            return message.data, message.extra

        closes = await asyncio.gather(*(close_frame(ws) for ws in clients))
    assert closes == [(1001, "server shutting down")] * 20
    assert await asyncio.to_thread(daemon.process.wait, scaled(10)) == 0
    sidecar = json.loads(sidecar_path.read_text())
    assert sidecar["status"] == "complete"  # the recorder finished the file before the exit
    log = "".join(daemon.stderr_lines)
    assert "did not stop" not in log
    assert "Traceback" not in log


async def test_sighup_reloads_the_filter_and_keeps_every_client(
    start_daemon: Callable[..., DaemonProcess], tmp_path: Path
) -> None:
    config = tmp_path / "eegd.toml"
    config.write_text("[filter]\nnotch_hz = 50\n")
    daemon = start_daemon("--config", str(config))
    async with connect(daemon.ws_url + "ws", ["filtered_eeg", "system"]) as stream:
        ids = [await next_frame_id(stream)]
        config.write_text("[filter]\nnotch_hz = 60\n[server]\nmax_clients = 9\n")
        daemon.process.send_signal(signal.SIGHUP)
        async with asyncio.timeout(scaled(10)):
            async for item in stream:
                if isinstance(item, SystemEvent) and item.kind == "config_changed":
                    assert item.detail["filter"]["notch_hz"] == 60.0
                    break
                if isinstance(item, EegFrame):
                    ids.append(item.frame_id)
        config.write_text("[filter]\nnotch_hz = 55\n")  # a bad file changes nothing
        daemon.process.send_signal(signal.SIGHUP)
        for _ in range(8):
            ids.append(await next_frame_id(stream))
        async with aiohttp.ClientSession() as session:
            async with session.get(daemon.url + "api/filter") as response:
                assert (await response.json())["notch_hz"] == 60.0
    assert ids == list(range(ids[0], ids[0] + len(ids)))
    assert daemon.process.poll() is None
    assert daemon.stop() == 0
    log = "".join(daemon.stderr_lines)
    assert "changes to server apply at the next restart" in log
    assert "configuration not reloaded, nothing changed: filter.notch_hz" in log


async def next_frame_id(stream: Stream) -> int:
    async with asyncio.timeout(scaled(10)):
        async for item in stream:
            if isinstance(item, EegFrame):
                return item.frame_id
    raise AssertionError("the stream ended")
