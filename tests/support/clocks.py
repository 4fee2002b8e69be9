"""The one fake clock of the tests: virtual time that never waits for real time.

``FakeClock`` serves every clock eegd takes. As a ``BlockingClock`` (a source's worker thread)
it is ``monotonic`` and ``sleep``; as a ``Clock`` (back-off, watchdogs, on the event loop) it
is ``clock.asyncio``; ``wall_clock_us`` is a wall clock on the same time, and calling the
clock reads the time (for a ``Callable[[], float]``).

Time moves in one of two ways. By default a sleep moves it on by itself and returns at once
(an asyncio sleep yields once), so paced code runs as fast as the machine allows. With
``manual=True`` only the test moves it (``set``, ``advance``): a sleep waits until its time
has come, so a test decides how many packets exist, or catches a task in the middle of its
back-off by never letting its time come. ``run_free`` ends every wait for good, so a reader
thread can always be stopped. Every sleep is recorded in ``sleeps``; each reading of the time
may cost ``work`` seconds (the sleeper's own work between two looks), and a sleeper may wake
``late`` seconds after its time (a busy loop).
"""

from __future__ import annotations

import asyncio
import threading
import time

__all__ = ["FakeClock"]


class FakeClock:
    """Virtual seconds, moved by sleepers (default) or only by the test (``manual``)."""

    def __init__(
        self,
        now: float = 0.0,
        *,
        manual: bool = False,
        work: float = 0.0,
        late: float = 0.0,
        epoch_us: int | None = None,
    ) -> None:
        self._now = now
        self._free = not manual
        self.work = work
        #: How long after its time a sleeper wakes (a busy loop's lag).
        self.late = late
        self.sleeps: list[float] = []
        #: The wall clock at virtual time 0 (by default the real one as the clock was made).
        self._epoch_us = time.time_ns() // 1000 if epoch_us is None else epoch_us
        self._changed = threading.Condition()
        #: Set while an asyncio sleeper waits for the test (``manual``) to move the time.
        self.sleeping = asyncio.Event()
        self._moved = asyncio.Event()

    @property
    def now(self) -> float:
        """The virtual time now, without the cost of a reading; setting it is ``set``."""
        with self._changed:
            return self._now

    @now.setter
    def now(self, now: float) -> None:
        self.set(now)

    def monotonic(self) -> float:
        """The virtual time now (after ``work`` more seconds of it)."""
        with self._changed:
            self._now += self.work
            return self._now

    def __call__(self) -> float:
        return self.monotonic()

    def wall_clock_us(self) -> int:
        """µs since the epoch on the virtual time: it never steps unless the test says so."""
        return self._epoch_us + round(self.now * 1e6)

    def step_wall_clock(self, step_us: int) -> None:
        """Step the wall clock by ``step_us`` (as NTP does), leaving the virtual time alone."""
        with self._changed:
            self._epoch_us += step_us

    def sleep(self, seconds: float) -> None:
        """Block until the virtual time has moved on by ``seconds`` (at once unless manual)."""
        with self._changed:
            self.sleeps.append(seconds)
            until = self._now + seconds + self.late
            self._changed.wait_for(lambda: self._free or self._now >= until)
            self._now = max(self._now, until)

    @property
    def asyncio(self) -> _AsyncioView:
        """This clock as an ``eegd.clock.Clock``, for code on the event loop."""
        return _AsyncioView(self)

    async def sleep_async(self, seconds: float) -> None:
        """Yield once and move on by ``seconds``, or (manual) wait until the test moved it."""
        with self._changed:
            self.sleeps.append(seconds)
            until = self._now + seconds + self.late
        while not self._free and self.now < until:
            self._moved.clear()
            self.sleeping.set()
            await self._moved.wait()
        with self._changed:
            self._now = max(self._now, until)
        await asyncio.sleep(0)

    def set(self, now: float) -> None:
        """Move the virtual time forward to ``now``, waking every sleeper that is due."""
        with self._changed:
            if now < self._now:
                raise ValueError(f"time goes forward only: {now} < {self._now}")
            self._now = now
            self._changed.notify_all()
        self._moved.set()

    def advance(self, seconds: float) -> None:
        """Move the virtual time on by ``seconds``."""
        self.set(self.now + seconds)

    async def advance_to_next_sleep(self, seconds: float) -> None:
        """Move the time on by ``seconds`` and wait until the asyncio sleeper sleeps again."""
        self.sleeping.clear()
        self.advance(seconds)
        await self.sleeping.wait()

    def run_free(self) -> None:
        """From now on every sleep returns at once, moving the time forward by itself."""
        with self._changed:
            self._free = True
            self._changed.notify_all()
        self._moved.set()


class _AsyncioView:
    """A ``FakeClock`` seen as an ``eegd.clock.Clock``: the same time, an awaitable sleep."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock

    def monotonic(self) -> float:
        return self.clock.monotonic()

    async def sleep(self, seconds: float) -> None:
        await self.clock.sleep_async(seconds)
