"""A gate on the held-out chip model's clock: the host's reads wait while the test holds it.

The model's clock advances as fast as the host waits on it (``ModelClock``), so a daemon
reading it runs far ahead of real time, faster than a lossless consumer (the recorder) may
drain. ``ClockGate`` lets it run only up to a time the test sets: a wait beyond it blocks
the host's thread, as a chip that has not converted yet would, until the test moves the
limit on or opens the gate. Waiting is on a condition, never on real time.
"""

from __future__ import annotations

import math
import threading

from tests.support.ads1299_model import ModelClock

__all__ = ["ClockGate"]


class ClockGate:
    """Holds ``clock`` at ``limit`` seconds until ``release_until`` or ``open``."""

    def __init__(self, clock: ModelClock, limit: float) -> None:
        self._clock = clock
        self._limit = limit
        self._changed = threading.Condition()
        clock.listeners.append(self._hold)

    def _hold(self, now: float) -> None:
        with self._changed:
            self._changed.wait_for(lambda: now <= self._limit)

    def release_until(self, limit: float) -> None:
        """Let the clock run on to ``limit`` seconds."""
        with self._changed:
            self._limit = max(self._limit, limit)
            self._changed.notify_all()

    def open(self) -> None:
        """Let the clock run free from now on."""
        self.release_until(math.inf)
