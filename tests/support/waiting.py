"""Waiting for a condition in async tests, with one generous deadline instead of bare sleeps."""

from __future__ import annotations

import asyncio
from collections.abc import Callable


async def wait_until(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    """Poll ``condition()`` until true, failing after a generous deadline."""
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.001)
