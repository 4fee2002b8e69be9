"""The small SPI and GPIO interface the driver talks to, and the virtual clock of the emulator.

Both the real adapters (``eegd.sources.ads1299.hardware``: spidev and gpiod) and the chip
emulator implement it, so the driver cannot tell them apart. ``Hardware`` bundles the SPI
device of each chip select (one for a daisy chain, one per chip in multiple readback), the
control lines and the clock the driver waits on: the system clock for a chip, the
emulator's own sample clock otherwise. DRDY edges carry the time they fell on that clock.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import NamedTuple, Protocol

from eegd.clock import BlockingClock

__all__ = ["NO_EDGE", "ControlLines", "DrdyEdges", "Hardware", "SpiDevice", "VirtualClock"]


class DrdyEdges(NamedTuple):
    """Falling DRDY edges since the last wait, and when the newest fell (hardware clock, s)."""

    edges: int
    fell_s: float


#: What a wait that timed out returns.
NO_EDGE = DrdyEdges(0, 0.0)


class SpiDevice(Protocol):
    """One SPI chip select, mode 1 (CPOL 0, CPHA 1), MSB first."""

    def transfer(self, data: bytes, speed_hz: int | None = None) -> bytes:
        """Clock ``data`` out on MOSI with CS held low; return as many bytes read on MISO.

        ``speed_hz`` overrides the device's clock for this transfer. Raises ``OSError``
        as spidev does when the transfer fails.
        """

    def close(self) -> None:
        """Release the device."""


class ControlLines(Protocol):
    """The chip's GPIO lines: START, RESET and PWDN outputs, the DRDY input(s).

    The driver drives only the outputs the board wires (the settings say which).
    """

    def set_start(self, high: bool) -> None:
        """Drive START: high starts conversions, low stops them."""

    def set_reset(self, high: bool) -> None:
        """Drive RESET (active low)."""

    def set_pwdn(self, high: bool) -> None:
        """Drive PWDN (active low): low powers the chip down."""

    def wait_drdy(self, timeout: float, chip: int = 0) -> DrdyEdges:
        """Wait for chip ``chip``'s DRDY to fall; the falling edges since the last wait.

        A count above one means conversions were missed (the chip overwrote them).
        Returns ``NO_EDGE`` when ``timeout`` seconds pass without one.
        """

    def drain(self) -> None:
        """Forget every DRDY edge already seen (stale ones, before START)."""

    def close(self) -> None:
        """Release the lines (outputs return to inputs)."""


@dataclass(frozen=True, slots=True)
class Hardware:
    """What the driver needs: an SPI device per chip select, the control lines, the clock."""

    spi: tuple[SpiDevice, ...]
    lines: ControlLines
    clock: BlockingClock


class VirtualClock:
    """A blocking clock whose ``sleep`` advances time instantly: tests run at CPU speed.

    With ``realtime`` on, it still advances by exactly what was asked but holds the caller
    back whenever virtual time runs more than ``slack`` seconds ahead of real time, so an
    emulated source streams in real time without ever missing a virtual deadline.
    """

    def __init__(self, start: float = 0.0, realtime: bool = False, slack: float = 0.005) -> None:
        self._now = start
        self._realtime = realtime
        self._slack = slack
        self._origin = time.monotonic() - start

    def monotonic(self) -> float:
        """Virtual seconds."""
        return self._now

    def sleep(self, seconds: float) -> None:
        """Advance virtual time by ``seconds`` (and, in real time, wait for it if far ahead)."""
        if seconds > 0:
            self._now += seconds
        if self._realtime:
            ahead = self._now - (time.monotonic() - self._origin)
            if ahead > self._slack:
                time.sleep(ahead)

    def __repr__(self) -> str:
        return f"VirtualClock(now={self._now!r}, realtime={self._realtime!r})"
