"""How many changes a peer may ask for: a token bucket per address, pure and clock-free.

Every change (a REST request of an operator route) costs one token of the budget its route
spends (``Route.budget``: settings changes, or markers, which an experiment sends far
faster); an address holds at most ``burst`` of each and earns ``rate`` a second. A script in
a loop, or 350 concurrent source switches, is refused with 429 past that, while every other
address, and every read, goes on. At most ``max_addresses`` addresses are remembered (the
longest untouched is forgotten first).
"""

from __future__ import annotations

import collections
import math

__all__ = ["ChangeLimits"]


class ChangeLimits:
    """Changes per address: ``burst`` at once, then ``rate`` a second; ``setting`` is the
    key that sets the rate, named in the 429 that says so."""

    def __init__(
        self, rate: float, burst: int, setting: str = "", max_addresses: int = 4096
    ) -> None:
        if not (math.isfinite(rate) and rate > 0) or burst < 1 or max_addresses < 1:
            raise ValueError("need a positive rate, burst >= 1 and max_addresses >= 1")
        self.rate = rate
        self.burst = burst
        self.setting = setting
        self.max_addresses = max_addresses
        self._buckets: collections.OrderedDict[str, tuple[float, float]] = collections.OrderedDict()
        """address → (tokens, when counted)."""

    def take(self, address: str, now: float) -> float | None:
        """Spend one token of ``address`` at ``now``: None if it had one, else the seconds
        until it will."""
        tokens, then = self._buckets.pop(address, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + max(0.0, now - then) * self.rate)
        wait = None
        if tokens >= 1.0:
            tokens -= 1.0
        else:
            wait = (1.0 - tokens) / self.rate
        self._buckets[address] = (tokens, now)
        while len(self._buckets) > self.max_addresses:
            self._buckets.popitem(last=False)
        return wait
