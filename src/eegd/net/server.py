"""The HTTP server: the kiosk, the WebSocket routes, the REST status and health endpoints.

Everything is on one aiohttp port. Accepted WebSockets are handed to the
``ConnectionManager``; the handler only checks the request and awaits the manager's ``serve``.
Every HTTP error is the JSON shape of ``eegd.net.rest``. Every request first passes the gate
(``eegd.net.security.webgate``): the Host allow-list, the Origin rules and the role its route needs
(``eegd.net.security.roles``); with ``tls_cert`` and ``tls_key`` the port speaks HTTPS (and WSS).

Besides its own routes the server mounts those the plugins declare (``eegd.plugin.Route``,
e.g. the voltage filter's ``GET/PUT /api/filter``): a handler gets the request's JSON object
and a control that reaches its plugin through the daemon (``DaemonControl``).
"""

from __future__ import annotations

import asyncio
import errno
import inspect
import json
import logging
import math
import socket
import ssl
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Protocol

import aiohttp
import msgspec
from aiohttp import web

from eegd.bus import EventBus
from eegd.clock import SYSTEM_CLOCK, Clock
from eegd.commands import Command
from eegd.errors import ConfigError, EegdError, RequestRefused
from eegd.events import Topic
from eegd.net.control import CommandRequest
from eegd.net.legacy import LegacyRoutes
from eegd.net.protocol import Done, ErrorMessage
from eegd.net.protocol.legacy import LEGACY_TOPICS
from eegd.net.rest import BadBody, error_response, json_errors, json_object
from eegd.net.security.access import Gate
from eegd.net.security.audit import Auditor
from eegd.net.security.changelimit import ChangeLimits
from eegd.net.security.guard import ConnectionGuard, QuietServerLog
from eegd.net.security.hosts import AllowedHosts
from eegd.net.security.roles import MESSAGE_ROLES, SERVER_ROUTES, Role
from eegd.net.security.tokens import AuthSettings
from eegd.net.security.webgate import PRINCIPAL, WebGate
from eegd.net.settings import ServerSettings
from eegd.net.stream.clients import ClientConnection
from eegd.net.stream.connections import ConnectionManager
from eegd.plugin import FileReply, Plugin, Route, RouteReply, RouteRequest

__all__ = [
    "FIXED_ROUTES",
    "LEGACY_DATA_ROUTE",
    "HARD_MESSAGE_LIMIT_FACTOR",
    "KIOSK_DIR",
    "DaemonControl",
    "Server",
    "command_routes",
]

logger = logging.getLogger(__name__)

#: The kiosk's static files, shipped inside the package.
KIOSK_DIR = Path(str(resources.files("eegd") / "kiosk"))

#: The names under ``/kiosk/``: the package's files, listed once (no lookup per request).
_KIOSK_FILES = frozenset(path.name for path in KIOSK_DIR.iterdir() if path.is_file())

#: Single-topic WebSocket routes in eegd's format: path → topic.
FIXED_ROUTES: Mapping[str, Topic] = {
    "/applet/brain_waves/data": Topic.FFT,
    "/ws/filtered_eeg": Topic.FILTERED_EEG,
}

#: The old daemon's data route: filtered EEG, spectra and warnings in its own encoding
#: (``eegd.net.protocol.legacy``).
LEGACY_DATA_ROUTE = "/ws/data"


class DaemonControl(Protocol):
    """What the REST API reads and changes in the daemon."""

    def status(self) -> Mapping[str, Any]:
        """Everything ``GET /api/status`` reports."""

    def routes(self) -> Sequence[tuple[str, Route]]:
        """The routes the plugins contribute, each with its plugin's name."""

    def plugin_state(self, plugin: str) -> Mapping[str, Any]:
        """Plugin ``plugin``'s options now."""

    def reconfigure(self, plugin: str, changes: Mapping[str, Any]) -> Mapping[str, Any]:
        """Apply ``changes`` to plugin ``plugin``; raises ``ConfigError`` if they are bad."""

    def plugin_instance(self, plugin: str) -> Plugin | None:
        """The instance of plugin ``plugin`` running now, if any."""


@dataclass(frozen=True, slots=True)
class _PluginControl:
    """The ``eegd.plugin.PluginControl`` a route handler gets: the daemon, for one plugin."""

    daemon: DaemonControl
    name: str

    @property
    def plugin(self) -> str:
        return self.name

    def state(self) -> Mapping[str, Any]:
        return self.daemon.plugin_state(self.name)

    def reconfigure(self, changes: Mapping[str, Any]) -> Mapping[str, Any]:
        return self.daemon.reconfigure(self.name, changes)

    def instance(self) -> Plugin | None:
        return self.daemon.plugin_instance(self.name)


#: Methods whose requests carry a JSON object for the handler.
_BODY_METHODS = frozenset({"PUT", "POST"})


#: Text messages up to this multiple of ``max_message_bytes`` get a ``too_large`` reply;
#: larger ones close the connection (1009) before they are read to the end.
HARD_MESSAGE_LIMIT_FACTOR = 4


class Server:
    """Serves the kiosk, ``/ws`` and friends, ``/api/status`` and ``/healthz``."""

    def __init__(
        self,
        manager: ConnectionManager,
        control: DaemonControl,
        settings: ServerSettings | None = None,
        metrics: Callable[[], tuple[bytes, str]] | None = None,
        auth: AuthSettings | None = None,
        bus: EventBus | None = None,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        self._manager = manager
        self._clock = clock
        """What rate limits and the listening check read and wait on."""
        self._metrics = metrics
        """``GET /metrics`` (a viewer's route): the body and its content type."""
        self._control = control
        self._commands = command_routes(control.routes())
        """The route that serves each command, for the messages that stand for one."""
        self.settings = settings or ServerSettings()
        self.guard = ConnectionGuard(
            self.settings.header_timeout_s,
            self.settings.max_pending_connections,
            self.settings.body_timeout_s,
            self.settings.body_min_bytes_per_s,
        )
        """Cuts off peers that are slow to send a request; its counters are in /api/status."""
        self.aiohttp_log = QuietServerLog()
        self.auth = auth or AuthSettings()
        self.auditor = Auditor(bus)
        """Every change asked for: a log line and an ``audit`` system event."""
        self.gate = Gate(AllowedHosts(self._own_names()), self.auth, self.settings.allowed_origins)
        """The Host, Origin and role checks, tokens and sign-ins."""
        self.web_gate = WebGate(
            self.gate,
            self.role_of,
            self.auditor,
            clock=clock.monotonic,
            limits={
                "changes": _per_second(self.settings.max_changes_per_s, "max_changes_per_s"),
                "markers": _per_second(self.settings.max_markers_per_s, "max_markers_per_s"),
            },
            budget_of=self.budget_of,
        )
        self.legacy = LegacyRoutes(
            self.call_command,
            self.gate,
            self.auditor,
            bus,
            heartbeat=self.settings.heartbeat_s,
            limits=self.settings.client_limits(),
            clock=clock,
        )
        """The old daemon's ``/command`` and ``/config``."""
        manager.commands = self._run_command
        self._runner: web.AppRunner | None = None
        self._listener: asyncio.Server | None = None
        self._port = self.settings.port
        self._tls: ssl.SSLContext | None = None
        self.url = ""

    def app(self) -> web.Application:
        """The aiohttp application with every route."""
        app = web.Application(
            client_max_size=self._manager.settings.limits.max_message_bytes,
            middlewares=[self.guard.middleware, json_errors, self.web_gate.middleware],
        )
        app.router.add_get("/", self._index)
        app.router.add_get("/api/session", self.web_gate.session_state)
        app.router.add_post("/api/session", self.web_gate.sign_in)
        app.router.add_delete("/api/session", self.web_gate.sign_out)
        app.router.add_get("/ws", self._multiplexed)
        for path in FIXED_ROUTES:
            app.router.add_get(path, self._fixed)
        app.router.add_get(LEGACY_DATA_ROUTE, self._legacy_data)
        app.router.add_get("/command", self.legacy.command)
        app.router.add_get("/config", self.legacy.config)
        app.router.add_get("/api/status", self._api_status)
        if self._metrics is not None:
            app.router.add_get("/metrics", self._serve_metrics)
        for plugin, route in self._control.routes():
            handler = self._plugin_route(plugin, route)
            if route.method == "GET":
                app.router.add_get(route.path, handler)  # and HEAD, as every GET route
            else:
                app.router.add_route(route.method, route.path, handler)
        app.router.add_get("/healthz", self._healthz)
        app.router.add_get("/kiosk/{name}", self._kiosk_file)
        return app

    def reload_auth(self, auth: AuthSettings) -> AuthSettings:
        """Apply reloaded ``[auth]`` tokens and ``query_tokens`` at once, ending the sessions
        of tokens no longer listed; return the settings in force (the session limits wait
        for a restart)."""
        applied = msgspec.structs.replace(
            self.auth,
            operator_token_hashes=auth.operator_token_hashes,
            viewer_token_hashes=auth.viewer_token_hashes,
            query_tokens=auth.query_tokens,
        )
        if applied != self.auth:
            ended = self.gate.update_tokens(applied.tokens)
            self.gate.query_tokens = applied.query_tokens
            logger.info("reloaded the tokens; %d sessions of tokens no longer listed ended", ended)
        self.auth = applied
        return applied

    def access_stats(self) -> dict[str, int]:
        """For ``/api/status``: requests the gate refused, sign-ins alive, changes audited."""
        return {
            "refused": self.gate.refused,
            "sessions": len(self.gate.sessions),
            "changes_accepted": self.auditor.accepted,
            "changes_refused": self.auditor.refused,
        }

    def role_of(self, method: str, path: str) -> Role | None:
        """The role ``method path`` (as routed: ``/api/recordings/{name}``) declares, the
        server's own routes' in ``SERVER_ROUTES`` and the plugins' on their ``Route``."""
        declared = SERVER_ROUTES.get((method, path))
        if declared is not None:
            return declared
        for _plugin, route in self._control.routes():
            if (route.method, route.path) == (method, path):
                return Role(route.role)
        return None

    def budget_of(self, method: str, path: str) -> str:
        """The rate budget ``method path`` spends: ``changes`` for the server's own routes,
        the plugins' as their ``Route`` declares."""
        for _plugin, route in self._control.routes():
            if (route.method, route.path) == (method, path):
                return route.budget
        return "changes"

    def _own_names(self, fqdn: str = "") -> list[str]:
        """The names of this server a ``Host`` may give, besides loopback names and IPs."""
        hostname = socket.gethostname()
        return [
            self.settings.host,
            hostname,
            f"{hostname}.local",
            fqdn,
            *self.settings.allowed_hosts,
        ]

    async def start(self) -> str:
        """Bind and start serving; return the base URL. A bind failure is an ``EegdError``."""
        runner = web.AppRunner(
            self.app(), access_log=None, shutdown_timeout=1.0, logger=self.aiohttp_log
        )
        await runner.setup()
        if runner.server is None:
            raise EegdError("the HTTP server did not set up")
        loop = asyncio.get_running_loop()
        fqdn = await loop.run_in_executor(None, socket.getfqdn)  # may ask DNS: off the loop
        self.gate.hosts = AllowedHosts(self._own_names(fqdn))
        try:
            tls = self.settings.tls_context()
        except EegdError:
            await runner.cleanup()
            raise
        try:
            self._listener = await self._listen(runner, self.settings.port, tls)
        except EegdError:
            await runner.cleanup()
            raise
        self._runner = runner
        self._tls = tls
        host, port = self._listener.sockets[0].getsockname()[:2]
        self._port = port
        shown = f"[{host}]" if ":" in host else host
        self.url = f"{self.settings.scheme}://{shown}:{port}/"
        logger.info("serving the kiosk at %s", self.url)
        if self.auth.insecure_no_auth and not self.gate.tokens.has_operator:
            logger.warning(
                "--insecure-no-auth: no operator token is configured, so anyone who can reach "
                "%s may change the filter, the source and recordings",
                self.url,
            )
        return self.url

    async def _listen(
        self, runner: web.AppRunner, port: int, tls: ssl.SSLContext | None
    ) -> asyncio.Server:
        """Listen on ``port``; a failure is an ``EegdError`` naming the address.

        Listening ourselves, rather than through a TCPSite, lets every connection pass
        through the guard from the moment it opens.
        """
        if runner.server is None:
            raise EegdError("the HTTP server did not set up")
        loop = asyncio.get_running_loop()
        try:
            return await loop.create_server(
                self.guard.protocol_factory(runner.server),
                self.settings.host,
                port,
                reuse_address=True,
                ssl=tls,
            )
        except OSError as exc:
            reason = "address already in use" if exc.errno == errno.EADDRINUSE else exc.strerror
            raise EegdError(f"cannot listen on {self.settings.host}:{port}: {reason}") from exc

    async def keep_listening(self, check_s: float = 1.0) -> None:
        """Listen again on the same port whenever the listening socket stops serving.

        A supervised task: a failure to listen again raises, and the supervisor retries
        with its back-off (``task_failed`` names the address), while the clients already
        connected stream on. Handlers need no such care: aiohttp answers what one raises
        with a 500 and serves on.
        """
        while True:
            listener, runner = self._listener, self._runner
            if runner is not None and (listener is None or not listener.is_serving()):
                if listener is not None:
                    listener.close()
                self._listener = None
                self._listener = await self._listen(runner, self._port, self._tls)
                logger.warning("the server had stopped listening; listening again on %s", self.url)
            await self._clock.sleep(check_s)

    async def stop(self) -> None:
        """Stop accepting and close the listening socket."""
        if self._listener is not None:
            self._listener.close()
            self._listener = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _index(self, request: web.Request) -> web.StreamResponse:
        return web.FileResponse(KIOSK_DIR / "index.html", headers={"Cache-Control": "no-cache"})

    async def _kiosk_file(self, request: web.Request) -> web.StreamResponse:
        """One of the kiosk's files; any other name is the JSON 404 of every route."""
        name = request.match_info["name"]
        if name not in _KIOSK_FILES:
            raise web.HTTPNotFound()
        return web.FileResponse(KIOSK_DIR / name)

    async def _api_status(self, request: web.Request) -> web.Response:
        return web.json_response(self._control.status(), dumps=_dumps)

    async def _serve_metrics(self, request: web.Request) -> web.Response:
        if self._metrics is None:
            raise web.HTTPNotFound()
        body, content_type = self._metrics()
        return web.Response(body=body, headers={"Content-Type": content_type})

    def _plugin_route(
        self, plugin: str, route: Route
    ) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        """The aiohttp handler of a plugin's route: parse the body, call, answer JSON (or
        stream the file the handler names)."""

        async def handle(request: web.Request) -> web.StreamResponse:
            body: Mapping[str, Any] = {}
            if route.method in _BODY_METHODS:
                data = await request.read()
                try:
                    body = json_object(data, request.charset) if data.strip() else {}
                except BadBody as exc:
                    return error_response(400, exc.code, str(exc))
            try:
                reply = await self._call(plugin, route, body, dict(request.match_info))
            except RequestRefused as exc:
                return error_response(exc.status, exc.code, str(exc))
            if isinstance(reply, FileReply):
                disposition = f'attachment; filename="{reply.filename}"'
                return web.FileResponse(
                    reply.path,
                    headers={
                        "Content-Type": reply.content_type,
                        "Content-Disposition": disposition,
                    },
                )
            return web.json_response(dict(reply), dumps=_dumps)

        return handle

    async def _call(
        self, plugin: str, route: Route, body: Mapping[str, Any], params: Mapping[str, str]
    ) -> RouteReply:
        """Run a plugin's route handler; a refusal is a ``RequestRefused`` with its status."""
        request = RouteRequest(
            body=body, control=_PluginControl(self._control, plugin), params=params
        )
        try:
            answer = route.handler(request)
            return await answer if inspect.isawaitable(answer) else answer
        except ConfigError as exc:
            raise RequestRefused(400, "bad_field", str(exc)) from exc

    async def _run_command(self, request: CommandRequest) -> Done | ErrorMessage:
        """A WebSocket command message (record, marker), answered as the route that serves its
        command, if the client's role covers the message's (``MESSAGE_ROLES``); audited
        either way."""
        answer = await self._command_answer(request)
        principal = request.principal
        if principal is not None:
            accepted = isinstance(answer, Done)
            outcome = "done" if isinstance(answer, Done) else f"{answer.code} {answer.message}"
            body = json.dumps(dict(request.body)) if request.body else ""
            self.auditor.record(principal, f"ws {request.message}", accepted, outcome, body)
        return answer

    async def _command_answer(self, request: CommandRequest) -> Done | ErrorMessage:
        needed = MESSAGE_ROLES.get(request.message, Role.OPERATOR)
        refused = self.gate.message_refusal(request.principal, request.message, needed)
        if refused is not None:
            return ErrorMessage(code="forbidden", message=refused)
        try:
            reply = await self.call_command(request.command, request.body)
        except RequestRefused as exc:
            return ErrorMessage(code=exc.code, message=str(exc))
        return Done(command=request.message, result=dict(reply))

    async def call_command(self, command: Command, body: Mapping[str, Any]) -> Mapping[str, Any]:
        """Answer ``command`` as a REST request to the route that declares it would be, for
        the messages that stand for one; a refusal, or no such route, is ``RequestRefused``."""
        served = self._commands.get(command)
        if served is not None:
            plugin, route = served
            reply = await self._call(plugin, route, body, {})
            if not isinstance(reply, FileReply):
                return reply
        raise RequestRefused(
            404, "not_available", f"no plugin serves {command}; is the one that does in plugins?"
        )

    async def _healthz(self, request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

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
            heartbeat=self.settings.heartbeat_s,
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


def command_routes(routes: Iterable[tuple[str, Route]]) -> dict[Command, tuple[str, Route]]:
    """Each command a route serves, with that route and its plugin's name; a command two
    routes declare is an ``EegdError`` naming both plugins."""
    served: dict[Command, tuple[str, Route]] = {}
    for plugin, route in routes:
        if route.command is None:
            continue
        if route.command in served:
            first = served[route.command][0]
            raise EegdError(f"{route.command} is served by both {first} and {plugin}")
        served[route.command] = (plugin, route)
    return served


def _dumps(value: Any) -> str:
    return json.dumps(value, default=str)


def _per_second(rate: float, key: str) -> ChangeLimits:
    """A per-address budget of ``rate`` a second in bursts of twice as many, set by
    ``server.KEY``."""
    return ChangeLimits(rate, burst=max(1, math.ceil(2 * rate)), setting=f"server.{key}")
