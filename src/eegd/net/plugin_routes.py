"""The routes the plugins declare (``eegd.routes.Route``), as the server mounts and runs them.

A handler gets the request's JSON object and a control that reaches its plugin through the
daemon (``DaemonControl``); it answers JSON or a file. Control messages that stand for a
command reach the route that declares it (``Route.command``), never a URL.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from aiohttp import web

from eegd.commands import Command
from eegd.errors import ConfigError, EegdError, RequestRefused
from eegd.net.rest import BadBody, error_response, json_object
from eegd.net.security.roles import Role
from eegd.plugin import Plugin
from eegd.routes import FileReply, Route, RouteReply, RouteRequest

__all__ = ["CommandCaller", "DaemonControl", "PluginRoutes", "command_routes", "dumps"]

#: Runs the route that serves a command, with a body; a refusal is ``RequestRefused``.
CommandCaller = Callable[[Command, Mapping[str, Any]], Awaitable[Mapping[str, Any]]]


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
    """The ``eegd.routes.PluginControl`` a route handler gets: the daemon, for one plugin."""

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


class PluginRoutes:
    """The plugins' routes: their roles and budgets, their aiohttp handlers, their commands."""

    def __init__(self, control: DaemonControl) -> None:
        self._control = control
        self.routes = list(control.routes())
        """Each route with its plugin's name."""
        self._commands = command_routes(self.routes)
        """The route that serves each command, for the messages that stand for one."""

    def find(self, method: str, path: str) -> Route | None:
        """The route that answers ``method path`` (as routed: ``/api/recordings/{name}``)."""
        for _plugin, route in self.routes:
            if (route.method, route.path) == (method, path):
                return route
        return None

    def role_of(self, method: str, path: str) -> Role | None:
        """The role the route of ``method path`` declares, None if no plugin serves it."""
        route = self.find(method, path)
        return None if route is None else Role(route.role)

    def budget_of(self, method: str, path: str) -> str:
        """The rate budget ``method path`` spends, as its route declares (else ``changes``)."""
        route = self.find(method, path)
        return "changes" if route is None else route.budget

    def mount(self, router: web.UrlDispatcher) -> None:
        """Add every plugin route to ``router``."""
        for plugin, route in self.routes:
            handler = self.handler(plugin, route)
            if route.method == "GET":
                router.add_get(route.path, handler)  # and HEAD, as every GET route
            else:
                router.add_route(route.method, route.path, handler)

    def handler(
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
                reply = await self.call(plugin, route, body, dict(request.match_info))
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
            return web.json_response(dict(reply), dumps=dumps)

        return handle

    async def call(
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

    async def call_command(self, command: Command, body: Mapping[str, Any]) -> Mapping[str, Any]:
        """Answer ``command`` as a REST request to the route that declares it would be, for
        the messages that stand for one; a refusal, or no such route, is ``RequestRefused``."""
        served = self._commands.get(command)
        if served is not None:
            plugin, route = served
            reply = await self.call(plugin, route, body, {})
            if not isinstance(reply, FileReply):
                return reply
        raise RequestRefused(
            404, "not_available", f"no plugin serves {command}; is the one that does in plugins?"
        )


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


def dumps(value: Any) -> str:
    """JSON for a reply: what JSON cannot hold (a path, a time) as its string."""
    return json.dumps(value, default=str)
