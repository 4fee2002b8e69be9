"""The ADS1299's register fields: pure functions that build each register's value from
settings and decode it back (CONFIG1 to CONFIG4, LOFF, CHnSET, MISC1). Every bit comes from
TI's datasheet SBAS499, section 9.6 "Register Map"; ``registers`` has the addresses.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Final

from eegd.sources.adc import ADS1299_GAINS, ADS1299_SAMPLE_RATES
from eegd.sources.ads1299.registers import FCLK_HZ

__all__ = [
    "DATA_RATE_CODES",
    "GAIN_CODES",
    "ChannelSetting",
    "Config3",
    "Input",
    "LeadOffCurrent",
    "LeadOffFrequency",
    "TestFrequency",
    "config1",
    "config2",
    "config3",
    "config4",
    "decode_chnset",
    "decode_config1",
    "decode_config2",
    "decode_config3",
    "decode_loff",
    "encode_chnset",
    "lead_off_comparators_on",
    "loff",
    "misc1",
    "square_wave_amplitude_volts",
    "square_wave_frequency_hz",
    "srb1_enabled",
]

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
