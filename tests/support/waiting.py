"""Waiting for a condition in async tests, with one generous deadline instead of bare sleeps."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from tests.support.timing import scaled

#: How often ``wait_until`` looks again; the only sleep in the tests, a poll, not a wait.
POLL_S = 0.001


async def wait_until(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    """Poll ``condition()`` until true, failing after ``timeout`` (scaled) seconds."""
    async with asyncio.timeout(scaled(timeout)):
        while not condition():
            await asyncio.sleep(POLL_S)
