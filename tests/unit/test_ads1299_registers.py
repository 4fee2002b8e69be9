"""The ADS1299 register map, its value builders, the settings table and the noise figures."""

from __future__ import annotations

import importlib

import pytest

from eegd.errors import ConfigError
from eegd.sources.adc import ADS1299_GAINS, ADS1299_SAMPLE_RATES
from eegd.sources.ads1299.fields import (
    DATA_RATE_CODES,
    ChannelSetting,
    Input,
    LeadOffCurrent,
    LeadOffFrequency,
    TestFrequency,
    config1,
    config2,
    config3,
    decode_chnset,
    decode_config1,
    decode_config2,
    decode_config3,
    decode_loff,
    encode_chnset,
    loff,
    misc1,
    square_wave_amplitude_volts,
    square_wave_frequency_hz,
)
from eegd.sources.ads1299.noise import typical_noise
from eegd.sources.ads1299.registers import (
    FIXED_BITS,
    RESET_VALUES,
    Opcode,
    Register,
    describe_id,
    id_is_supported,
    rreg,
    wreg,
)
from eegd.sources.ads1299.settings import ADS1299Settings, frame_bytes, register_values
from tests.support import ads1299_model as chip
from tests.unit import test_public_api as public_api


def test_addresses_and_opcodes_are_the_datasheet_ones() -> None:
    assert [r.value for r in Register] == list(range(0x18))
    assert Register.LOFF_STATN == 0x13
    assert Register.CONFIG4 == 0x17
    assert {op.name: op.value for op in Opcode} == {
        "WAKEUP": 0x02,
        "STANDBY": 0x04,
        "RESET": 0x06,
        "START": 0x08,
        "STOP": 0x0A,
        "RDATAC": 0x10,
        "SDATAC": 0x11,
        "RDATA": 0x12,
        "RREG": 0x20,
        "WREG": 0x40,
    }


def test_reset_values() -> None:
    assert RESET_VALUES[Register.ID] == 0x3E
    assert RESET_VALUES[Register.CONFIG1] == 0x96
    assert RESET_VALUES[Register.CONFIG2] == 0xC0
    assert RESET_VALUES[Register.CONFIG3] == 0x60
    assert RESET_VALUES[Register.GPIO] == 0x0F
    assert all(RESET_VALUES[Register(Register.CH1SET + i)] == 0x61 for i in range(8))
    assert decode_chnset(0x61) == ChannelSetting(gain=24, input=Input.SHORTED)
    for register, (mask, value) in FIXED_BITS.items():
        assert RESET_VALUES[register] & mask == value, register.name


def test_register_commands_carry_address_and_count_minus_one() -> None:
    assert rreg(Register.ID) == b"\x20\x00"
    assert rreg(Register.CONFIG1, 3) == b"\x21\x02"
    assert wreg(Register.CH1SET, b"\x60\x60") == b"\x45\x01\x60\x60"
    with pytest.raises(ValueError, match="run past CONFIG4"):
        rreg(Register.CONFIG4, 2)


@pytest.mark.parametrize("rate", ADS1299_SAMPLE_RATES)
def test_config1_data_rate_codes(rate: int) -> None:
    code = {16000: 0b000, 8000: 0b001, 4000: 0b010, 2000: 0b011, 1000: 0b100, 500: 0b101}
    assert DATA_RATE_CODES[rate] == code.get(rate, 0b110)
    value = config1(rate)
    assert value == 0x90 | DATA_RATE_CODES[rate]
    assert decode_config1(value) == (rate, True, False)
    assert decode_config1(config1(rate, daisy_chain=False, clock_out=True)) == (rate, False, True)


def test_config1_refuses_other_rates() -> None:
    with pytest.raises(ValueError, match="250, 500, 1000, 2000, 4000, 8000, 16000"):
        config1(300)
    assert decode_config1(0x97)[0] is None  # DR 111: "do not use"


@pytest.mark.parametrize("gain", ADS1299_GAINS)
@pytest.mark.parametrize("mux", list(Input))
def test_chnset_round_trips(gain: int, mux: Input) -> None:
    for power_down in (False, True):
        setting = ChannelSetting(gain, mux, power_down=power_down, srb2=not power_down)
        value = encode_chnset(setting)
        assert value & 0x07 == mux.value
        assert value >> 4 & 0x07 == ADS1299_GAINS.index(gain)
        assert decode_chnset(value) == setting


def test_input_mux_codes() -> None:
    assert Input.NORMAL == 0b000
    assert Input.SHORTED == 0b001
    assert Input.BIAS_MEASURE == 0b010
    assert Input.SUPPLY == 0b011
    assert Input.TEMPERATURE == 0b100
    assert Input.TEST == 0b101


def test_config2_test_signal() -> None:
    assert config2() == 0xD0  # internal, 1 ×, fCLK / 2**21
    assert config2(2, TestFrequency.FAST) == 0xD5
    assert config2(1, TestFrequency.DC, internal=False) == 0xC3
    for amplitude in (1, 2):
        for frequency in TestFrequency:
            value = config2(amplitude, frequency)
            assert decode_config2(value) == (amplitude, frequency, True)
    assert square_wave_frequency_hz(TestFrequency.SLOW) == pytest.approx(0.9765625)
    assert square_wave_frequency_hz(TestFrequency.FAST) == pytest.approx(1.953125)
    assert square_wave_amplitude_volts(1) == pytest.approx(1.875e-3)
    assert square_wave_amplitude_volts(2) == pytest.approx(3.75e-3)


def test_config3_reference_and_bias() -> None:
    assert config3(False, False, False) == 0x60
    assert config3() == 0xEC  # reference buffer, internal bias reference, bias buffer on
    decoded = decode_config3(0xED)
    assert decoded.reference_buffer
    assert decoded.bias_buffer
    assert decoded.bias_lead_off


def test_loff_and_misc1() -> None:
    assert loff() == 0x00
    value = loff(LeadOffCurrent.UA_24, LeadOffFrequency.AC_31_2, 7)
    assert value == 0b111_0_11_10
    assert decode_loff(value) == (LeadOffCurrent.UA_24, LeadOffFrequency.AC_31_2, 7)
    assert misc1(True) == 0x20
    assert misc1(False) == 0x00


@pytest.mark.parametrize(
    ("value", "words"),
    [
        (0x00, "no chip answers"),
        (0xFF, "no chip answers"),
        (0x3E, "ADS1299 (8 channels), revision 1"),
        (0x3C, "ADS1299-4 (4 channels)"),
        (0x3D, "ADS1299-6"),
        (0x92, "not an ADS1299"),
    ],
)
def test_id_descriptions(value: int, words: str) -> None:
    assert words in describe_id(value)
    assert f"0x{value:02X}" in describe_id(value)


def test_only_eight_channel_ids_are_supported() -> None:
    assert id_is_supported(0x3E)
    assert id_is_supported(0x5E)
    assert not any(id_is_supported(v) for v in (0x00, 0xFF, 0x3C, 0x3D))


# Settings --------------------------------------------------------------------------------


def test_default_settings_build_the_usual_eeg_registers() -> None:
    values = register_values(ADS1299Settings(), channels=8, sample_rate=250)
    assert values[Register.CONFIG1] == 0x96
    assert values[Register.CONFIG3] == 0xEC
    assert values[Register.MISC1] == 0x20  # SRB1: a common reference
    assert values[Register.BIAS_SENSP] == 0xFF
    assert values[Register.LOFF_SENSP] == 0x00
    assert values[Register.CONFIG4] == 0x00
    assert all(values[Register(Register.CH1SET + i)] == 0x60 for i in range(8))


def test_unused_channels_are_powered_down_and_lead_off_follows_the_channels() -> None:
    settings = ADS1299Settings(lead_off=True, gain=(1, 2, 4, 8, 12), input="shorted")
    values = register_values(settings, channels=5, sample_rate=1000)
    assert values[Register.LOFF_SENSP] == 0b0001_1111
    assert values[Register.CONFIG4] == 0x02
    assert [decode_chnset(values[Register(Register.CH1SET + i)]).gain for i in range(5)] == [
        1,
        2,
        4,
        8,
        12,
    ]
    assert all(decode_chnset(values[Register(Register.CH1SET + i)]).power_down for i in range(5, 8))


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"spi_hz": 25_000_000}, r"source\.ads1299\.spi_hz: 25000000 is not allowed .*SCLK limit"),
        ({"gain": 3}, r"source\.ads1299\.gain: 3 is not allowed \(allowed: 1, 2, 4, 6, 8, 12, 24"),
        ({"input": "open"}, r"source\.ads1299\.input: 'open' .*normal, shorted, test"),
        ({"chips": 5}, r"source\.ads1299\.chips: 5 is out of range \(allowed: 1\.\.4\)"),
        ({"spi_hz": 4e6}, r"source\.ads1299\.spi_hz: 4e\+06 is not allowed \(allowed: an integer"),
        ({"spi_bus": -1}, r"source\.ads1299\.spi_bus: -1 is out of range \(allowed: 0\.\.1023\)"),
        ({"emulate": "yes"}, r"source\.ads1299\.emulate: 'yes' .*true or false"),
        ({"lead_off_current_na": 10}, r"source\.ads1299\.lead_off_current_na: 10"),
        ({"lead_off_frequency": "ac"}, r"source\.ads1299\.lead_off_frequency"),
        ({"board": "hat", "pwdn_gpio": 23}, r"reset_gpio and source\.ads1299\.pwdn_gpio both"),
        ({"drdy_timeout_s": 0}, r"source\.ads1299\.drdy_timeout_s"),
        ({"spidev": 1}, r"source\.ads1299\.spidev: unknown key \(allowed: .*spi_hz"),
    ],
)
def test_bad_settings_name_the_key(options: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        ADS1299Settings.from_mapping(options)


def test_toml_lists_become_per_channel_tuples() -> None:
    settings = ADS1299Settings.from_mapping({"gain": [24] * 7 + [12], "input": ["normal"] * 8})
    assert settings.channel_settings(8)[7].gain == 12
    with pytest.raises(ConfigError, match=r"source\.ads1299\.gain: .* one per channel"):
        settings.channel_settings(9)


def test_daisy_chained_chips_share_each_channel_position() -> None:
    settings = ADS1299Settings(gain=(24,) * 8 + (12,) + (24,) * 7)
    with pytest.raises(ConfigError, match=r"gain: channel 9 must match channel 1"):
        settings.channel_settings(16)


def test_chips_follow_the_channel_count_unless_set() -> None:
    assert ADS1299Settings().resolved_chips(8) == 1
    assert ADS1299Settings().resolved_chips(20) == 3
    assert ADS1299Settings(chips=4).resolved_chips(32) == 4
    with pytest.raises(ConfigError, match=r"chips: 2 chips read 9\.\.16 channels"):
        ADS1299Settings(chips=2).resolved_chips(8)
    assert frame_bytes(1) == 27
    assert frame_bytes(4) == 108


def test_the_spi_clock_must_keep_up_with_the_rate() -> None:
    ADS1299Settings().check_throughput(8, 8000)
    with pytest.raises(ConfigError, match=r"spi_hz: 4000000 is too slow .*16000 SPS"):
        ADS1299Settings().check_throughput(8, 16000)
    ADS1299Settings(spi_hz=20_000_000).check_throughput(32, 16000)
    with pytest.raises(ConfigError, match=r"source\.sample_rate: 300 .*allowed: 250"):
        ADS1299Settings().check_throughput(8, 300)


# Noise figures -----------------------------------------------------------------------------


@pytest.mark.parametrize("gain", sorted(chip.NOISE_UVRMS))
def test_noise_table_holds_the_datasheet_figures_for_every_gain_and_rate(gain: int) -> None:
    for rate, rms in chip.NOISE_UVRMS[gain].items():
        figure = typical_noise(gain, rate)
        assert (figure.rms_uv, figure.peak_to_peak_uv) == (rms, chip.NOISE_UVPP[gain][rate])
        assert figure.bandwidth_hz == pytest.approx(0.262 * rate, rel=0.01)  # -3 dB column


def test_noise_falls_with_gain_and_rises_with_rate() -> None:
    for rate in ADS1299_SAMPLE_RATES:
        figures = [typical_noise(gain, rate).rms_uv for gain in ADS1299_GAINS]
        assert figures == sorted(figures, reverse=True)
    for gain in ADS1299_GAINS:
        figures = [typical_noise(gain, rate).rms_uv for rate in ADS1299_SAMPLE_RATES]
        assert figures == sorted(figures)


@pytest.mark.parametrize(
    "module_name",
    [
        "eegd.sources.ads1299",
        "eegd.sources.ads1299.registers",
        "eegd.sources.ads1299.settings",
        "eegd.sources.ads1299.noise",
        "eegd.sources.ads1299.interface",
        "eegd.sources.ads1299.signals",
        "eegd.sources.ads1299.emulator",
        "eegd.sources.ads1299.driver",
        "eegd.sources.ads1299.hardware",
        "eegd.sources.ads1299.boards",
        "eegd.sources.ads1299.wiring",
        "eegd.sources.ads1299.opening",
        "eegd.sources.ads1299.frames",
        "eegd.sources.ads1299.commands",
        "eegd.sources.ads1299.selftest",
    ],
)
def test_all_is_exactly_the_public_names(module_name: str) -> None:
    module = importlib.import_module(module_name)
    declared = set(module.__all__)
    assert len(declared) == len(module.__all__)
    assert declared == public_api.public_names(module)
