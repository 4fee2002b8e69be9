"""Faults the ADS1299 emulator injects (``ADS1299Emulator.faults``), and how they change
what the chip does: a wrong ID, stuck DRDY, corrupted status prefixes, a bit flip in the
data, lost register writes, and SPI transfers that raise ``OSError`` as spidev does.

The emulator reads the flags where the chip would act on them; the faults that change a
transfer or a frame are applied here (``transfer``, ``corrupt``), each counted down or
cleared as it takes effect.
"""

from __future__ import annotations

import errno
from dataclasses import dataclass, field

from eegd.sources.ads1299.dout import FRAME_PER_CHIP
from eegd.sources.ads1299.registers import CHANNELS_PER_CHIP

__all__ = ["Faults"]


@dataclass
class Faults:
    """Faults to inject; each takes effect at the next transfer or DRDY wait."""

    chip_id: int | None = None
    """The ID register reads this instead of 0x3E (0x00 or 0xFF: nothing on the bus)."""
    stuck_drdy: bool = False
    """DRDY never falls again."""
    bad_status_frames: int = 0
    """The next this many frames carry a corrupted status prefix (on ``bad_status_chip``)."""
    bad_status_chip: int = 0
    bit_flips: list[tuple[int, int]] = field(default_factory=list)
    """(channel, bit 0..23) pairs flipped in the next frame only."""
    ignore_writes: bool = False
    """WREG never arrives (DIN not connected): registers keep their values."""
    spi_error_after: int | None = None
    """Transfers that still succeed before every further one raises ``OSError`` (EIO)."""

    def transfer(self) -> None:
        """Count one SPI transfer; ``OSError`` (EIO) once ``spi_error_after`` have succeeded."""
        if self.spi_error_after is not None:
            if self.spi_error_after <= 0:
                raise OSError(errno.EIO, "Input/output error")
            self.spi_error_after -= 1

    def corrupt(self, clean: bytes) -> bytes:
        """``clean``, the chain's frame, with the pending status and bit faults applied."""
        if not self.bad_status_frames and not self.bit_flips:
            return clean
        frame = bytearray(clean)
        if self.bad_status_frames:
            self.bad_status_frames -= 1
            frame[self.bad_status_chip * FRAME_PER_CHIP] ^= 0xF0
        for channel, bit in self.bit_flips:
            chip, position = divmod(channel, CHANNELS_PER_CHIP)
            byte = chip * FRAME_PER_CHIP + 3 + 3 * position + 2 - bit // 8
            frame[byte] ^= 1 << (bit % 8)
        self.bit_flips = []
        return bytes(frame)
