"""What peers may cost the HTTP server: slow requests are cut off and their noise kept quiet.

A connection is in its *request phase* from the moment it opens (or its last response was
handed over) until the headers of its next request are in, and then, if the request has a
body, until the body is in. ``ConnectionGuard`` gives the headers ``header_timeout``
seconds and the body ``body_timeout`` seconds plus one for every ``body_min_rate`` bytes it
declares (a body of unknown length is allowed the largest size), and allows
``max_pending`` connections in the request phase at once: a slowloris client that dribbles
headers or a body, or a socket that never says anything, is closed, and when the cap is
reached the connection that has waited longest is closed to make room. A real client sends
its request at once, so the slow ones are the ones evicted and descriptors stay free for
clients that speak. WebSocket clients leave the request phase with their upgrade and are
counted by the ``ConnectionManager``'s ``max_clients`` instead.

``QuietServerLog`` is the log aiohttp's server writes to: a peer's malformed request makes
it log a traceback at error level, which peers must not be able to flood the log with.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

__all__ = ["ConnectionGuard", "GuardStats", "QuietServerLog"]

logger = logging.getLogger(__name__)


class GuardStats:
    """Counters of the guard, for /api/status."""

    __slots__ = ("body_timed_out", "evicted", "pending", "timed_out")

    def __init__(self) -> None:
        self.pending = 0
        """Connections in the request phase now."""
        self.timed_out = 0
        """Connections closed because a request's headers took longer than the timeout."""
        self.evicted = 0
        """Connections closed to make room when ``max_pending`` were in the request phase."""
        self.body_timed_out = 0
        """Connections closed because a request's body took longer than its deadline."""

    def as_dict(self) -> dict[str, int]:
        """The counters by name."""
        return {name: getattr(self, name) for name in self.__slots__}


class ConnectionGuard:
    """Deadlines and a cap for connections that have not yet sent a complete request."""

    def __init__(
        self,
        header_timeout: float = 5.0,
        max_pending: int = 64,
        body_timeout: float = 10.0,
        body_min_rate: float = 1024.0,
    ) -> None:
        if not (header_timeout > 0 and body_timeout > 0 and body_min_rate > 0):
            raise ValueError(
                "header_timeout, body_timeout and body_min_rate must be positive, got "
                f"{header_timeout}, {body_timeout}, {body_min_rate}"
            )
        if max_pending < 1:
            raise ValueError(f"max_pending must be at least 1, got {max_pending}")
        self.header_timeout = header_timeout
        self.max_pending = max_pending
        self.body_timeout = body_timeout
        self.body_min_rate = body_min_rate
        self.stats = GuardStats()
        self._deadlines: dict[asyncio.Transport, asyncio.TimerHandle] = {}

    def protocol_factory(
        self, factory: Callable[[], asyncio.BaseProtocol]
    ) -> Callable[[], asyncio.Protocol]:
        """Wrap aiohttp's protocol factory so every connection passes through the guard."""
        return lambda: _GuardedProtocol(self, factory())

    @web.middleware
    async def middleware(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        """Time the request's body, if one is still coming; otherwise take the connection out
        of the request phase while its request is handled."""
        transport = request.transport
        if transport is not None:
            self._leave_request_phase(transport)
            body = request.content
            if request.body_exists and not body.is_eof():
                largest = request.client_max_size
                self._await_body(transport, min(request.content_length or largest, largest))
                body.on_eof(lambda: self._leave_request_phase(transport))
        try:
            return await handler(request)
        finally:
            if transport is not None and not transport.is_closing():
                self._enter_request_phase(transport)

    def _opened(self, transport: asyncio.Transport) -> None:
        if len(self._deadlines) >= self.max_pending:
            self._evict_oldest()
        self._enter_request_phase(transport)

    def _evict_oldest(self) -> None:
        oldest = next(iter(self._deadlines))
        self._leave_request_phase(oldest)
        self.stats.evicted += 1
        logger.debug("%d connections wait for a request; closed the oldest", self.max_pending)
        oldest.abort()

    def _enter_request_phase(self, transport: asyncio.Transport) -> None:
        self._leave_request_phase(transport)
        loop = asyncio.get_running_loop()
        self._deadlines[transport] = loop.call_later(self.header_timeout, self._expire, transport)
        self.stats.pending = len(self._deadlines)

    def _await_body(self, transport: asyncio.Transport, size: int) -> None:
        """Count the connection as pending until its body of ``size`` bytes is in."""
        if len(self._deadlines) >= self.max_pending:
            self._evict_oldest()
        allowed = self.body_timeout + size / self.body_min_rate
        loop = asyncio.get_running_loop()
        self._deadlines[transport] = loop.call_later(allowed, self._body_expired, transport)
        self.stats.pending = len(self._deadlines)

    def _body_expired(self, transport: asyncio.Transport) -> None:
        if self._deadlines.pop(transport, None) is None:
            return
        self.stats.pending = len(self._deadlines)
        self.stats.body_timed_out += 1
        logger.debug("closed a connection whose request body did not arrive in time")
        transport.abort()

    def _leave_request_phase(self, transport: asyncio.Transport) -> None:
        deadline = self._deadlines.pop(transport, None)
        if deadline is not None:
            deadline.cancel()
        self.stats.pending = len(self._deadlines)

    def _expire(self, transport: asyncio.Transport) -> None:
        if self._deadlines.pop(transport, None) is None:
            return
        self.stats.pending = len(self._deadlines)
        if transport.get_write_buffer_size():
            # Still sending the last response (a large file to a slow reader): not idle.
            self._enter_request_phase(transport)
            return
        self.stats.timed_out += 1
        logger.debug("closed a connection that sent no request in %g s", self.header_timeout)
        transport.abort()


class _GuardedProtocol(asyncio.Protocol):
    """aiohttp's protocol for one connection, with the guard told when it opens and closes."""

    def __init__(self, guard: ConnectionGuard, inner: asyncio.BaseProtocol) -> None:
        self._guard = guard
        self._inner: Any = inner
        self._transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        if not isinstance(transport, asyncio.Transport):
            raise TypeError(f"a stream transport was expected, got {transport!r}")
        self._guard._opened(transport)
        self._transport = transport
        self._inner.connection_made(transport)

    def data_received(self, data: bytes) -> None:
        self._inner.data_received(data)

    def eof_received(self) -> bool | None:
        result: bool | None = self._inner.eof_received()
        return result

    def connection_lost(self, exc: Exception | None) -> None:
        if self._transport is not None:
            self._guard._leave_request_phase(self._transport)
        self._inner.connection_lost(exc)

    def pause_writing(self) -> None:
        self._inner.pause_writing()

    def resume_writing(self) -> None:
        self._inner.resume_writing()


class QuietServerLog(logging.LoggerAdapter):  # type: ignore[type-arg]
    """aiohttp's server log with what peers cause moved to debug, and a summary instead.

    Whatever aiohttp itself would log at warning or above (a malformed request, a peer that
    vanished mid-request) goes to debug; the first of them, and then at most one per
    ``summary_interval``, is summed up in one info line.
    """

    def __init__(self, summary_interval: float = 60.0) -> None:
        super().__init__(logging.getLogger("aiohttp.server"), {})
        self.summary_interval = summary_interval
        self.count = 0
        """Requests aiohttp complained about since start."""
        self._unreported = 0
        self._last_summary: float | None = None

    def log(self, level: int, msg: object, *args: object, **kwargs: Any) -> None:
        if level >= logging.WARNING:
            self.count += 1
            self._unreported += 1
            now = time.monotonic()
            last = self._last_summary
            if last is None or now - last >= self.summary_interval:
                logger.info(
                    "%d malformed or aborted HTTP requests from peers%s (details at debug level)",
                    self._unreported,
                    "" if last is None else f" in the last {now - last:.0f} s",
                )
                self._unreported = 0
                self._last_summary = now
            level = logging.DEBUG
        super().log(level, msg, *args, **kwargs)
