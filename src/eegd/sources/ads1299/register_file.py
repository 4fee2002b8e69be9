"""The register maps of an emulated ADS1299 chain as writes and resets leave them (SBAS499,
section 9.6 "Register Map"): reset values, read-only bits a WREG cannot change, and
reserved bits that always read as the datasheet says to write them."""

from __future__ import annotations

from collections.abc import Sequence

from eegd.sources.ads1299.registers import FIXED_BITS, READ_ONLY_MASKS, RESET_VALUES, Register

__all__ = ["RegisterFile"]

_REGISTER_COUNT = len(Register)


class RegisterFile:
    """One register map a chip of a chain of ``chips``; ``file[chip][register]`` reads."""

    def __init__(self, chips: int) -> None:
        self._maps = [bytearray(_REGISTER_COUNT) for _ in range(chips)]

    def __getitem__(self, chip: int) -> bytearray:
        return self._maps[chip]

    @property
    def maps(self) -> Sequence[bytearray]:
        """Every chip's register map, chip 1's first."""
        return self._maps

    def reset(self, chip: int | None = None) -> None:
        """Chip ``chip``'s registers (every chip's with None) back to their reset values."""
        for values in self._maps if chip is None else (self._maps[chip],):
            for register, value in RESET_VALUES.items():
                values[register] = value

    def write(self, address: int, values: bytes) -> None:
        """A WREG of ``values`` from ``address`` on, to every chip (they share DIN)."""
        for offset, value in enumerate(values):
            register = address + offset
            if register >= _REGISTER_COUNT:
                break
            for chip in self._maps:
                read_only = READ_ONLY_MASKS.get(Register(register), 0)
                value = (chip[register] & read_only) | (value & ~read_only & 0xFF)
                fixed_mask, fixed_value = FIXED_BITS.get(Register(register), (0, 0))
                chip[register] = (value & ~fixed_mask) | fixed_value
