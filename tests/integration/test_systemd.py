"""Under systemd: ``READY=1`` once serving, ``WATCHDOG=1`` at half of ``$WATCHDOG_USEC``, and no
pings while the event loop hangs, so systemd restarts a daemon whose loop is stuck.

The daemon runs in the test's loop and ``$NOTIFY_SOCKET`` is a datagram socket the test
binds. To hang the loop on purpose the test itself blocks it, in a ``recv`` on that socket
with a deadline: whatever ping arrives meanwhile would show there.
"""

from __future__ import annotations

import asyncio
import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from eegd.config import load_config
from eegd.service import run_daemon
from eegd.systemd import Notifier
from tests.support.timing import scaled

WATCHDOG_USEC = 600_000
PING_S = WATCHDOG_USEC / 1e6 / 2


@pytest.fixture
def notify_socket(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[socket.socket]:
    path = tmp_path / "notify"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(str(path))
        monkeypatch.setenv("NOTIFY_SOCKET", str(path))
        monkeypatch.setenv("WATCHDOG_USEC", str(WATCHDOG_USEC))
        monkeypatch.setenv("WATCHDOG_PID", str(os.getpid()))
        yield sock


def receive(sock: socket.socket, count: int) -> list[tuple[float, str]]:
    """The next ``count`` messages with the monotonic time each arrived (blocking)."""
    sock.settimeout(scaled(10))
    return [(time.monotonic(), sock.recv(256).decode()) for _ in range(count)]


def silent_for(sock: socket.socket, seconds: float) -> list[str]:
    """What arrives within ``seconds`` after the queued messages are taken (blocking)."""
    sock.setblocking(False)
    while True:
        try:
            sock.recv(256)
        except BlockingIOError:
            break
    sock.settimeout(seconds)
    try:
        return [sock.recv(256).decode()]
    except TimeoutError:
        return []


async def test_ready_then_watchdog_pings_that_stop_while_the_loop_hangs(
    notify_socket: socket.socket, tmp_path: Path
) -> None:
    path = tmp_path / "eegd.toml"
    path.write_text("plugins = []\n")
    config = load_config(path, {"server.port": ("--port", 0)})
    stop = asyncio.Event()
    daemon = asyncio.create_task(run_daemon(config, stop))
    try:
        first, *pings = await asyncio.to_thread(receive, notify_socket, 4)
        assert first[1] == "READY=1"
        assert [message for _, message in pings] == ["WATCHDOG=1"] * 3
        gaps = [later[0] - earlier[0] for earlier, later in zip(pings, pings[1:], strict=False)]
        assert all(gap < WATCHDOG_USEC / 1e6 for gap in gaps)  # systemd would not restart it
        # Hang the loop (this very call blocks it) for three ping intervals: no ping comes.
        assert silent_for(notify_socket, 3 * PING_S) == []
        (_, resumed), *_ = await asyncio.to_thread(receive, notify_socket, 1)
        assert resumed == "WATCHDOG=1"
    finally:
        stop.set()
        code = await daemon
    assert code == 0
    messages = await asyncio.to_thread(receive, notify_socket, 1)
    while messages[-1][1] == "WATCHDOG=1":
        messages = await asyncio.to_thread(receive, notify_socket, 1)
    assert messages[-1][1] == "STOPPING=1"


def test_an_abstract_socket_address_starts_with_an_at() -> None:
    name = f"eegd-test-{os.getpid()}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind("\0" + name)
        sock.settimeout(scaled(5))
        assert Notifier(f"@{name}", None).notify("READY=1")
        assert sock.recv(64) == b"READY=1"


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({}, Notifier(None, None)),
        ({"NOTIFY_SOCKET": "/run/n", "WATCHDOG_USEC": "4000000"}, Notifier("/run/n", 4.0)),
        ({"NOTIFY_SOCKET": "/run/n", "WATCHDOG_USEC": "x"}, Notifier("/run/n", None)),
        (
            {"NOTIFY_SOCKET": "/run/n", "WATCHDOG_USEC": "1000", "WATCHDOG_PID": "1"},
            Notifier("/run/n", None),  # the watchdog is another process's
        ),
    ],
)
def test_the_environment_says_where_and_how_often(
    environ: dict[str, str], expected: Notifier
) -> None:
    assert Notifier.from_environment(environ) == expected


def test_outside_systemd_nothing_is_sent() -> None:
    assert Notifier(None, None).notify("READY=1") is False


@given(
    st.dictionaries(
        st.sampled_from(["NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID", "OTHER"]),
        st.text(max_size=30),
    )
)
def test_any_environment_gives_a_notifier_or_none_never_an_error(environ: dict[str, str]) -> None:
    notifier = Notifier.from_environment(environ)
    assert notifier.address == (environ.get("NOTIFY_SOCKET") or None)
    assert notifier.watchdog_s is None or notifier.watchdog_s > 0
