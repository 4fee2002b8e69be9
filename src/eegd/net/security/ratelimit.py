"""How many control messages a client may send: a token bucket, pure and clock-free.

A client may send ``burst`` messages at once and ``rate`` per second on average. The first
message over the limit earns one ``rate_limited`` error; a client that keeps sending past
``burst`` further messages while over the limit is flooding and is closed. The caller passes
the time, so tests need no clock.
"""

from __future__ import annotations

import enum
import math

__all__ = ["MessageRateLimit", "Verdict"]


class Verdict(enum.Enum):
    """What to do with one inbound message."""

    ACCEPT = "accept"
    """Within the limit: handle it."""
    REFUSE = "refuse"
    """Over the limit for the first time: reply ``rate_limited`` and ignore it."""
    IGNORE = "ignore"
    """Over the limit again: ignore it without a reply (replies would be a flood of their own)."""
    CLOSE = "close"
    """Flooding: close the connection."""


class MessageRateLimit:
    """A token bucket of ``burst`` messages refilled at ``rate`` per second."""

    def __init__(self, rate: float, burst: int) -> None:
        if not (math.isfinite(rate) and rate > 0):
            raise ValueError(f"rate must be a positive number, got {rate}")
        if burst < 1:
            raise ValueError(f"burst must be at least 1, got {burst}")
        self.rate = rate
        self.burst = burst
        self._tokens = float(burst)
        self._updated: float | None = None
        self._over = 0
        """Messages received since the bucket last ran dry and has not refilled."""

    def check(self, now: float) -> Verdict:
        """Count one message received at ``now`` (seconds, monotonic) and judge it."""
        if self._updated is not None:
            elapsed = max(0.0, now - self._updated)
            self._tokens = min(float(self.burst), self._tokens + elapsed * self.rate)
        self._updated = now
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            self._over = 0
            return Verdict.ACCEPT
        self._over += 1
        if self._over == 1:
            return Verdict.REFUSE
        if self._over > self.burst + 1:
            return Verdict.CLOSE
        return Verdict.IGNORE
