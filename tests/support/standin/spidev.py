"""Stand-in for python-spidev: ``SpiDev`` on the board ``tests.support.standin`` wires."""

from __future__ import annotations

import errno
from typing import Any

BOARD: Any = None


class SpiDev:
    """``/dev/spidev<bus>.<device>``; only the board's own device exists."""

    def __init__(self) -> None:
        self.mode = 0
        self.bits_per_word = 8
        self.max_speed_hz = 0
        self._open = False
        self._device = (-1, -1)

    def open(self, bus: int, device: int) -> None:
        """Open the device node, as spidev does (``OSError`` when there is none)."""
        if BOARD is None or (bus, device) not in BOARD.devices:
            raise FileNotFoundError(errno.ENOENT, "No such file or directory")
        self._open = True
        self._device = (bus, device)
        BOARD.spi_open += 1

    def xfer2(
        self, values: list[int], speed_hz: int = 0, delay_usecs: int = 0, bits_per_word: int = 0
    ) -> list[int]:
        """One transfer with CS held low throughout."""
        if not self._open:
            raise OSError(errno.EBADF, "Bad file descriptor")
        if self.mode != 0b01 or (bits_per_word or self.bits_per_word) != 8:
            raise AssertionError("the ADS1299 speaks SPI mode 1 with 8-bit words")
        speed = speed_hz or self.max_speed_hz
        return list(BOARD.transfer(self._device, bytes(values), speed, delay_usecs))

    def close(self) -> None:
        """Close the node."""
        if self._open:
            BOARD.spi_open -= 1
        self._open = False
