"""A daemon to send refused requests to, that checks nothing changed and nobody lost a frame.

``refusing(toml)`` runs a stepped daemon with a ``Watcher`` and a client session (both with
``headers``, e.g. a viewer's token); on leaving, the watcher must have every frame, and the
filter and the recordings must be as they were when the block began (or at the last
``remember()``).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp

from tests.support.live import LiveDaemon, Watcher, live_daemon, watching


async def state(session: aiohttp.ClientSession, live: LiveDaemon) -> tuple[Any, Any]:
    """What a refused change must leave as it was: the filter and the recordings."""
    async with session.get(live.url + "api/filter") as filtered:
        settings = await filtered.json()
    async with session.get(live.url + "api/recordings") as listed:
        recordings = await listed.json()
    return settings, recordings


async def error_of(response: aiohttp.ClientResponse) -> dict[str, Any]:
    """The JSON error of a refused request; exactly the error shape's keys."""
    assert response.content_type == "application/json", await response.text()
    error: dict[str, Any] = await response.json()
    assert set(error) == {"type", "code", "message"}, error
    return error


@dataclass
class Refusing:
    """The daemon, the watcher, a session, and the state to find again."""

    live: LiveDaemon
    watcher: Watcher
    session: aiohttp.ClientSession
    before: tuple[Any, Any] = ((), ())

    async def remember(self) -> None:
        """Take the state now as the one to find at the end (after changes meant to happen)."""
        self.before = await state(self.session, self.live)


@contextlib.asynccontextmanager
async def refusing(toml: str, headers: Mapping[str, str] | None = None) -> AsyncIterator[Refusing]:
    async with (
        live_daemon(toml, stepped=True) as live,
        watching(live, headers=headers) as watcher,
        aiohttp.ClientSession(headers=headers) as session,
    ):
        await watcher.wait_frame(await live.release(1))
        guarded = Refusing(live, watcher, session)
        await guarded.remember()
        yield guarded
        await watcher.wait_frame(await live.release(4))
        watcher.assert_contiguous()
        assert await state(session, live) == guarded.before
