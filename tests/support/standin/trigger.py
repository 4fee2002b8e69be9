"""A gpiochip whose input lines the test drives: the kernel's edge detection and debounce.

``TriggerBoard`` stands for a Pi's ``/dev/gpiochip0`` (lines 0..27 on the header) with
nothing else wired. The test gives a line's waveform (``pulse``: the changes of level and
when, in monotonic seconds on the session's clock); the board queues the edges a libgpiod
v2 request on that line would read, as the kernel's GPIO character device makes them
(Documentation/userspace-api/gpio/gpio-v2-line-config and drivers/gpio/gpiolib-cdev.c):

- without debounce every change the request's ``edge_detection`` selects is an edge,
  stamped when it happened;
- with a debounce period a change (re)starts a timer; when the line has stayed put for
  the period and its level differs from the last one reported, that is one edge, stamped
  when the timer ran out, the last change plus the period (a glitch shorter than the
  period, back to where it was, is no edge at all);
- each request keeps 16 edges a line and drops its oldest beyond; the line's sequence
  number counts every edge, the dropped ones too.

Errors are those of the character device: a missing chip is ENOENT, a line the chip does
not have EINVAL, a line already requested EBUSY. ``wait_edge_events`` blocks for real (up
to its timeout) until an edge is queued, so a reader thread sees each pulse as it is given.
"""

from __future__ import annotations

import errno
import sys
import threading
from collections import deque
from collections.abc import Iterable, Sequence
from datetime import timedelta
from typing import Any

import pytest

__all__ = ["TriggerBoard", "install_trigger_board", "levels"]

LINES = 28
EVENTS_PER_LINE = 16


class TriggerBoard:
    """A gpiochip of input lines the test drives; requests read the edges the kernel makes."""

    GPIOCHIP = "/dev/gpiochip0"

    def __init__(self) -> None:
        self.level = [0] * LINES
        self.requested: dict[int, Any] = {}
        self.released = 0
        self._queued: deque[Any] = deque()
        self._seqno = [0] * LINES
        self._changed = threading.Condition()

    def request_lines(self, path: str, consumer: str | None, config: dict[Any, Any]) -> Request:
        """``gpiod.request_lines`` on this chip."""
        if path != self.GPIOCHIP:
            raise FileNotFoundError(errno.ENOENT, "No such file or directory", path)
        wanted: dict[int, Any] = {}
        for key, settings in config.items():
            for offset in key if isinstance(key, tuple) else (key,):
                if not 0 <= offset < LINES:
                    raise OSError(errno.EINVAL, "Invalid argument")
                if offset in self.requested or offset in wanted:
                    raise OSError(errno.EBUSY, "Device or resource busy")
                wanted[offset] = settings
        request = Request(self, wanted)
        self.requested.update(dict.fromkeys(wanted, request))
        return request

    def pulse(self, offset: int, changes: Sequence[tuple[float, int]]) -> int:
        """Line ``offset`` goes to each level at each monotonic time given (in order); the
        edges its request detects are queued. Returns how many were."""
        from tests.support.standin.gpiod import EdgeEvent, line

        with self._changed:
            request = self.requested.get(offset)
            if request is None:
                for _, level in changes:
                    self.level[offset] = level
                return 0
            settings = request.settings[offset]
            debounce = settings.debounce_period.total_seconds()
            reported: list[tuple[float, int]] = []
            if debounce == 0:
                before = self.level[offset]
                for when, level in changes:
                    if level != before:
                        reported.append((when, level))
                    before = level
            else:
                stable = self.level[offset]
                for n, (when, level) in enumerate(changes):
                    runs_out = when + debounce
                    quiet = n + 1 == len(changes) or changes[n + 1][0] >= runs_out
                    if quiet and level != stable:
                        reported.append((runs_out, level))
                        stable = level
            self.level[offset] = changes[-1][1] if changes else self.level[offset]
            edge = settings.edge_detection
            wanted = {
                line.Edge.RISING: {1},
                line.Edge.FALLING: {0},
                line.Edge.BOTH: {0, 1},
            }.get(edge, set())
            queued = 0
            for when, level in reported:
                if level not in wanted:
                    continue
                self._seqno[offset] += 1
                kind = EdgeEvent.Type.RISING_EDGE if level else EdgeEvent.Type.FALLING_EDGE
                seqno = self._seqno[offset]
                request.queue.append(EdgeEvent(kind, round(when * 1e9), offset, seqno, seqno))
                queued += 1
            self._changed.notify_all()
            return queued

    def wait(self, request: Request, seconds: float) -> bool:
        """Block up to ``seconds`` until ``request`` has an edge queued."""
        with self._changed:
            return self._changed.wait_for(lambda: bool(request.queue), timeout=seconds)

    def release(self, request: Request) -> None:
        """Give the request's lines back."""
        with self._changed:
            for offset in request.settings:
                if self.requested.get(offset) is request:
                    del self.requested[offset]
            self.released += 1
            self._changed.notify_all()


class Request:
    """A libgpiod v2 ``LineRequest`` on a ``TriggerBoard``."""

    def __init__(self, board: TriggerBoard, settings: dict[int, Any]) -> None:
        self.board = board
        self.settings = settings
        self.queue: deque[Any] = deque(maxlen=EVENTS_PER_LINE * len(settings))
        self._released = False

    def wait_edge_events(self, timeout: timedelta | float | None = None) -> bool:
        """Block until an edge is queued or ``timeout`` passes."""
        self._check()
        seconds = timeout.total_seconds() if isinstance(timeout, timedelta) else timeout
        return self.board.wait(self, 3600.0 if seconds is None else seconds)

    def read_edge_events(self, max_events: int | None = None) -> list[Any]:
        """The queued edges, oldest first."""
        self._check()
        with self.board._changed:
            count = len(self.queue) if max_events is None else min(max_events, len(self.queue))
            return [self.queue.popleft() for _ in range(count)]

    def release(self) -> None:
        """Give the lines back (again is harmless)."""
        if not self._released:
            self._released = True
            self.board.release(self)

    def _check(self) -> None:
        if self._released:
            raise OSError(errno.EBADF, "Bad file descriptor")


def install_trigger_board(monkeypatch: pytest.MonkeyPatch, board: TriggerBoard) -> None:
    """Make ``import gpiod`` give the stand-in wired to ``board``."""
    from tests.support.standin import gpiod
    from tests.support.standin.gpiod import line

    monkeypatch.setattr(gpiod, "BOARD", board)
    monkeypatch.setitem(sys.modules, "gpiod", gpiod)
    monkeypatch.setitem(sys.modules, "gpiod.line", line)


def levels(at: Iterable[float], width: float) -> list[tuple[float, int]]:
    """Clean pulses: high at each time of ``at`` for ``width`` seconds."""
    return [change for when in at for change in ((when, 1), (when + width, 0))]
