"""The command side of a set of ADS1299s: opcodes, register reads and writes, the start-up flow.

``ChipCommands`` speaks to every chip select of a ``Hardware``: a command goes to each
(one transfer per chip select), register reads to one. ``configure`` is SBAS499's
"Initial Flow at Power-Up" after the power-up wait: a reset (the RESET pin, or the RESET
opcode where the board does not wire it), SDATAC (and STOP where START is not wired),
every chip's ID, CONFIG3 and the reference's settling time, the other registers, a full
read-back, stale DRDY edges forgotten, then START (pin or opcode) and RDATAC.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from eegd.errors import SourceError
from eegd.sources.ads1299.gpio_inputs import gpio_echo
from eegd.sources.ads1299.interface import Hardware
from eegd.sources.ads1299.registers import (
    POWER_ON_RESET_S,
    READ_ONLY_MASKS,
    TCLK_S,
    Opcode,
    Register,
    id_refusal,
    rreg,
    wreg,
)
from eegd.sources.ads1299.settings import ADS1299Settings

__all__ = ["COMMAND_SPEED_HZ", "POWER_UP_S", "ChipCommands"]

#: SCLK for commands: a byte must take at least 4 tCLK (~1.95 µs) for the chip to decode.
COMMAND_SPEED_HZ: Final = 2_000_000
#: The wait after power-up before the first reset: tPOR with a margin.
POWER_UP_S: Final = POWER_ON_RESET_S * 1.2
_RESET_PULSE_S = 4 * TCLK_S
_AFTER_RESET_S = 24 * TCLK_S  # the datasheet asks for 18 tCLK
_REFERENCE_SETTLE_S = 0.15  # internal reference start-up (SBAS499: ~150 ms)
_WRITTEN = (
    (Register.CONFIG1, Register.LOFF_FLIP),
    (Register.GPIO, Register.CONFIG4),
)


class ChipCommands:
    """Commands and register access for the chips behind ``hw``, configured as ``registers``."""

    def __init__(
        self, hw: Hardware, settings: ADS1299Settings, registers: Mapping[Register, int]
    ) -> None:
        self._hw, self._settings, self._registers = hw, settings, registers
        echo_mask, _ = gpio_echo(settings.echo_pins)
        self._checked_bits = {
            register: ~READ_ONLY_MASKS.get(register, 0) & 0xFF for register in registers
        }
        # GPIO: the control bits, and the data bits of the pins eegd drives (inputs read pins)
        self._checked_bits[Register.GPIO] = 0x0F | echo_mask << 4

    def configure(self) -> list[int]:
        """Reset, check every chip's ID, write and verify the registers, start; the IDs."""
        hw = self._hw
        settings, lines, clock = self._settings, hw.lines, hw.clock
        if settings.start_gpio is not None:
            lines.set_start(False)
        if settings.reset_gpio is not None:
            lines.set_reset(False)
            clock.sleep(_RESET_PULSE_S)
            lines.set_reset(True)
        else:
            self.command(Opcode.RESET)
        clock.sleep(_AFTER_RESET_S)
        self.command(Opcode.SDATAC)
        if settings.start_gpio is None:
            self.command(Opcode.STOP)
        chip_ids = [self.read_registers(Register.ID, 1, chip)[0] for chip in range(len(hw.spi))]
        for chip, chip_id in enumerate(chip_ids):
            refusal = id_refusal(chip_id)
            if refusal is not None:
                raise SourceError(f"ADS1299 chip {chip + 1}: the ID register reads {refusal}")
        self.write_registers(Register.CONFIG3, bytes((self._registers[Register.CONFIG3],)))
        clock.sleep(_REFERENCE_SETTLE_S)
        for first, last in _WRITTEN:
            values = bytes(self._registers[Register(r)] for r in range(first, last + 1))
            self.write_registers(first, values)
        for chip in range(len(hw.spi)):
            wrong = self.wrong_registers(chip)
            if wrong:
                raise SourceError(
                    f"ADS1299 chip {chip + 1} register read-back mismatch: " + "; ".join(wrong)
                )
        lines.drain()
        if settings.start_gpio is not None:
            lines.set_start(True)
        else:
            self.command(Opcode.START)
        self.command(Opcode.RDATAC)
        return chip_ids

    def command(self, *data: int) -> None:
        """Send a command to every chip: one transfer per chip select."""
        for spi in self._hw.spi:
            spi.transfer(bytes(data), COMMAND_SPEED_HZ)

    def read_registers(self, first: Register, count: int, chip: int = 0) -> bytes:
        spi = self._hw.spi[chip]
        """``count`` registers of chip ``chip`` from ``first`` on (SDATAC mode)."""
        return spi.transfer(rreg(first, count) + bytes(count), COMMAND_SPEED_HZ)[2:]

    def write_registers(self, first: Register, values: bytes) -> None:
        """Write consecutive registers of every chip."""
        self.command(*wreg(first, values))

    def wrong_registers(self, chip: int) -> list[str]:
        """Read the chip's whole map back (SDATAC mode); each written bit that is not there."""
        readback = self.read_registers(Register.ID, len(Register), chip)
        wrong = []
        for register, wanted in self._registers.items():
            mask = self._checked_bits.get(register, 0xFF)
            got = readback[register]
            if got & mask != wanted & mask:
                wrong.append(f"{register.name} wrote 0x{wanted:02X}, read 0x{got:02X}")
        return wrong

    def stop(self) -> None:
        """Leave continuous mode and stop converting: SDATAC, then STOP or START low."""
        self.command(Opcode.SDATAC)
        if self._settings.start_gpio is None:
            self.command(Opcode.STOP)
        else:
            self._hw.lines.set_start(False)
