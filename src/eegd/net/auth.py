"""Where requests may come from: the ``Host`` allow-list and the same-origin rules.

A browser lets any page a user opens send requests to ``http://127.0.0.1:8080`` and, once an
attacker's domain re-resolves to that address (DNS rebinding), read the answers too: the
browser then thinks the daemon *is* the attacker's site, and its ``Origin`` and ``Host`` both
name that domain. Comparing the two proves nothing. What does: the ``Host`` a request was
sent to must be a name of this server (``AllowedHosts``), which an attacker's domain is not.
An IP address is always allowed, since no page but the daemon's own has it as its origin.

``origin_allowed`` then keeps other pages' WebSockets out: the ``Origin`` must be the
server's own (its scheme and the ``Host`` the request was sent to) or one of
``server.allowed_origins``. Clients that are not browsers send no Origin.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Collection, Iterable
from urllib.parse import urlsplit

__all__ = [
    "LOOPBACK_NAMES",
    "AllowedHosts",
    "host_name",
    "is_loopback",
    "origin_allowed",
    "same_origin",
]

#: Names every machine has for itself.
LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost"})


def host_name(host: str) -> str:
    """The name of a ``Host`` header without its port, brackets or final dot, lower case."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[1:].split("]", 1)[0]
    if host.count(":") == 1:
        host = host.split(":", 1)[0]
    return host.rstrip(".")


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


def is_loopback(address: str) -> bool:
    """Whether a server listening on ``address`` is reachable from this machine alone."""
    name = host_name(address)
    if name in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


class AllowedHosts:
    """The names a request's ``Host`` may give: loopback names, any IP address, and ``names``
    (the bound address, the machine's host names, ``server.allowed_hosts``)."""

    def __init__(self, names: Iterable[str] = ()) -> None:
        given = {host_name(name) for name in names if name}
        self.names = frozenset(LOOPBACK_NAMES | {name for name in given if not _is_ip(name)})

    def allows(self, host: str | None) -> bool:
        """Whether a request with this ``Host`` header was meant for this server."""
        if not host:
            return False
        name = host_name(host)
        return name in self.names or _is_ip(name)

    def __repr__(self) -> str:
        return f"AllowedHosts({sorted(self.names)!r} and IP addresses)"


def same_origin(origin: str, host: str | None, scheme: str) -> bool:
    """Whether ``origin`` is the server's own: ``scheme``, and the host and port of ``host``
    (the request's ``Host``), default ports filled in."""
    if host is None:
        return False
    parts = urlsplit(origin)
    if parts.scheme != scheme or not parts.hostname:
        return False
    try:
        origin_port = parts.port
    except ValueError:
        return False
    default_port = 443 if parts.scheme in ("https", "wss") else 80
    request = urlsplit(f"//{host.strip()}")
    try:
        request_port = request.port
    except ValueError:
        return False
    return (parts.hostname.rstrip("."), origin_port or default_port) == (
        (request.hostname or "").rstrip("."),
        request_port or default_port,
    )


def origin_allowed(
    origin: str | None, host: str | None, allowed: Collection[str] = (), scheme: str = "http"
) -> bool:
    """Whether a WebSocket upgrade with this ``Origin`` may proceed.

    Allowed: no Origin (scripts, tools), the server's own origin (``same_origin``: the kiosk
    served by eegd itself), or one listed in ``allowed``. The ``Host`` itself is checked
    against ``AllowedHosts`` first, for every request.
    """
    if origin is None or origin in allowed:
        return True
    return same_origin(origin, host, scheme)
