"""The streaming WebSocket routes: ``/ws``, the single-topic routes and the old daemon's
``/ws/data``, each accepted socket handed to the ``ConnectionManager``; and the command
messages their clients send (record, marker), run as the route that serves the command.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

import aiohttp
from aiohttp import web

from eegd.errors import RequestRefused
from eegd.events import Topic
from eegd.net.control import CommandRequest
from eegd.net.plugin_routes import CommandCaller
from eegd.net.protocol import Done, ErrorMessage
from eegd.net.protocol.legacy import LEGACY_TOPICS
from eegd.net.security.access import Gate
from eegd.net.security.audit import Auditor
from eegd.net.security.roles import MESSAGE_ROLES, Role
from eegd.net.security.webgate import PRINCIPAL
from eegd.net.stream.clients import ClientConnection
from eegd.net.stream.connections import ConnectionManager

__all__ = ["FIXED_ROUTES", "HARD_MESSAGE_LIMIT_FACTOR", "LEGACY_DATA_ROUTE", "StreamRoutes"]

#: Single-topic WebSocket routes in eegd's format: path → topic.
FIXED_ROUTES: Mapping[str, Topic] = {
    "/applet/brain_waves/data": Topic.FFT,
    "/ws/filtered_eeg": Topic.FILTERED_EEG,
}

#: The old daemon's data route: filtered EEG, spectra and warnings in its own encoding
#: (``eegd.net.protocol.legacy``).
LEGACY_DATA_ROUTE = "/ws/data"


#: Text messages up to this multiple of ``max_message_bytes`` get a ``too_large`` reply;
#: larger ones close the connection (1009) before they are read to the end.
HARD_MESSAGE_LIMIT_FACTOR = 4


class StreamRoutes:
    """The aiohttp handlers of the streaming routes; the runner of their clients' commands."""

    def __init__(
        self,
        manager: ConnectionManager,
        heartbeat: float,
        gate: Gate,
        auditor: Auditor,
        call: CommandCaller,
    ) -> None:
        self._manager = manager
        self._heartbeat = heartbeat
        self._gate = gate
        self._auditor = auditor
        self._call = call
        manager.commands = self.run_command

    def mount(self, router: web.UrlDispatcher) -> None:
        """Add ``/ws``, the single-topic routes and ``/ws/data`` to ``router``."""
        router.add_get("/ws", self._multiplexed)
        for path in FIXED_ROUTES:
            router.add_get(path, self._fixed)
        router.add_get(LEGACY_DATA_ROUTE, self._legacy_data)

    async def run_command(self, request: CommandRequest) -> Done | ErrorMessage:
        """A WebSocket command message (record, marker), answered as the route that serves its
        command, if the client's role covers the message's (``MESSAGE_ROLES``); audited
        either way."""
        answer = await self._command_answer(request)
        principal = request.principal
        if principal is not None:
            accepted = isinstance(answer, Done)
            outcome = "done" if isinstance(answer, Done) else f"{answer.code} {answer.message}"
            body = json.dumps(dict(request.body)) if request.body else ""
            self._auditor.record(principal, f"ws {request.message}", accepted, outcome, body)
        return answer

    async def _command_answer(self, request: CommandRequest) -> Done | ErrorMessage:
        needed = MESSAGE_ROLES.get(request.message, Role.OPERATOR)
        refused = self._gate.message_refusal(request.principal, request.message, needed)
        if refused is not None:
            return ErrorMessage(code="forbidden", message=refused)
        try:
            reply = await self._call(request.command, request.body)
        except RequestRefused as exc:
            return ErrorMessage(code=exc.code, message=str(exc))
        return Done(command=request.message, result=dict(reply))

    async def _multiplexed(self, request: web.Request) -> web.StreamResponse:
        return await self._websocket(request, fixed_topics=None)

    async def _fixed(self, request: web.Request) -> web.StreamResponse:
        return await self._websocket(request, fixed_topics=frozenset({FIXED_ROUTES[request.path]}))

    async def _legacy_data(self, request: web.Request) -> web.StreamResponse:
        return await self._websocket(request, fixed_topics=LEGACY_TOPICS, legacy=True)

    async def _websocket(
        self, request: web.Request, fixed_topics: frozenset[Topic] | None, legacy: bool = False
    ) -> web.StreamResponse:
        ws = web.WebSocketResponse(
            heartbeat=self._heartbeat,
            compress=False,
            max_msg_size=HARD_MESSAGE_LIMIT_FACTOR * self._manager.settings.limits.max_message_bytes
            + 1,
        )
        stream = await ws.prepare(request)
        if not self._manager.reserve_slot():
            limit = self._manager.settings.limits.max_clients
            await ws.close(
                code=aiohttp.WSCloseCode.TRY_AGAIN_LATER,
                message=f"too many clients (limit {limit})".encode(),
            )
            return ws
        client = ClientConnection(
            self._manager.new_client_id(),
            ws,
            route=request.path,
            remote=request.remote or "?",
            fixed_topics=fixed_topics,
            max_queue=self._manager.settings.min_queue_frames,
            transport=request.transport,
            stream=stream,
            principal=request[PRINCIPAL],
            legacy=legacy,
        )
        await self._manager.serve(client)
        return ws
