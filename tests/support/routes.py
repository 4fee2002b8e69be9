"""Every route a running daemon's server answers, from its aiohttp route table, as requests."""

from __future__ import annotations

import re
from dataclasses import dataclass

from tests.support.live import LiveDaemon

#: Routes that upgrade to a WebSocket.
WEBSOCKET_PATHS = frozenset(
    {
        "/ws",
        "/ws/data",
        "/ws/filtered_eeg",
        "/applet/brain_waves/data",
        "/command",
        "/config",
    }
)


@dataclass(frozen=True)
class RouteUse:
    """One route of the table: its method, its path as routed, and a path to request it by."""

    method: str
    routed: str
    path: str

    @property
    def websocket(self) -> bool:
        return self.routed in WEBSOCKET_PATHS


def route_table(live: LiveDaemon) -> list[RouteUse]:
    """Each (method, path) of the server's aiohttp router; HEAD, which GET implies, aside."""
    uses = []
    for route in live.daemon.server.app().router.routes():
        resource = route.resource
        assert resource is not None
        if route.method == "HEAD":
            continue
        routed = resource.canonical
        path = re.sub(r"\{[^}]+\}", "nothing.bdf", routed)
        if routed == "/kiosk/{name}":
            path = "/kiosk/app.js"
        uses.append(RouteUse(route.method, routed, path))
    return uses
