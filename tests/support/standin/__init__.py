"""Stand-in ``spidev`` and ``gpiod`` (libgpiod v2) modules wired to a held-out chip model.

``SeedBoard`` is the seed's board: one ADS1299 (``tests.support.ads1299_model``) on
``/dev/spidev0.0`` with DRDY on GPIO25 of ``/dev/gpiochip0``, nothing else wired.
``install(monkeypatch, board)`` puts the stand-in modules where ``import spidev`` and
``import gpiod`` find them, so eegd's real hardware adapter talks to the model.

The modules follow the real packages' public API: python-spidev's ``SpiDev`` (``open``,
``mode``, ``bits_per_word``, ``max_speed_hz``, ``xfer2(values, speed_hz, delay_usecs)``,
``close``) and libgpiod v2's ``request_lines`` with ``LineSettings``, ``LineRequest``
(``set_value``, ``wait_edge_events``, ``read_edge_events``, ``release``) and ``EdgeEvent``
(``line_offset``, ``line_seqno``, ``timestamp_ns``). Each edge is stamped on the model's
clock and sequence numbers count every edge, as the kernel's do, also those that
overflowed its 16-event buffer.
"""

from __future__ import annotations

import sys
from collections import deque
from dataclasses import dataclass

import pytest

from tests.support.ads1299_model import ADS1299Model, ModelClock

__all__ = ["EdgeRecord", "SeedBoard", "install"]

KERNEL_EVENT_BUFFER = 16


@dataclass(frozen=True)
class EdgeRecord:
    """One falling edge as the kernel queued it."""

    line: int
    seqno: int
    timestamp_ns: int


class SeedBoard:
    """The seed's wiring around one model chip: CS on CE0, DRDY on GPIO25, nothing else.

    ``start_line`` wires the chip's START pin to that GPIO line too (as the ``hat`` board
    does); otherwise the board holds START low.
    """

    SPI = (0, 0)
    GPIOCHIP = "/dev/gpiochip0"
    DRDY = 25

    def __init__(self, seed: int = 1, start_line: int | None = None) -> None:
        self.start_line = start_line
        self.clock = ModelClock()
        self.chip = ADS1299Model(self.clock, seed)
        self.edges: deque[EdgeRecord] = deque(maxlen=KERNEL_EVENT_BUFFER)
        self.seqno = 0
        self.watching = False
        self.requested: set[int] = set()
        self.driven: dict[int, int] = {}
        self.transfer_delay_s = 0.0
        """Extra time the next transfer takes (a host stalled mid-read)."""
        self.host_cost_s = 0.0
        """Extra time every frame read takes (a host too slow for the rate)."""
        self.spi_open = False
        self.spurious_wakeups = 0
        """Waits that return at once with no edge queued (a wake-up without an event)."""
        self.clock.listeners.append(self._time_passes)

    def _time_passes(self, now: float) -> None:
        chip = self.chip
        done = chip.conversions_done(now)
        for k in range(chip.conversions_taken + 1, done + 1):
            self.seqno += 1
            if self.watching:
                when = round(chip.conversion_time(k) * 1e9)
                self.edges.append(EdgeRecord(self.DRDY, self.seqno, when))
        chip.conversions_taken = max(chip.conversions_taken, done)

    def transfer(self, mosi: bytes, speed_hz: float, delay_usecs: int) -> bytes:
        """CS low, the bytes on the wire at ``speed_hz``, CS high ``delay_usecs`` later."""
        self._time_passes(self.clock.now)
        miso = self.chip.transfer(mosi, speed_hz, delay_usecs * 1e-6)
        stall, self.transfer_delay_s = self.transfer_delay_s + self.host_cost_s, 0.0
        self.clock.sleep(8 * len(mosi) / speed_hz + delay_usecs * 1e-6 + stall)
        return miso

    def drive(self, line: int, value: int) -> None:
        """The host drives an output line; only a wired START reaches the chip."""
        self.driven[line] = value
        if line == self.start_line:
            self._time_passes(self.clock.now)
            self.chip.start_pin = bool(value)
            self.chip.refresh()

    def next_edge_time(self) -> float | None:
        """When DRDY falls next, or None while the chip does not convert."""
        chip = self.chip
        if chip.converting_since is None:
            return None
        return chip.conversion_time(chip.conversions_taken + 1)


def install(monkeypatch: pytest.MonkeyPatch, board: SeedBoard) -> None:
    """Make ``import spidev`` and ``import gpiod`` give the stand-ins wired to ``board``."""
    from tests.support.standin import gpiod, spidev
    from tests.support.standin.gpiod import line

    monkeypatch.setattr(spidev, "BOARD", board)
    monkeypatch.setattr(gpiod, "BOARD", board)
    monkeypatch.setitem(sys.modules, "spidev", spidev)
    monkeypatch.setitem(sys.modules, "gpiod", gpiod)
    monkeypatch.setitem(sys.modules, "gpiod.line", line)
