"""The clocks that back-off, pacing and timeouts read, injectable so tests run in virtual time.

Code that waits takes a ``Clock`` instead of calling ``time.monotonic`` and ``asyncio.sleep``
directly; production passes ``SYSTEM_CLOCK``, tests pass a fake that advances instantly.
Sources run in worker threads, outside the event loop, so the ones that pace themselves take
a ``BlockingClock`` (``SYSTEM_BLOCKING_CLOCK`` in production) whose ``sleep`` blocks the thread.
"""

from __future__ import annotations

import asyncio
import time
from typing import Final, Protocol

__all__ = [
    "SYSTEM_BLOCKING_CLOCK",
    "SYSTEM_CLOCK",
    "BlockingClock",
    "Clock",
    "SystemBlockingClock",
    "SystemClock",
]


class Clock(Protocol):
    """A monotonic time source and a way to wait on it."""

    def monotonic(self) -> float:
        """Seconds on a clock that never goes backwards; only differences are meaningful."""

    async def sleep(self, seconds: float) -> None:
        """Wait ``seconds`` on this clock."""


class SystemClock:
    """The real clock: ``time.monotonic`` and ``asyncio.sleep``."""

    __slots__ = ()

    def monotonic(self) -> float:
        """Seconds from ``time.monotonic``."""
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        """Wait ``seconds`` of real time on the running event loop."""
        await asyncio.sleep(seconds)

    def __repr__(self) -> str:
        return "SystemClock()"


#: The shared real clock, the default wherever a ``Clock`` is accepted.
SYSTEM_CLOCK: Final[Clock] = SystemClock()


class BlockingClock(Protocol):
    """The time a source in a worker thread paces itself by; tests pass a fake that never sleeps."""

    def monotonic(self) -> float:
        """Seconds on a clock that never goes backwards; only differences are meaningful."""

    def sleep(self, seconds: float) -> None:
        """Block the calling thread for ``seconds``."""


class SystemBlockingClock:
    """The real clock for worker threads: ``time.monotonic`` and ``time.sleep``."""

    __slots__ = ()

    def monotonic(self) -> float:
        """Seconds from ``time.monotonic``."""
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        """Block the calling thread for ``seconds`` of real time."""
        time.sleep(seconds)

    def __repr__(self) -> str:
        return "SystemBlockingClock()"


#: The shared real blocking clock, the default wherever a ``BlockingClock`` is accepted.
SYSTEM_BLOCKING_CLOCK: Final[BlockingClock] = SystemBlockingClock()
