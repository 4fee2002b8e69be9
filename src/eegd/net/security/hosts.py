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

Both read a host the one strict way, ``split_host``: a name or a bracketed IPv6 address and
an optional numeric port, nothing else. A header with userinfo or junk after the name
(``127.0.0.1:80@evil.test``) names no host; a looser reading would let the Host check see
one host and the Origin check another.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Collection, Iterable

__all__ = [
    "LOOPBACK_NAMES",
    "AllowedHosts",
    "host_name",
    "is_loopback",
    "origin_allowed",
    "same_origin",
    "split_host",
]

#: Names every machine has for itself.
LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost"})


#: ``host [":" port]`` (RFC 9110 §7.2): a bracketed IPv6 address (with a zone, RFC 6874) or
#: a name without separators, and a port of digits.
_HOST = re.compile(
    r"(?:\[(?P<ipv6>[0-9a-f:.]+(?:%[0-9a-z._~%-]+)?)\]|(?P<name>[^\s:@/\\?#\[\]]*))"
    r"(?::(?P<port>[0-9]{0,5}))?"
)
#: A serialized origin (RFC 6454): a scheme and an authority, no path, query or fragment.
_ORIGIN = re.compile(r"(?P<scheme>[a-z][a-z0-9+.-]*)://(?P<authority>[^/?#]*)")


def split_host(host: str) -> tuple[str, int | None] | None:
    """The name and port of a ``Host`` header (or of an origin's authority), lower case,
    without brackets or final dot; None when it names no host the one strict way."""
    text = host.strip().lower()
    if _is_ip(text):  # an IPv6 address without brackets, as a bind address is written
        return text, None
    found = _HOST.fullmatch(text)
    if found is None or (found["port"] and int(found["port"]) > 65535):
        return None
    name = (found["ipv6"] or found["name"]).rstrip(".")
    return name, int(found["port"]) if found["port"] else None


def host_name(host: str) -> str:
    """The name of a ``Host`` header without its port, brackets or final dot, lower case;
    empty when the header names no host (``split_host``)."""
    found = split_host(host)
    return "" if found is None else found[0]


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
        name = host_name(host) if host else ""
        return bool(name) and (name in self.names or _is_ip(name))

    def __repr__(self) -> str:
        return f"AllowedHosts({sorted(self.names)!r} and IP addresses)"


def same_origin(origin: str, host: str | None, scheme: str) -> bool:
    """Whether ``origin`` is the server's own: ``scheme``, and the host and port of ``host``
    (the request's ``Host``), default ports filled in."""
    found = _ORIGIN.fullmatch(origin.strip().lower())
    if host is None or found is None or found["scheme"] != scheme:
        return False
    theirs, ours = split_host(found["authority"]), split_host(host)
    if theirs is None or ours is None or not theirs[0]:
        return False
    default_port = 443 if scheme in ("https", "wss") else 80
    return (theirs[0], theirs[1] or default_port) == (ours[0], ours[1] or default_port)


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
