"""The clock that back-off, pacing and timeouts read, injectable so tests run in virtual time.

Code that waits takes a ``Clock`` instead of calling ``time.monotonic`` and ``asyncio.sleep``
directly; production passes ``SYSTEM_CLOCK``, tests pass a fake that advances instantly.
"""

from __future__ import annotations

import asyncio
import time
from typing import Final, Protocol

__all__ = ["SYSTEM_CLOCK", "Clock", "SystemClock"]


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
