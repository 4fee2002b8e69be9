"""The tests' one REST helper: a JSON request to a running daemon and its checked reply."""

from __future__ import annotations

from typing import Any

import aiohttp

from tests.support.address import DaemonAddress

__all__ = ["api"]


async def api(
    daemon: DaemonAddress, method: str, path: str, body: Any = None, status: int = 200
) -> Any:
    """``method path`` (relative to the daemon's URL, e.g. ``api/status``) with ``body`` as
    JSON; the reply's JSON, once its status is ``status`` (else the reply's text fails it)."""
    async with (
        aiohttp.ClientSession() as session,
        session.request(method, daemon.url + path.lstrip("/"), json=body) as reply,
    ):
        assert reply.status == status, await reply.text()
        return await reply.json()
