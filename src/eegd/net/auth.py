"""Who may open a WebSocket: the same-origin rule that keeps other web pages out.

A browser lets any page a user opens connect to ``ws://127.0.0.1:8080``; only the
``Origin`` header tells the pages apart. Clients that are not browsers send no Origin.
"""

from __future__ import annotations

from collections.abc import Collection
from urllib.parse import urlsplit

__all__ = ["origin_allowed"]


def origin_allowed(
    origin: str | None, host: str | None, allowed: Collection[str] = (), scheme: str = "http"
) -> bool:
    """Whether a WebSocket upgrade with this ``Origin`` may proceed.

    Allowed: no Origin (scripts, tools), an Origin whose scheme is the request's ``scheme``
    and whose host:port is the ``Host`` the request was sent to (the kiosk served by eegd
    itself), or one listed in ``allowed``.
    """
    if origin is None:
        return True
    if origin in allowed:
        return True
    if host is None:
        return False
    parts = urlsplit(origin)
    if parts.scheme != scheme or not parts.hostname:
        return False
    default_port = 443 if parts.scheme == "https" else 80
    origin_host = f"{parts.hostname}:{parts.port or default_port}"
    request_host = host if ":" in host.rsplit("]", 1)[-1] else f"{host}:{default_port}"
    return origin_host.lower() == request_host.lower().replace("[", "").replace("]", "")
