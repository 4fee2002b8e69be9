"""The ADS1299 register map and command set, shared by the driver and the emulator.

Addresses, reset values, read-only and fixed bits, opcodes, and pure functions that build
each register's value from settings and decode it back. Every figure comes from TI's
datasheet SBAS499 ("ADS1299 Low-Noise, 8-Channel, 24-Bit Analog Front-End for
Biopotential Measurements"), section 9.6 "Register Map" and 9.5 "SPI Command Definitions".
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Final

from eegd.sources.adc import ADS1299_GAINS, ADS1299_SAMPLE_RATES

__all__ = [
    "CHANNELS_PER_CHIP",
    "DATA_RATE_CODES",
    "EXPECTED_ID",
    "FCLK_HZ",
    "FIXED_BITS",
    "GAIN_CODES",
    "POWER_ON_RESET_S",
    "READ_ONLY_MASKS",
    "RESET_VALUES",
    "STATUS_PREFIX",
    "TCLK_S",
    "ChannelSetting",
    "Config3",
    "Input",
    "LeadOffCurrent",
    "LeadOffFrequency",
    "Opcode",
    "Register",
    "TestFrequency",
    "channel_register",
    "config1",
    "config2",
    "config3",
    "config4",
    "decode_chnset",
    "decode_config1",
    "decode_config2",
    "decode_config3",
    "decode_loff",
    "describe_id",
    "id_is_supported",
    "id_refusal",
    "lead_off_comparators_on",
    "encode_chnset",
    "loff",
    "misc1",
    "rreg",
    "srb1_enabled",
    "square_wave_amplitude_volts",
    "square_wave_frequency_hz",
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


# CONFIG1 -----------------------------------------------------------------------------

#: DR[2:0] of CONFIG1 for each output data rate: 000 is 16 kSPS, 110 is 250 SPS.
DATA_RATE_CODES: Final[dict[int, int]] = {
    rate: code for code, rate in enumerate(sorted(ADS1299_SAMPLE_RATES, reverse=True))
}
_RATE_OF_CODE = {code: rate for rate, code in DATA_RATE_CODES.items()}
_MULTIPLE_READBACK = 0x40  # DAISY_EN' = 1: multiple readback mode; 0: daisy chain
_CLK_EN = 0x20


def config1(sample_rate: int, daisy_chain: bool = True, clock_out: bool = False) -> int:
    """CONFIG1 for a data rate; ``daisy_chain`` clears DAISY_EN' (daisy-chain mode)."""
    code = DATA_RATE_CODES.get(sample_rate)
    if code is None:
        allowed = ", ".join(str(rate) for rate in ADS1299_SAMPLE_RATES)
        raise ValueError(f"sample_rate: {sample_rate} is not an ADS1299 rate (allowed: {allowed})")
    value = 0x90 | code
    if not daisy_chain:
        value |= _MULTIPLE_READBACK
    if clock_out:
        value |= _CLK_EN
    return value


def decode_config1(value: int) -> tuple[int | None, bool, bool]:
    """(sample rate or None for the reserved code 111, daisy chain, clock out)."""
    return (
        _RATE_OF_CODE.get(value & 0x07),
        not value & _MULTIPLE_READBACK,
        bool(value & _CLK_EN),
    )


# CONFIG2: the internal test signal ------------------------------------------------------


class TestFrequency(enum.StrEnum):
    """CAL_FREQ[1:0]: the test square wave at fCLK / 2**21 or fCLK / 2**20, or DC."""

    __test__ = False  # not a pytest test class despite the name

    SLOW = "slow"
    FAST = "fast"
    DC = "dc"


_CAL_FREQ = {TestFrequency.SLOW: 0b00, TestFrequency.FAST: 0b01, TestFrequency.DC: 0b11}
_INT_CAL = 0x10
_CAL_AMP = 0x04


def config2(
    amplitude: int = 1, frequency: TestFrequency = TestFrequency.SLOW, internal: bool = True
) -> int:
    """CONFIG2: test signal ``amplitude`` 1 or 2 × (VREFP − VREFN) / 2.4 mV, its frequency."""
    if amplitude not in (1, 2):
        raise ValueError(f"test signal amplitude: {amplitude} is not allowed (allowed: 1, 2)")
    value = 0xC0 | _CAL_FREQ[TestFrequency(frequency)]
    if amplitude == 2:
        value |= _CAL_AMP
    if internal:
        value |= _INT_CAL
    return value


def decode_config2(value: int) -> tuple[int, TestFrequency | None, bool]:
    """(amplitude 1 or 2, frequency or None for the reserved code 10, internal)."""
    frequency = next((f for f, code in _CAL_FREQ.items() if code == value & 0b11), None)
    return (2 if value & _CAL_AMP else 1, frequency, bool(value & _INT_CAL))


def square_wave_frequency_hz(frequency: TestFrequency) -> float:
    """The test square wave's frequency: ~0.98 Hz, ~1.95 Hz, or 0 for DC."""
    if frequency is TestFrequency.DC:
        return 0.0
    return FCLK_HZ / 2 ** (21 if frequency is TestFrequency.SLOW else 20)


def square_wave_amplitude_volts(amplitude: int, vref: float = 4.5) -> float:
    """The test signal's input-referred amplitude: ±``amplitude`` × vref / 2.4 mV."""
    return amplitude * vref / 2.4 * 1e-3


# CONFIG3: reference buffer and bias drive -------------------------------------------------

_PD_REFBUF = 0x80
_BIAS_MEAS = 0x10
_BIASREF_INT = 0x08
_PD_BIAS = 0x04
_BIAS_LOFF_SENS = 0x02


@dataclass(frozen=True, slots=True)
class Config3:
    """CONFIG3 decoded: each flag on means the function is powered or selected."""

    reference_buffer: bool
    bias_measure: bool
    bias_reference_internal: bool
    bias_buffer: bool
    bias_lead_off_sense: bool
    bias_lead_off: bool
    """BIAS_STAT (read-only): the bias electrode is off."""


def config3(
    reference_buffer: bool = True,
    bias_buffer: bool = True,
    bias_reference_internal: bool = True,
    bias_measure: bool = False,
    bias_lead_off_sense: bool = False,
) -> int:
    """CONFIG3: the internal reference buffer and the bias amplifier."""
    value = 0x60
    for flag, bit in (
        (reference_buffer, _PD_REFBUF),
        (bias_measure, _BIAS_MEAS),
        (bias_reference_internal, _BIASREF_INT),
        (bias_buffer, _PD_BIAS),
        (bias_lead_off_sense, _BIAS_LOFF_SENS),
    ):
        if flag:
            value |= bit
    return value


def decode_config3(value: int) -> Config3:
    """The flags of a CONFIG3 value."""
    return Config3(
        reference_buffer=bool(value & _PD_REFBUF),
        bias_measure=bool(value & _BIAS_MEAS),
        bias_reference_internal=bool(value & _BIASREF_INT),
        bias_buffer=bool(value & _PD_BIAS),
        bias_lead_off_sense=bool(value & _BIAS_LOFF_SENS),
        bias_lead_off=bool(value & 0x01),
    )


# LOFF: lead-off detection -------------------------------------------------------------------


class LeadOffCurrent(enum.IntEnum):
    """ILEAD_OFF[1:0], named by the excitation current in nA."""

    NA_6 = 6
    NA_24 = 24
    UA_6 = 6000
    UA_24 = 24000


class LeadOffFrequency(enum.StrEnum):
    """FLEAD_OFF[1:0]: DC, AC at 7.8 Hz or 31.2 Hz, or AC at a quarter of the data rate."""

    DC = "dc"
    AC_7_8 = "7.8"
    AC_31_2 = "31.2"
    AC_FDR_4 = "fdr/4"


_ILEAD = list(LeadOffCurrent)
_FLEAD = list(LeadOffFrequency)


def loff(
    current: LeadOffCurrent = LeadOffCurrent.NA_6,
    frequency: LeadOffFrequency = LeadOffFrequency.DC,
    comparator_threshold: int = 0,
) -> int:
    """LOFF: excitation current and frequency; threshold code 0 is 95 % (positive side)."""
    if not 0 <= comparator_threshold <= 7:
        raise ValueError(f"comparator threshold code {comparator_threshold} is not 0..7")
    return (
        comparator_threshold << 5
        | _ILEAD.index(LeadOffCurrent(current)) << 2
        | _FLEAD.index(LeadOffFrequency(frequency))
    )


def decode_loff(value: int) -> tuple[LeadOffCurrent, LeadOffFrequency, int]:
    """(current, frequency, comparator threshold code) of a LOFF value."""
    return _ILEAD[value >> 2 & 0b11], _FLEAD[value & 0b11], value >> 5


# CHnSET: per-channel gain and input ------------------------------------------------------


class Input(enum.IntEnum):
    """MUXn[2:0]: what a channel's PGA is connected to."""

    NORMAL = 0b000
    SHORTED = 0b001
    BIAS_MEASURE = 0b010
    SUPPLY = 0b011
    """MVDD: (AVDD − AVSS) / 2 for channels 1, 2, 5..8; DVDD / 4 for channels 3, 4."""
    TEMPERATURE = 0b100
    TEST = 0b101
    BIAS_DRIVE_P = 0b110
    BIAS_DRIVE_N = 0b111


#: GAINn[2:0] for each PGA gain; code 111 is reserved.
GAIN_CODES: Final[dict[int, int]] = {gain: code for code, gain in enumerate(ADS1299_GAINS)}
_GAIN_OF_CODE = {code: gain for gain, code in GAIN_CODES.items()}
_POWER_DOWN = 0x80
_SRB2 = 0x08


@dataclass(frozen=True, slots=True)
class ChannelSetting:
    """One CHnSET decoded; ``gain`` is None for the reserved code 111."""

    gain: int | None
    input: Input
    power_down: bool = False
    srb2: bool = False


def encode_chnset(setting: ChannelSetting) -> int:
    """The CHnSET value of a channel setting."""
    if setting.gain not in GAIN_CODES:
        allowed = ", ".join(str(gain) for gain in ADS1299_GAINS)
        raise ValueError(f"gain: {setting.gain} is not an ADS1299 gain (allowed: {allowed})")
    value = GAIN_CODES[setting.gain] << 4 | Input(setting.input)
    if setting.power_down:
        value |= _POWER_DOWN
    if setting.srb2:
        value |= _SRB2
    return value


def decode_chnset(value: int) -> ChannelSetting:
    """The channel setting a CHnSET value holds."""
    return ChannelSetting(
        gain=_GAIN_OF_CODE.get(value >> 4 & 0b111),
        input=Input(value & 0b111),
        power_down=bool(value & _POWER_DOWN),
        srb2=bool(value & _SRB2),
    )


# MISC1, CONFIG4 ----------------------------------------------------------------------------

_SRB1 = 0x20
_SINGLE_SHOT = 0x08
_PD_LOFF_COMP = 0x02


def misc1(srb1: bool) -> int:
    """MISC1: SRB1 on connects every channel's negative input to the SRB1 pin."""
    return _SRB1 if srb1 else 0x00


def config4(lead_off_comparators: bool, single_shot: bool = False) -> int:
    """CONFIG4: the lead-off comparators (PD_LOFF_COMP') and single-shot conversion."""
    return (_PD_LOFF_COMP if lead_off_comparators else 0) | (_SINGLE_SHOT if single_shot else 0)


def srb1_enabled(misc1_value: int) -> bool:
    """Whether MISC1 connects the negative inputs to SRB1."""
    return bool(misc1_value & _SRB1)


def lead_off_comparators_on(config4_value: int) -> bool:
    """Whether CONFIG4 powers the lead-off comparators."""
    return bool(config4_value & _PD_LOFF_COMP)
