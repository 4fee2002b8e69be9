"""Supervision covers everything: a crashing plugin is restarted with growing back-off while
other clients stream on, a plugin that declares it safe skips a failed packet instead, the
degraded part and its retry countdown are in ``/api/status``, a crashed handler is a 500 and
a listening socket that stops is opened again on the same port.

The crashing plugins are a real distribution with entry points, as a third-party plugin is.
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import aiohttp
import pytest

from eegd.events import SystemEvent, SystemEventKind, Topic
from tests.support.live import LiveDaemon, live_daemon, watching
from tests.support.waiting import wait_until

BUGGY = '''
from eegd.events import Topic
from eegd.plugin import TransformPlugin
from eegd.routes import Route


class Crashy(TransformPlugin):
    """Raises on every packet: the supervisor restarts it."""

    name = "crashy"
    consumes = (Topic.RAW_EEG,)
    produces = ()

    @classmethod
    def from_options(cls, options):
        return cls()

    @classmethod
    def routes(cls):
        def fail(request):
            raise RuntimeError("a handler with a bug")

        return [Route("GET", "/api/crashy", fail, "viewer")]

    def process(self, event):
        raise FloatingPointError("bad numerics")


class Skippy(Crashy):
    """Raises on every other packet, and declares that it survives it."""

    name = "skippy"
    skips_failed_packets = True

    def __init__(self):
        self.seen = 0

    @classmethod
    def routes(cls):
        return []

    def process(self, event):
        self.seen += 1
        if self.seen % 2:
            raise FloatingPointError("bad numerics")
        return ()
'''


@pytest.fixture(autouse=True)
def buggy_plugins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The ``eegd_buggy`` distribution on ``sys.path``: ``crashy`` and ``skippy``."""
    (tmp_path / "eegd_buggy").mkdir()
    (tmp_path / "eegd_buggy" / "__init__.py").write_text(textwrap.dedent(BUGGY))
    info = tmp_path / "eegd_buggy-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: eegd_buggy\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(
        "[eegd.plugins]\ncrashy = eegd_buggy:Crashy\nskippy = eegd_buggy:Skippy\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))


def toml(plugin: str, initial_backoff: float, max_retries: int = 5, filtered: bool = False) -> str:
    """``plugin`` (after the voltage filter when ``filtered``) and a back-off without jitter."""
    plugins = ["voltage_filter", plugin] if filtered else [plugin]
    return (
        f"plugins = {json.dumps(plugins)}\n"
        f"[supervisor]\ninitial_backoff = {initial_backoff}\nmultiplier = 2\njitter = 0\n"
        f"max_retries = {max_retries}\nmax_backoff = 10\n"
    )


def task_events(events: list[SystemEvent], task: str, kind: SystemEventKind) -> list[SystemEvent]:
    return [e for e in events if e.kind is kind and e.detail.get("task") == task]


async def test_a_crashing_plugin_backs_off_more_each_time_while_other_clients_stream_on() -> None:
    toml_text = toml("crashy", 0.01, max_retries=4, filtered=True)
    async with live_daemon(toml_text, stepped=True) as live:
        system = live.daemon.bus.subscribe([Topic.SYSTEM], maxsize=1000)
        events: list[SystemEvent] = []

        def gave_up() -> bool:
            while (event := system.get_nowait()) is not None:
                assert isinstance(event, SystemEvent)
                events.append(event)
            return bool(task_events(events, "crashy", SystemEventKind.TASK_GAVE_UP))

        async with watching(live) as watcher:
            await live.release_until(gave_up, limit=200)
            last = await live.release(5)  # the others go on after it is given up
            await watcher.wait_frame(last)
        watcher.assert_contiguous()
        assert watcher.frame_ids[-1] == last
    failed = task_events(events, "crashy", SystemEventKind.TASK_FAILED)
    assert [event.detail["retry_in"] for event in failed] == [0.01, 0.02, 0.04, 0.08]
    assert all("bad numerics" in event.detail["error"] for event in failed)
    assert len(task_events(events, "crashy", SystemEventKind.TASK_RESTARTED)) == 4
    statuses = {status.name: status for status in live.daemon.supervisor.statuses()}
    assert statuses["crashy"].restarts == 4
    assert statuses["voltage_filter"].restarts == 0


async def test_a_plugin_that_declares_it_safe_skips_the_packet_it_failed_on() -> None:
    async with live_daemon(toml("skippy", 0.01), stepped=True) as live:
        stats = live.daemon.report.plugin_stats
        await live.release_until(lambda: stats().get("skippy", {}).get("packets_failed", 0) >= 3)
        status = {task["name"]: task for task in live.daemon.status()["tasks"]}
    assert status["skippy"]["restarts"] == 0
    assert status["skippy"]["state"] == "running"


async def test_the_degraded_part_and_its_retry_countdown_are_in_the_status() -> None:
    async with live_daemon(toml("crashy", 60), stepped=True) as live:

        def backing_off() -> bool:
            return live.daemon.supervisor.status("crashy").failures == 1

        await live.release_until(backing_off)
        async with (
            aiohttp.ClientSession() as session,
            session.get(live.url + "api/status") as response,
        ):
            status = await response.json()
    (degraded,) = status["degraded"]
    assert degraded["task"] == "crashy"
    assert degraded["state"] == "backing_off"
    assert "bad numerics" in degraded["error"]
    assert 0 < degraded["retry_in_s"] <= 60


async def get(live: LiveDaemon, path: str) -> int:
    async with aiohttp.ClientSession() as session, session.get(live.url + path) as response:
        return response.status


async def test_a_crashed_handler_is_a_500_and_a_listener_that_stopped_listens_again() -> None:
    async with live_daemon(toml("crashy", 60)) as live:
        assert await get(live, "api/crashy") == 500
        assert await get(live, "healthz") == 200
        server = live.daemon.server
        dead = server._listener
        assert dead is not None
        dead.close()  # as if the accept loop had died

        def listening_again() -> bool:
            fresh = server._listener
            return fresh is not None and fresh is not dead and fresh.is_serving()

        await wait_until(listening_again, timeout=10)
        assert await get(live, "healthz") == 200  # the same port
