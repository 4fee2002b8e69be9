"""Stand-in ``spidev`` and ``gpiod`` (libgpiod v2) modules wired to a held-out chip model.

``SeedBoard`` is the seed's board: one ADS1299 (``tests.support.ads1299_model``) on
``/dev/spidev0.0`` with DRDY on GPIO25 of ``/dev/gpiochip0``, nothing else wired;
``PiEEG16Board`` two chips, each on its own chip select and DRDY.
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

__all__ = ["EdgeRecord", "ModelBoard", "PiEEG16Board", "SeedBoard", "Slot", "install"]

KERNEL_EVENT_BUFFER = 16


@dataclass(frozen=True)
class EdgeRecord:
    """One falling edge as the kernel queued it."""

    line: int
    seqno: int
    timestamp_ns: int


@dataclass
class Slot:
    """One chip on the board: the spidev device whose CE selects it or a GPIO CS, its DRDY."""

    chip: ADS1299Model
    device: tuple[int, int]
    drdy: int
    cs_gpio: int | None = None
    seqno: int = 0


class ModelBoard:
    """Model chips wired to a Pi: each on its own chip select and DRDY (multiple readback).

    A chip with ``cs_gpio`` is selected while that line is low, whatever spidev device
    the transfer goes through; the others by their device's CE. Two chips selected at
    once drive DOUT against each other: ``contention`` counts it. ``start_line`` wires
    every chip's START pin to that GPIO line; otherwise the board holds START low.
    """

    GPIOCHIP = "/dev/gpiochip0"

    def __init__(
        self,
        wiring: list[tuple[tuple[int, int], int, int | None]],
        devices: set[tuple[int, int]],
        seed: int = 1,
        start_line: int | None = None,
    ) -> None:
        self.start_line = start_line
        self.devices = devices
        self.clock = ModelClock()
        self.slots = [
            Slot(ADS1299Model(self.clock, seed + n), device, drdy, cs)
            for n, (device, drdy, cs) in enumerate(wiring)
        ]
        self.chip = self.slots[0].chip
        self.drdy_lines = {slot.drdy for slot in self.slots}
        self.edges: deque[EdgeRecord] = deque(maxlen=KERNEL_EVENT_BUFFER * len(self.slots))
        self.watching = False
        self.requested: set[int] = set()
        self.driven: dict[int, int] = {}
        self.contention = 0
        self.transfer_delay_s = 0.0
        """Extra time the next transfer takes (a host stalled mid-read)."""
        self.host_cost_s = 0.0
        """Extra time every frame read takes (a host too slow for the rate)."""
        self.spi_open = 0
        self.spurious_wakeups = 0
        """Waits that return at once with no edge queued (a wake-up without an event)."""
        self.clock.listeners.append(self._time_passes)

    def _time_passes(self, now: float) -> None:
        fresh = []
        for slot in self.slots:
            chip = slot.chip
            done = chip.conversions_done(now)
            for k in range(chip.conversions_taken + 1, done + 1):
                slot.seqno += 1
                if self.watching:
                    when = round(chip.conversion_time(k) * 1e9)
                    fresh.append(EdgeRecord(slot.drdy, slot.seqno, when))
            chip.conversions_taken = max(chip.conversions_taken, done)
        self.edges.extend(sorted(fresh, key=lambda edge: edge.timestamp_ns))

    def _selected(self, device: tuple[int, int]) -> list[Slot]:
        return [
            slot
            for slot in self.slots
            if (slot.cs_gpio is None and slot.device == device)
            or (slot.cs_gpio is not None and self.driven.get(slot.cs_gpio, 1) == 0)
        ]

    def transfer(
        self, device: tuple[int, int], mosi: bytes, speed_hz: float, delay_usecs: int
    ) -> bytes:
        """CS low, the bytes on the wire at ``speed_hz``, CS high ``delay_usecs`` later."""
        self._time_passes(self.clock.now)
        selected = self._selected(device)
        miso = bytes(len(mosi))
        if len(selected) > 1:
            self.contention += 1
        for slot in selected:
            miso = slot.chip.transfer(mosi, speed_hz, delay_usecs * 1e-6)
        stall, self.transfer_delay_s = self.transfer_delay_s + self.host_cost_s, 0.0
        self.clock.sleep(8 * len(mosi) / speed_hz + delay_usecs * 1e-6 + stall)
        return miso

    def drive(self, line: int, value: int) -> None:
        """The host drives an output line: a wired START or a GPIO chip select."""
        self.driven[line] = value
        if line == self.start_line:
            self._time_passes(self.clock.now)
            for slot in self.slots:
                slot.chip.start_pin = bool(value)
                slot.chip.refresh()

    def next_edge_time(self) -> float | None:
        """When a DRDY falls next, or None while no chip converts."""
        times = [
            slot.chip.conversion_time(slot.chip.conversions_taken + 1)
            for slot in self.slots
            if slot.chip.converting_since is not None
        ]
        return min(times, default=None)


class SeedBoard(ModelBoard):
    """The seed's board: one chip, CS on CE0 (``/dev/spidev0.0``), DRDY on GPIO25."""

    def __init__(self, seed: int = 1, start_line: int | None = None) -> None:
        super().__init__([((0, 0), 25, None)], {(0, 0)}, seed, start_line)


class PiEEG16Board(ModelBoard):
    """PiEEG-16: chip 1 on CE0 with DRDY on GPIO26, chip 2 selected by GPIO19, DRDY GPIO13.

    Both spidev devices exist; no chip listens to CE1 (GPIO7).
    """

    def __init__(self, seed: int = 1) -> None:
        super().__init__([((0, 0), 26, None), ((0, 1), 13, 19)], {(0, 0), (0, 1)}, seed)


def install(monkeypatch: pytest.MonkeyPatch, board: ModelBoard) -> None:
    """Make ``import spidev`` and ``import gpiod`` give the stand-ins wired to ``board``."""
    from tests.support.standin import gpiod, spidev
    from tests.support.standin.gpiod import line

    monkeypatch.setattr(spidev, "BOARD", board)
    monkeypatch.setattr(gpiod, "BOARD", board)
    monkeypatch.setitem(sys.modules, "spidev", spidev)
    monkeypatch.setitem(sys.modules, "gpiod", gpiod)
    monkeypatch.setitem(sys.modules, "gpiod.line", line)
