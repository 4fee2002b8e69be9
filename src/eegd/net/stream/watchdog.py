"""The stall watchdog: one periodic check, on an injected clock, for clients whose socket
has taken nothing for too long."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Generic, Protocol, TypeVar

from eegd.clock import SYSTEM_CLOCK, Clock

__all__ = ["StallWatchdog", "Stallable"]


class Stallable(Protocol):
    """A client whose socket progress the watchdog can judge."""

    def stalled_for(self, now: float) -> float:
        """Seconds without progress at ``now``."""


_S = TypeVar("_S", bound=Stallable)


class StallWatchdog(Generic[_S]):
    """Finds clients whose socket has taken nothing for ``timeout`` seconds on ``clock``.

    One periodic check for all clients, instead of a timer around every send: the send path
    is the hot path of the fan-out.
    """

    def __init__(
        self,
        timeout: float,
        clients: Callable[[], Iterable[_S]],
        on_stall: Callable[[_S], None],
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        self.timeout = timeout
        self.interval = min(1.0, timeout / 4)
        """Seconds between checks."""
        self._clients = clients
        self._on_stall = on_stall
        self._clock = clock

    def check(self) -> None:
        """Hand every client stalled now to ``on_stall``."""
        now = self._clock.monotonic()
        for client in list(self._clients()):
            if client.stalled_for(now) >= self.timeout:
                self._on_stall(client)

    async def run(self) -> None:
        """Check every ``interval`` until cancelled."""
        while True:
            await self._clock.sleep(self.interval)
            self.check()
