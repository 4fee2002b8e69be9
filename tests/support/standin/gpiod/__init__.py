"""Stand-in for libgpiod v2's Python bindings, on the board ``tests.support.standin`` wires.

Only what a line request needs: ``request_lines``, ``LineSettings``, ``LineRequest`` and
``EdgeEvent``. Lines are numbered as on the Pi's ``/dev/gpiochip0``; an output the board
does not connect to the chip is accepted (it is a GPIO pin like any) and changes nothing.
"""

from __future__ import annotations

import errno
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from tests.support.standin.gpiod import line

__all__ = ["EdgeEvent", "LineRequest", "LineSettings", "line", "request_lines"]

BOARD: Any = None


@dataclass
class LineSettings:
    """A line's requested configuration."""

    direction: line.Direction = line.Direction.AS_IS
    edge_detection: line.Edge = line.Edge.NONE
    bias: line.Bias = line.Bias.AS_IS
    output_value: line.Value = line.Value.INACTIVE
    debounce_period: timedelta = timedelta()


@dataclass(frozen=True)
class EdgeEvent:
    """An edge the kernel saw."""

    class Type:
        """Edge kinds."""

        RISING_EDGE = 1
        FALLING_EDGE = 2

    event_type: int
    timestamp_ns: int
    line_offset: int
    global_seqno: int
    line_seqno: int


class LineRequest:
    """Lines held by one consumer."""

    def __init__(self, settings: dict[int, LineSettings]) -> None:
        self._settings = settings
        self._released = False

    def _check(self, offset: int) -> LineSettings:
        if self._released:
            raise OSError(errno.EBADF, "request released")
        if offset not in self._settings:
            raise ValueError(f"line {offset} is not in this request")
        return self._settings[offset]

    def set_value(self, offset: int, value: line.Value) -> None:
        """Drive an output line (nothing on this board listens to any)."""
        if self._check(offset).direction is not line.Direction.OUTPUT:
            raise OSError(errno.EPERM, f"line {offset} is not an output")
        BOARD.drive(offset, value.value)

    def wait_edge_events(self, timeout: timedelta | float | None = None) -> bool:
        """Block until an edge is queued or ``timeout`` passes (on the board's clock)."""
        if not any(s.edge_detection is not line.Edge.NONE for s in self._settings.values()):
            raise OSError(errno.EINVAL, "no line of this request detects edges")
        seconds = timeout.total_seconds() if isinstance(timeout, timedelta) else timeout
        if BOARD.spurious_wakeups:  # poll() woke, but no event is there to read
            BOARD.spurious_wakeups -= 1
            return True
        if BOARD.edges:
            return True
        clock = BOARD.clock
        due = BOARD.next_edge_time()
        limit = clock.now + (seconds if seconds is not None else 3600.0)
        if due is None or due > limit:
            clock.advance_to(limit)
            return bool(BOARD.edges)
        clock.advance_to(due)
        return bool(BOARD.edges)

    def read_edge_events(self, max_events: int | None = None) -> list[EdgeEvent]:
        """The queued edges, oldest first (none after a spurious wake-up)."""
        events = []
        while BOARD.edges and (max_events is None or len(events) < max_events):
            edge = BOARD.edges.popleft()
            events.append(
                EdgeEvent(
                    EdgeEvent.Type.FALLING_EDGE,
                    edge.timestamp_ns,
                    edge.line,
                    edge.seqno,
                    edge.seqno,
                )
            )
        return events

    def release(self) -> None:
        """Give the lines back."""
        if not self._released:
            BOARD.requested.difference_update(self._settings)
            BOARD.watching = False
            BOARD.edges.clear()
        self._released = True


def request_lines(
    path: str, consumer: str | None = None, config: dict[Any, LineSettings] | None = None
) -> LineRequest:
    """Request lines of ``path``; a line already held is busy, a missing chip is ENOENT.

    A board that models its own lines (``TriggerBoard``) answers the request itself.
    """
    own = getattr(BOARD, "request_lines", None)
    if own is not None:
        return own(path, consumer, config or {})  # type: ignore[no-any-return]
    if BOARD is None or path != BOARD.GPIOCHIP:
        raise FileNotFoundError(errno.ENOENT, f"{path}: no such gpiochip")
    flat: dict[int, LineSettings] = {}
    for key, settings in (config or {}).items():
        offsets: Iterable[int] = key if isinstance(key, tuple) else (key,)
        for offset in offsets:
            if offset in flat or offset in BOARD.requested or not 0 <= offset <= 27:
                raise OSError(errno.EBUSY, f"line {offset} is busy or does not exist")
            flat[offset] = settings
    BOARD.requested.update(flat)
    for offset, settings in flat.items():
        if settings.direction is line.Direction.OUTPUT:
            BOARD.drive(offset, settings.output_value.value)
        if offset in BOARD.drdy_lines and settings.edge_detection in (
            line.Edge.FALLING,
            line.Edge.BOTH,
        ):
            BOARD.watching = True
    return LineRequest(flat)
