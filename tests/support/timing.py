"""One time-scale factor for every deadline in the tests.

Deadlines are generous upper bounds for a busy machine, never synchronisation: a test waits
for an event and fails only if it does not come in time. A slower machine (or a debugger)
stretches them all at once with ``EEGD_TEST_TIMEOUT_SCALE``, as the websockets library's
tests do with ``MS``.
"""

from __future__ import annotations

import os

__all__ = ["TIMEOUT_SCALE", "scaled"]


def _scale_from_environment() -> float:
    text = os.environ.get("EEGD_TEST_TIMEOUT_SCALE", "1")
    try:
        scale = float(text)
    except ValueError:
        raise ValueError(f"EEGD_TEST_TIMEOUT_SCALE: {text!r} is not a number") from None
    if not scale > 0:
        raise ValueError(f"EEGD_TEST_TIMEOUT_SCALE: {text!r} must be positive")
    return scale


#: How much longer than on the reference 2-core machine every deadline is.
TIMEOUT_SCALE = _scale_from_environment()


def scaled(seconds: float) -> float:
    """``seconds`` of deadline on the reference machine, stretched by ``TIMEOUT_SCALE``."""
    return seconds * TIMEOUT_SCALE
