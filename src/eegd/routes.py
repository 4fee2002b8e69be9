"""The HTTP routes a plugin serves: the route, the request its handler gets, its replies, and
the control through which a handler reaches its plugin.

The server mounts each ``Route`` a plugin class declares; the WebSocket and legacy control
messages reach a route through the command it declares (``eegd.commands``), never its URL.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol

from eegd.commands import Command

if TYPE_CHECKING:
    from eegd.plugin import Plugin

__all__ = [
    "FileReply",
    "PluginControl",
    "Route",
    "RouteHandler",
    "RouteReply",
    "RouteRequest",
]


class PluginControl(Protocol):
    """How a route handler reaches its plugin: through the daemon, which keeps the state
    across restarts and tells clients about changes."""

    @property
    def plugin(self) -> str:
        """The plugin's name."""

    def state(self) -> Mapping[str, Any]:
        """The plugin's options now."""

    def reconfigure(self, changes: Mapping[str, Any]) -> Mapping[str, Any]:
        """Apply ``changes``; raises ``ConfigError`` (changing nothing) if they are bad."""

    def instance(self) -> Plugin | None:
        """The plugin instance running now; None while it is not (being restarted)."""


@dataclass(frozen=True, slots=True)
class RouteRequest:
    """What a route handler gets: the JSON object of the body (empty without one), the
    path's parameters (``{name}`` in ``/api/recordings/{name}``) and the plugin's control."""

    body: Mapping[str, Any]
    control: PluginControl
    params: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class FileReply:
    """A route's answer that is a file: streamed as ``content_type``, saved as ``filename``."""

    path: Path
    content_type: str
    filename: str


#: What a route handler answers: a JSON object or a file.
RouteReply = Mapping[str, Any] | FileReply
#: A route's handler: the request in, a reply (or an awaitable of one) out.
RouteHandler = Callable[[RouteRequest], RouteReply | Awaitable[RouteReply]]


@dataclass(frozen=True, slots=True)
class Route:
    """An HTTP route a plugin contributes: ``handler`` answers ``method path`` with JSON.

    ``role`` is who may call it, and every route must say: ``"viewer"`` routes only read,
    ``"operator"`` routes change something (``eegd.net.security.roles``). ``budget`` is the
    per-address rate an operator route's calls spend: ``"changes"``
    (``server.max_changes_per_s``) or ``"markers"`` (``server.max_markers_per_s``).
    ``command`` is the control message's command the route serves too (``eegd.commands``):
    the WebSocket and legacy messages reach the route through it, never through its URL. A
    ``ConfigError`` from the handler is a 400 naming the key, a ``RequestRefused`` its own
    status and code; a body that is not a JSON object is refused before the handler runs (an
    empty one is ``{}``).
    """

    method: Literal["GET", "PUT", "POST", "DELETE"]
    path: str
    handler: RouteHandler
    role: Literal["viewer", "operator"]
    budget: Literal["changes", "markers"] = "changes"
    command: Command | None = None
