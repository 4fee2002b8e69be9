"""Refusals said once per interval: a flood of refused requests is one line with a count.

A peer may be refused thousands of times a second (a script with a stale token, a page of
another origin retrying its WebSocket); a log line, or an ``audit`` event to every viewer,
for each would let it flood the log and the viewers' queues. ``Throttle`` reports the first
refusal of a key (say route, address and reason) at once, holds back the others for
``interval`` seconds, and then reports how many it held back in one more report. At most
``max_keys`` keys are remembered (the longest unreported is forgotten first, its count
with it), so many keys cannot grow the table without bound.
"""

from __future__ import annotations

import asyncio
import collections
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass

__all__ = ["Report", "Throttle"]

#: What a report does with the number of refusals it stands for.
Report = Callable[[int], None]


@dataclass(slots=True)
class _Entry:
    reported: float
    """When the key was last reported."""
    held: int
    """Refusals since then, not reported yet."""
    report: Report
    """How to report them: the last refusal's words."""


class Throttle:
    """At most one report per key and ``interval``, each with the count it stands for."""

    def __init__(
        self,
        interval: float = 60.0,
        max_keys: int = 1024,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not interval > 0 or max_keys < 1:
            raise ValueError(f"need interval > 0 and max_keys >= 1, got {interval}, {max_keys}")
        self.interval = interval
        self.max_keys = max_keys
        self._clock = clock
        self._entries: collections.OrderedDict[Hashable, _Entry] = collections.OrderedDict()
        self._timer: asyncio.TimerHandle | None = None

    def __len__(self) -> int:
        """How many keys are remembered."""
        return len(self._entries)

    def __call__(self, key: Hashable, report: Report) -> None:
        """One refusal under ``key``: ``report(count)`` now, or later with the others."""
        now = self._clock()
        entry = self._entries.get(key)
        if entry is not None and now - entry.reported < self.interval:
            entry.held += 1
            entry.report = report
            self._schedule(entry.reported + self.interval - now)
            return
        count = 1 + (entry.held if entry is not None else 0)
        self._entries.pop(key, None)
        self._entries[key] = _Entry(now, 0, report)
        while len(self._entries) > self.max_keys:
            self._entries.popitem(last=False)
        report(count)

    def flush(self) -> None:
        """Report every key whose interval is over and that holds refusals back."""
        self._timer = None
        now = self._clock()
        pending = []
        for key, entry in list(self._entries.items()):
            if entry.held and now - entry.reported >= self.interval:
                count, entry.held, entry.reported = entry.held, 0, now
                self._entries.move_to_end(key)
                entry.report(count)
            elif entry.held:
                pending.append(entry.reported + self.interval - now)
        if pending:
            self._schedule(min(pending))

    def _schedule(self, delay: float) -> None:
        """Flush after ``delay`` s, if an event loop runs (else the next refusal reports)."""
        if self._timer is not None:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        self._timer = loop.call_later(max(delay, 0.0), self.flush)
