"""Control messages find their handler through the route that declares their command
(``Route.command``), wherever that route lives: a real server on loopback whose only plugin
serves the recording commands at URLs of its own, spoken to over ``/ws`` and the old
daemon's ``/command``, which keep the same client limits (``[server]``)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
import pytest

from eegd.bus import EventBus
from eegd.clock import SYSTEM_CLOCK, Clock
from eegd.commands import Command
from eegd.errors import EegdError
from eegd.net.plugin_routes import command_routes
from eegd.net.server import Server
from eegd.net.settings import MESSAGE_BURST, ServerSettings
from eegd.net.stream.connections import ConnectionManager
from eegd.plugin import Plugin
from eegd.routes import Route, RouteRequest
from tests.support.clocks import FakeClock
from tests.support.timing import scaled


class Journal:
    """A plugin's routes that keep a recording's name at URLs no other plugin uses."""

    def __init__(self) -> None:
        self.recording: str | None = None
        self.bodies: list[tuple[str, Mapping[str, Any]]] = []

    def routes(self) -> list[Route]:
        return [
            Route("GET", "/api/journal", self._list, "viewer", command=Command.RECORDER_LIST),
            Route(
                "POST", "/api/journal/open", self._start, "operator", command=Command.RECORDER_START
            ),
            Route(
                "POST", "/api/journal/close", self._stop, "operator", command=Command.RECORDER_STOP
            ),
        ]

    def _list(self, request: RouteRequest) -> dict[str, Any]:
        return {"recording": self.recording, "recordings": []}

    def _start(self, request: RouteRequest) -> dict[str, Any]:
        self.bodies.append((request.control.plugin, dict(request.body)))
        self.recording = str(request.body.get("name", "journal-1"))
        return {"name": self.recording}

    def _stop(self, request: RouteRequest) -> dict[str, Any]:
        stopped, self.recording = self.recording, None
        return {"name": stopped}


class JournalDaemon:
    """The daemon as the server sees it, with the journal as its one plugin."""

    def __init__(self, journal: Journal) -> None:
        self._routes = [("journal", route) for route in journal.routes()]

    def status(self) -> Mapping[str, Any]:
        return {}

    def routes(self) -> Sequence[tuple[str, Route]]:
        return self._routes

    def plugin_state(self, plugin: str) -> Mapping[str, Any]:
        return {}

    def reconfigure(self, plugin: str, changes: Mapping[str, Any]) -> Mapping[str, Any]:
        return changes

    def plugin_instance(self, plugin: str) -> Plugin | None:
        return None


@asynccontextmanager
async def serving(
    journal: Journal, clock: Clock = SYSTEM_CLOCK, **server: Any
) -> AsyncIterator[str]:
    """A running server (and connection manager) for ``journal`` with the ``[server]`` keys
    ``server``, on ``clock``; its WebSocket base URL."""
    settings = ServerSettings(port=0, **server)
    manager = ConnectionManager(EventBus(), {}, settings.connection_settings(), clock)
    server = Server(manager, JournalDaemon(journal), settings, clock=clock)
    streaming = asyncio.create_task(manager.run())
    url = await server.start()
    try:
        yield url.replace("http", "ws", 1)
    finally:
        await server.stop()
        streaming.cancel()
        await asyncio.gather(streaming, return_exceptions=True)


async def next_text(ws: aiohttp.ClientWebSocketResponse) -> dict[str, Any]:
    message = await ws.receive(timeout=scaled(10))
    assert message.type is aiohttp.WSMsgType.TEXT, message
    decoded: dict[str, Any] = json.loads(message.data)
    return decoded


async def reply_of(ws: aiohttp.ClientWebSocketResponse, kinds: set[str]) -> dict[str, Any]:
    """The next message of one of ``kinds`` (a hello or a system event may come first)."""
    while (got := await next_text(ws))["type"] not in kinds:
        pass
    return got


async def test_a_ws_record_message_runs_the_route_that_declares_its_command() -> None:
    journal = Journal()
    async with (
        serving(journal) as url,
        aiohttp.ClientSession() as session,
        session.ws_connect(url + "ws") as ws,
    ):
        await ws.send_str('{"type": "record", "action": "start", "name": "s07"}')
        started = await reply_of(ws, {"done", "error"})
        await ws.send_str('{"type": "record", "action": "stop"}')
        stopped = await reply_of(ws, {"done", "error"})
        await ws.send_str('{"type": "marker", "label": "go"}')
        unserved = await reply_of(ws, {"done", "error"})
    assert started == {"type": "done", "command": "record", "result": {"name": "s07"}}
    assert journal.bodies == [("journal", {"name": "s07"})]
    assert stopped == {"type": "done", "command": "record", "result": {"name": "s07"}}
    assert unserved["type"] == "error"
    assert unserved["code"] == "not_available"
    assert Command.RECORDER_MARKER in unserved["message"]


async def test_the_old_daemons_command_route_finds_the_same_routes() -> None:
    journal = Journal()
    async with (
        serving(journal) as url,
        aiohttp.ClientSession() as session,
        session.ws_connect(url + "command") as ws,
    ):
        assert await next_text(ws) == {"status": "ok", "message": "Not recording"}
        await ws.send_json({"command": "start"})
        started = await next_text(ws)
        await ws.send_json({"command": "status"})
        status = await next_text(ws)
    assert started == {"status": "ok", "message": "Currently recording to journal-1"}
    assert status == {"status": "ok", "message": "Currently recording to journal-1"}


async def test_the_old_daemons_routes_keep_the_servers_client_limits() -> None:
    """``max_clients`` counts there too, and a burst past ``MESSAGE_BURST`` is refused at
    ``max_messages_per_s`` (one message a hundred seconds: none comes back in the test)."""
    async with (
        serving(Journal(), max_clients=1, max_messages_per_s=0.01) as url,
        aiohttp.ClientSession() as session,
        session.ws_connect(url + "command") as first,
        session.ws_connect(url + "command") as second,
    ):
        assert await next_text(first) == {"status": "ok", "message": "Not recording"}
        closed = await second.receive(timeout=scaled(10))
        assert closed.type is aiohttp.WSMsgType.CLOSE
        assert (closed.data, closed.extra) == (1013, "too many clients")
        for _ in range(MESSAGE_BURST):
            await first.send_json({"command": "status"})
            assert (await next_text(first))["status"] == "ok"
        await first.send_json({"command": "status"})
        refused = await next_text(first)
    assert refused == {"status": "error", "message": "at most 0.01 messages per second"}


async def test_the_old_daemons_rate_limit_reads_the_servers_clock() -> None:
    clock = FakeClock(manual=True)
    async with (
        serving(Journal(), clock.asyncio, max_messages_per_s=1.0) as url,
        aiohttp.ClientSession() as session,
        session.ws_connect(url + "command") as ws,
    ):
        await next_text(ws)
        for _ in range(MESSAGE_BURST):
            await ws.send_json({"command": "status"})
            assert (await next_text(ws))["status"] == "ok"
        await ws.send_json({"command": "status"})
        assert (await next_text(ws))["status"] == "error"
        clock.now += 1.0  # one message's worth of the budget back
        await ws.send_json({"command": "status"})
        assert (await next_text(ws))["status"] == "ok"
        await ws.send_json({"command": "status"})
        assert (await next_text(ws))["status"] == "error"


def test_a_command_two_routes_declare_is_refused_naming_both_plugins() -> None:
    def handler(request: RouteRequest) -> dict[str, Any]:
        return {}

    first = Route("POST", "/api/a", handler, "operator", command=Command.RECORDER_START)
    second = Route("POST", "/api/b", handler, "operator", command=Command.RECORDER_START)
    with pytest.raises(EegdError, match="recorder.start is served by both one and two"):
        command_routes([("one", first), ("two", second)])


def test_routes_without_a_command_serve_none() -> None:
    def handler(request: RouteRequest) -> dict[str, Any]:
        return {}

    served = command_routes([("p", Route("GET", "/api/p", handler, "viewer"))])
    assert served == {}
