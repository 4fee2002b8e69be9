"""When a crashed task is restarted: the ``[supervisor]`` table and its back-off arithmetic
(the table also bounds how long a stop waits for the tasks).

Pure logic, no asyncio: ``eegd.supervisor`` runs the tasks and asks the policy how long to
wait after each crash.
"""

from __future__ import annotations

import math
import sys
from typing import Annotated

import msgspec

from eegd.validation import Settings

__all__ = ["RestartPolicy"]


class RestartPolicy(Settings, frozen=True):
    """When and how often a crashed task is restarted.

    The n-th consecutive crash waits ``initial_backoff * multiplier**(n-1)`` seconds, capped
    at ``max_backoff`` and scaled by a random factor within ``±jitter`` so that tasks that
    crashed together do not restart in lockstep. More than ``max_retries`` consecutive
    crashes and the task is given up. A run that lasted ``reset_after`` seconds or more
    before crashing counts as healthy: the consecutive count starts again from zero.
    A stop (SIGINT, SIGTERM) waits ``stop_timeout`` seconds for the tasks to end, then names
    in the log those still running and goes on.

    It is also the ``[supervisor]`` table, whose values the field constraints bound.
    """

    max_retries: Annotated[int, msgspec.Meta(ge=0, le=1_000_000)] = 5
    initial_backoff: Annotated[float, msgspec.Meta(ge=0, le=3600)] = 0.5
    max_backoff: Annotated[float, msgspec.Meta(ge=0, le=86_400)] = 30.0
    multiplier: Annotated[float, msgspec.Meta(ge=1, le=100)] = 2.0
    jitter: Annotated[float, msgspec.Meta(ge=0, lt=1)] = 0.1
    reset_after: Annotated[float, msgspec.Meta(ge=0, le=86_400)] = 60.0
    stop_timeout: Annotated[float, msgspec.Meta(gt=0, le=3600)] = 2.0

    def forever(self) -> RestartPolicy:
        """This policy without its limit: retries never stop, ``max_backoff`` apart at most."""
        return msgspec.structs.replace(self, max_retries=sys.maxsize)

    def backoff(self, failures: int, draw: float) -> float:
        """Seconds to wait after the ``failures``-th consecutive crash (1-based).

        ``draw`` is a uniform random number in [0, 1): 0.5 gives the exact un-jittered delay.
        """
        if failures < 1:
            raise ValueError(f"failures must be at least 1, got {failures}")
        if not 0.0 <= draw < 1.0:
            raise ValueError(f"draw must be in [0, 1), got {draw}")
        try:
            growth = self.multiplier ** (failures - 1)
        except OverflowError:
            growth = math.inf
        delay = (
            0.0
            if self.initial_backoff == 0
            else min(self.max_backoff, self.initial_backoff * growth)
        )
        return delay * (1.0 + self.jitter * (2.0 * draw - 1.0))
