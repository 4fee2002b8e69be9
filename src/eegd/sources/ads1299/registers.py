"""The ADS1299 register map and command set, shared by the driver and the emulator.

Addresses, reset values, read-only and fixed bits, opcodes, the register read and write
commands, and what the ID register says; ``fields`` builds each register's value from
settings and decodes it back. Every figure comes from TI's datasheet SBAS499 ("ADS1299
Low-Noise, 8-Channel, 24-Bit Analog Front-End for Biopotential Measurements"), section 9.6
"Register Map" and 9.5 "SPI Command Definitions".
"""

from __future__ import annotations

import enum
from typing import Final

__all__ = [
    "CHANNELS_PER_CHIP",
    "EXPECTED_ID",
    "FCLK_HZ",
    "FIXED_BITS",
    "POWER_ON_RESET_S",
    "READ_ONLY_MASKS",
    "RESET_VALUES",
    "STATUS_PREFIX",
    "TCLK_S",
    "Opcode",
    "Register",
    "channel_register",
    "describe_id",
    "id_is_supported",
    "id_refusal",
    "rreg",
    "wreg",
]

#: Channels of one ADS1299 (the 8-channel part; the -4 and -6 variants are not supported).
CHANNELS_PER_CHIP: Final = 8

#: The master clock (internal oscillator, CLKSEL = 1), and one period of it.
FCLK_HZ: Final = 2_048_000
TCLK_S: Final = 1 / FCLK_HZ

#: tPOR: the wait after power-up before the chip takes a reset (2**18 tCLK, ~128 ms).
POWER_ON_RESET_S: Final = 2**18 * TCLK_S

#: The top four bits of every chip's 24-bit status word.
STATUS_PREFIX: Final = 0b1100


class Register(enum.IntEnum):
    """Register addresses (SBAS499 Table "Register Assignments")."""

    ID = 0x00
    CONFIG1 = 0x01
    CONFIG2 = 0x02
    CONFIG3 = 0x03
    LOFF = 0x04
    CH1SET = 0x05
    CH2SET = 0x06
    CH3SET = 0x07
    CH4SET = 0x08
    CH5SET = 0x09
    CH6SET = 0x0A
    CH7SET = 0x0B
    CH8SET = 0x0C
    BIAS_SENSP = 0x0D
    BIAS_SENSN = 0x0E
    LOFF_SENSP = 0x0F
    LOFF_SENSN = 0x10
    LOFF_FLIP = 0x11
    LOFF_STATP = 0x12
    LOFF_STATN = 0x13
    GPIO = 0x14
    MISC1 = 0x15
    MISC2 = 0x16
    CONFIG4 = 0x17


#: The ID an 8-channel ADS1299 reads (revision bits 001); only bits 4..0 are checked.
EXPECTED_ID: Final = 0x3E
_ID_FAMILY_MASK: Final = 0x1F
_ID_CHANNELS = {0b00: 4, 0b01: 6, 0b10: 8}

#: Register values after power-up or RESET; the ID is the chip's own.
RESET_VALUES: Final[dict[Register, int]] = {
    Register.ID: EXPECTED_ID,
    Register.CONFIG1: 0x96,
    Register.CONFIG2: 0xC0,
    Register.CONFIG3: 0x60,
    Register.LOFF: 0x00,
    **{Register(Register.CH1SET + i): 0x61 for i in range(CHANNELS_PER_CHIP)},
    Register.BIAS_SENSP: 0x00,
    Register.BIAS_SENSN: 0x00,
    Register.LOFF_SENSP: 0x00,
    Register.LOFF_SENSN: 0x00,
    Register.LOFF_FLIP: 0x00,
    Register.LOFF_STATP: 0x00,
    Register.LOFF_STATN: 0x00,
    Register.GPIO: 0x0F,
    Register.MISC1: 0x00,
    Register.MISC2: 0x00,
    Register.CONFIG4: 0x00,
}

#: Bits a WREG cannot change: the whole ID and lead-off status, CONFIG3's BIAS_STAT.
READ_ONLY_MASKS: Final[dict[Register, int]] = {
    Register.ID: 0xFF,
    Register.CONFIG3: 0x01,
    Register.LOFF_STATP: 0xFF,
    Register.LOFF_STATN: 0xFF,
}

#: Reserved bits the datasheet says to always write as shown: (mask, value).
FIXED_BITS: Final[dict[Register, tuple[int, int]]] = {
    Register.CONFIG1: (0x98, 0x90),  # bit 7 = 1, bits 4:3 = 10
    Register.CONFIG2: (0xE8, 0xC0),  # bits 7:5 = 110, bit 3 = 0
    Register.CONFIG3: (0x60, 0x60),  # bits 6:5 = 11
    Register.LOFF: (0x10, 0x00),
    Register.MISC1: (0xDF, 0x00),  # only SRB1 (bit 5) is defined
    Register.MISC2: (0xFF, 0x00),
    Register.CONFIG4: (0xF5, 0x00),  # SINGLE_SHOT (bit 3) and PD_LOFF_COMP (bit 1)
}


class Opcode(enum.IntEnum):
    """SPI command opcodes (SBAS499 Table "Command Definitions")."""

    WAKEUP = 0x02
    STANDBY = 0x04
    RESET = 0x06
    START = 0x08
    STOP = 0x0A
    RDATAC = 0x10
    SDATAC = 0x11
    RDATA = 0x12
    RREG = 0x20
    WREG = 0x40


def rreg(address: Register, count: int = 1) -> bytes:
    """The two command bytes that read ``count`` registers from ``address`` on."""
    _check_span(address, count)
    return bytes((Opcode.RREG | address, count - 1))


def wreg(address: Register, values: bytes) -> bytes:
    """The command bytes that write ``values`` to consecutive registers from ``address``."""
    _check_span(address, len(values))
    return bytes((Opcode.WREG | address, len(values) - 1)) + values


def _check_span(address: Register, count: int) -> None:
    if not 1 <= count <= len(Register) - address:
        raise ValueError(f"{count} registers from 0x{address:02X} run past CONFIG4 (0x17)")


def channel_register(channel: int) -> Register:
    """CHnSET of channel ``channel`` (0-based within a chip)."""
    if not 0 <= channel < CHANNELS_PER_CHIP:
        raise ValueError(f"channel: {channel} is out of range (allowed: 0..7)")
    return Register(Register.CH1SET + channel)


def describe_id(value: int) -> str:
    """What an ID register value says about the chip on the bus, for error messages."""
    if value in (0x00, 0xFF):
        return (
            f"0x{value:02X}: no chip answers (check the SPI wiring, power, "
            "and that RESET and PWDN are high)"
        )
    if value & 0x1C != 0x1C:
        return f"0x{value:02X}: not an ADS1299 (device bits {value >> 2 & 0b11:02b}, want 11)"
    channels = _ID_CHANNELS.get(value & 0b11)
    if channels is None:
        return f"0x{value:02X}: an ADS1299 with an unknown channel count"
    name = "ADS1299" if channels == 8 else f"ADS1299-{channels}"
    return f"0x{value:02X}: {name} ({channels} channels), revision {value >> 5}"


def id_is_supported(value: int) -> bool:
    """Whether the ID is an 8-channel ADS1299 of any silicon revision."""
    return value & _ID_FAMILY_MASK == EXPECTED_ID & _ID_FAMILY_MASK


def id_refusal(value: int) -> str | None:
    """Why eegd will not read the chip with this ID, naming the part; None for an ADS1299."""
    if id_is_supported(value):
        return None
    described = describe_id(value)
    if value & 0x1C == 0x1C and _ID_CHANNELS.get(value & 0b11) in (4, 6):
        return (
            f"{described}: eegd reads the 8-channel ADS1299 only (the ADS1299-4 and "
            "ADS1299-6 shift shorter frames out)"
        )
    return described
