"""A blocking clock that only the test moves, for sources paced in a worker thread."""

from __future__ import annotations

import threading
import time

__all__ = ["SteppedClock"]


class SteppedClock:
    """Virtual time for a ``BlockingClock`` user: ``sleep`` blocks until the test sets the time.

    A paced source on this clock delivers a block only once the test has let its time
    come (``set``), so tests decide how many packets exist without waiting for real time.
    ``run_free`` ends every wait for good, so a reader thread can always be stopped.
    ``wall_clock_us`` is a wall clock on the same virtual time (from the real time at start).
    """

    def __init__(self) -> None:
        self._epoch_us = time.time_ns() // 1000
        self._now = 0.0
        self._free = False
        self._changed = threading.Condition()

    def monotonic(self) -> float:
        """The virtual time now."""
        with self._changed:
            return self._now

    def wall_clock_us(self) -> int:
        """µs since the epoch on the virtual time: it never steps unless the test says so."""
        return self._epoch_us + round(self.monotonic() * 1e6)

    def step_wall_clock(self, step_us: int) -> None:
        """Step the wall clock by ``step_us`` (as NTP does), leaving the virtual time alone."""
        with self._changed:
            self._epoch_us += step_us

    def sleep(self, seconds: float) -> None:
        """Block until the virtual time has moved on by ``seconds`` (or the clock runs free)."""
        with self._changed:
            until = self._now + seconds
            self._changed.wait_for(lambda: self._free or self._now >= until)
            self._now = max(self._now, until)

    def set(self, now: float) -> None:
        """Move the virtual time forward to ``now``, waking every sleeper that is due."""
        with self._changed:
            if now < self._now:
                raise ValueError(f"time goes forward only: {now} < {self._now}")
            self._now = now
            self._changed.notify_all()

    def run_free(self) -> None:
        """From now on every sleep returns at once, moving the time forward by itself."""
        with self._changed:
            self._free = True
            self._changed.notify_all()
