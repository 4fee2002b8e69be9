"""The HTTP server: one aiohttp port for the kiosk, the WebSocket routes, the REST status and
health endpoints; binding it (and its TLS), listening again, stopping.

Every HTTP error is the JSON shape of ``eegd.net.rest``. Every request first passes the gate
(``eegd.net.security.webgate``): the Host allow-list, the Origin rules and the role its route
needs (``eegd.net.security.roles``); with ``tls_cert`` and ``tls_key`` the port speaks HTTPS
(and WSS). The streaming WebSockets are ``eegd.net.stream_routes``, the old daemon's control
routes ``eegd.net.legacy``, and the routes the plugins declare ``eegd.net.plugin_routes``.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import math
import socket
import ssl
from collections.abc import Callable
from importlib import resources
from pathlib import Path

import msgspec
from aiohttp import web

from eegd.bus import EventBus
from eegd.clock import SYSTEM_CLOCK, Clock
from eegd.errors import EegdError
from eegd.net.legacy import LegacyRoutes
from eegd.net.plugin_routes import DaemonControl, PluginRoutes, dumps
from eegd.net.rest import json_errors
from eegd.net.security.access import Gate
from eegd.net.security.audit import Auditor
from eegd.net.security.changelimit import ChangeLimits
from eegd.net.security.guard import ConnectionGuard, QuietServerLog
from eegd.net.security.hosts import AllowedHosts
from eegd.net.security.roles import SERVER_ROUTES, Role
from eegd.net.security.tokens import AuthSettings
from eegd.net.security.webgate import WebGate
from eegd.net.settings import ServerSettings
from eegd.net.stream.connections import ConnectionManager
from eegd.net.stream_routes import StreamRoutes

__all__ = ["KIOSK_DIR", "Server"]

logger = logging.getLogger(__name__)

#: The kiosk's static files, shipped inside the package.
KIOSK_DIR = Path(str(resources.files("eegd") / "kiosk"))

#: The names under ``/kiosk/``: the package's files, listed once (no lookup per request).
_KIOSK_FILES = frozenset(path.name for path in KIOSK_DIR.iterdir() if path.is_file())


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
        self.plugin_routes = PluginRoutes(control)
        """The routes the plugins declare, and the commands they serve."""
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
            budget_of=self.plugin_routes.budget_of,
        )
        self.streams = StreamRoutes(
            manager,
            self.settings.heartbeat_s,
            self.gate,
            self.auditor,
            self.plugin_routes.call_command,
        )
        """``/ws``, the single-topic routes and ``/ws/data``; their clients' commands."""
        self.legacy = LegacyRoutes(
            self.plugin_routes.call_command,
            self.gate,
            self.auditor,
            bus,
            heartbeat=self.settings.heartbeat_s,
            limits=self.settings.client_limits(),
            clock=clock,
        )
        """The old daemon's ``/command`` and ``/config``."""
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
        self.streams.mount(app.router)
        app.router.add_get("/command", self.legacy.command)
        app.router.add_get("/config", self.legacy.config)
        app.router.add_get("/api/status", self._api_status)
        if self._metrics is not None:
            app.router.add_get("/metrics", self._serve_metrics)
        self.plugin_routes.mount(app.router)
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
        return declared if declared is not None else self.plugin_routes.role_of(method, path)

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
        return web.json_response(self._control.status(), dumps=dumps)

    async def _serve_metrics(self, request: web.Request) -> web.Response:
        if self._metrics is None:
            raise web.HTTPNotFound()
        body, content_type = self._metrics()
        return web.Response(body=body, headers={"Content-Type": content_type})

    async def _healthz(self, request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})


def _per_second(rate: float, key: str) -> ChangeLimits:
    """A per-address budget of ``rate`` a second in bursts of twice as many, set by
    ``server.KEY``."""
    return ChangeLimits(rate, burst=max(1, math.ceil(2 * rate)), setting=f"server.{key}")
