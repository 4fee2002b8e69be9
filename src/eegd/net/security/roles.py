"""Who may do what: the roles, and the one table of the role each route and message needs.

``viewer`` streams and reads (status, recordings list and download); ``operator`` may also
change things (filter, source, recording start and stop, markers, self-test, delete).
``public`` is what anyone who passes the Host and Origin checks may reach even when viewer
tokens are configured: the kiosk page itself, its sign-in and the health check.

The server's own routes are declared here, ``SERVER_ROUTES``; a plugin's routes declare
their role on their ``eegd.routes.Route``. WebSocket control messages, of ``/ws`` and of the
legacy ``/command`` and ``/config`` routes, are declared in ``MESSAGE_ROLES``. A route or
message missing from these needs the operator role (fail closed), and a test walks the
server's route table to keep every route declared.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass

__all__ = ["LEGACY_MESSAGE_ROLES", "MESSAGE_ROLES", "SERVER_ROUTES", "Principal", "Role"]


class Role(enum.Enum):
    """A level of access; each includes the ones below it."""

    PUBLIC = "public"
    VIEWER = "viewer"
    OPERATOR = "operator"

    @property
    def rank(self) -> int:
        """0 for public, 1 for viewer, 2 for operator."""
        return _RANKS[self]

    def covers(self, needed: Role) -> bool:
        """Whether this role may do what ``needed`` may."""
        return self.rank >= needed.rank


_RANKS: Mapping[Role, int] = {Role.PUBLIC: 0, Role.VIEWER: 1, Role.OPERATOR: 2}


@dataclass(frozen=True, slots=True)
class Principal:
    """Who a request comes from: its role, the peer's address, and how the role was earned
    (``token``, ``session``, ``open``: no operator token is configured, or ``anonymous``).

    ``credential`` is the hash of the token the role came from, so that a long-lived
    connection's commands stop once that token is revoked.
    """

    role: Role
    address: str
    via: str = "open"
    credential: str | None = None


#: The role each of the server's own routes needs: (method, path as routed) → role. GET
#: routes answer HEAD too. Plugins' routes carry their own (``Route.role``).
SERVER_ROUTES: Mapping[tuple[str, str], Role] = {
    ("GET", "/"): Role.PUBLIC,
    ("GET", "/kiosk/{name}"): Role.PUBLIC,  # the kiosk's static files
    ("GET", "/healthz"): Role.PUBLIC,
    ("GET", "/api/session"): Role.PUBLIC,  # who am I; may I sign in
    ("POST", "/api/session"): Role.PUBLIC,  # sign in with a token
    ("DELETE", "/api/session"): Role.PUBLIC,  # sign out
    ("GET", "/ws"): Role.VIEWER,  # each message then needs its MESSAGE_ROLES role
    ("GET", "/ws/data"): Role.VIEWER,
    ("GET", "/ws/filtered_eeg"): Role.VIEWER,
    ("GET", "/applet/brain_waves/data"): Role.VIEWER,
    ("GET", "/command"): Role.VIEWER,  # legacy; changes need LEGACY_MESSAGE_ROLES
    ("GET", "/config"): Role.VIEWER,
    ("GET", "/api/status"): Role.VIEWER,
    ("GET", "/metrics"): Role.VIEWER,
}

#: The role each ``/ws`` control message needs, by its ``type``.
MESSAGE_ROLES: Mapping[str, Role] = {
    "subscribe": Role.VIEWER,
    "unsubscribe": Role.VIEWER,
    "ping": Role.VIEWER,
    "record": Role.OPERATOR,
    "marker": Role.OPERATOR,
}

#: The role each message of the old daemon's routes needs: ``/command`` by its ``command``,
#: ``/config`` (a configuration change) as ``config``.
LEGACY_MESSAGE_ROLES: Mapping[str, Role] = {
    "status": Role.VIEWER,
    "start": Role.OPERATOR,
    "stop": Role.OPERATOR,
    "set_powerline_filter": Role.OPERATOR,
    "config": Role.OPERATOR,
}
