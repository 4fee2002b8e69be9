"""The ADS1299 driver against the emulator: start-up, registers, rates, decoding, faults."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from eegd.errors import ConfigError, SourceError
from eegd.sources.adc import ADS1299_GAINS, ADS1299_SAMPLE_RATES
from eegd.sources.ads1299 import ADS1299Emulator, ADS1299Settings, ADS1299Source
from eegd.sources.ads1299.fields import (
    DATA_RATE_CODES,
    Input,
    decode_chnset,
    decode_config1,
)
from eegd.sources.ads1299.interface import DrdyEdges
from eegd.sources.ads1299.registers import Register
from eegd.sources.base import SampleBlock, SharedSourceOptions
from eegd.sources.montage import standard_channel_names
from eegd.sources.registry import load_source_class

FAST_SPI = 20_000_000


def make(
    emulator: ADS1299Emulator,
    channels: int = 8,
    rate: int = 250,
    **options: object,
) -> ADS1299Source:
    options.setdefault("spi_hz", FAST_SPI)
    settings = ADS1299Settings.from_mapping(options)
    return ADS1299Source(settings, channels, rate, hardware=emulator.hardware)


def read_seconds(source: ADS1299Source, emulator: ADS1299Emulator, seconds: float) -> int:
    """Samples delivered while ``seconds`` pass on the emulator's clock."""
    start = emulator.clock.monotonic()
    delivered = 0
    batch = max(1, int(source.sample_rate) // 50)
    while emulator.clock.monotonic() - start < seconds:
        delivered += source.read(batch).n_samples
    return delivered


@pytest.mark.parametrize("gain", ADS1299_GAINS)
@pytest.mark.parametrize("rate", ADS1299_SAMPLE_RATES)
def test_rate_and_gain_reach_the_chip_and_the_rate_is_delivered(rate: int, gain: int) -> None:
    emulator = ADS1299Emulator()
    source = make(emulator, rate=rate, gain=gain)
    with source:
        registers = emulator.registers()
        assert registers[Register.CONFIG1] & 0x07 == DATA_RATE_CODES[rate]
        assert decode_config1(registers[Register.CONFIG1])[0] == rate
        for position in range(8):
            setting = decode_chnset(registers[Register.CH1SET + position])
            assert (setting.gain, setting.input, setting.power_down) == (gain, Input.NORMAL, False)
        seconds = 2.0
        start = emulator.clock.monotonic()
        delivered = read_seconds(source, emulator, seconds)
        elapsed = emulator.clock.monotonic() - start
    assert delivered / elapsed == pytest.approx(rate, rel=0.005)
    assert emulator.timing_violations == 0
    assert source.missed_drdy == 0
    assert source.framing_errors == 0


@pytest.mark.parametrize(
    ("gain", "code", "volts"),
    [
        (24, 0x7FFFFF, 0x7FFFFF * 9.0 / 24 / 2**24),  # +full scale: 0.18749998 V
        (24, -0x800000, -0.1875),  # −full scale (0x800000)
        (24, 0, 0.0),
        (24, -1, -9.0 / 24 / 2**24),  # −1 LSB: −22.35 nV
        (1, 0x7FFFFF, 0x7FFFFF * 9.0 / 2**24),  # 4.49999946 V
        (1, -0x800000, -4.5),
        (1, 0, 0.0),
        (1, -1, -9.0 / 2**24),  # −536.4 nV
    ],
)
def test_known_codes_become_the_right_volts(gain: int, code: int, volts: float) -> None:
    assert abs(volts) in (0.0, 4.5, 0.1875) or volts == pytest.approx(
        (code * 2 * 4.5 / gain) / 2**24
    )
    emulator = ADS1299Emulator()
    for channel in range(8):
        emulator.inputs.forced_codes[channel] = code
    with make(emulator, gain=gain) as source:
        block = source.read(4)
    assert (block.raw == code).all()
    assert block.raw.dtype == np.int32
    assert block.volts.dtype == np.float32
    assert block.volts == pytest.approx(np.float32(volts), rel=1e-7, abs=0)


@pytest.mark.parametrize("chips", [2, 4])
def test_daisy_chain_channels_arrive_in_order_with_their_names(chips: int) -> None:
    emulator = ADS1299Emulator(chips)
    for channel in range(8 * chips):
        chip, position = divmod(channel, 8)
        offset = 0.010 * chip + 0.001 * position  # chip in the 10 mV, position in the 1 mV

        def signal(index: np.ndarray, rate: float, offset: float = offset) -> np.ndarray:
            return np.full(index.shape, offset)

        emulator.inputs.extra[channel] = signal
    with make(emulator, channels=8 * chips, rate=1000) as source:
        assert source.channel_names == standard_channel_names(8 * chips)
        block = source.read(500)
    expected = [0.010 * (c // 8) + 0.001 * (c % 8) for c in range(8 * chips)]
    assert block.volts.mean(axis=1) == pytest.approx(expected, abs=2e-4)


def test_fewer_channels_than_the_chain_reads_drop_the_rest() -> None:
    emulator = ADS1299Emulator(2)
    with make(emulator, channels=12) as source:
        block = source.read(10)
    assert block.raw.shape == (12, 10)
    assert source.channel_names == standard_channel_names(12)


def test_configured_names_are_used() -> None:
    names = tuple(f"E{i}" for i in range(8))
    source = ADS1299Source(ADS1299Settings(), 8, 250, names, hardware=ADS1299Emulator().hardware)
    assert source.channel_names == names
    with pytest.raises(ConfigError, match=r"source\.channel_names: 3 names for 8 channels"):
        ADS1299Source(ADS1299Settings(), 8, 250, ("a", "b", "c"))


def test_every_written_register_is_read_back() -> None:
    emulator = ADS1299Emulator()
    settings = dict(gain=[1, 2, 4, 6, 8, 12, 24, 24], input="shorted", lead_off=True, srb1=False)
    with make(emulator, **settings):
        registers = emulator.registers()
    assert registers[Register.CONFIG3] == 0xEC
    assert registers[Register.MISC1] == 0x00
    assert registers[Register.LOFF_SENSP] == 0xFF
    assert registers[Register.CONFIG4] == 0x02
    assert [decode_chnset(registers[Register.CH1SET + i]).gain for i in range(8)] == [
        1,
        2,
        4,
        6,
        8,
        12,
        24,
        24,
    ]


def test_lost_register_writes_fail_the_start_naming_the_register() -> None:
    emulator = ADS1299Emulator()
    emulator.faults.ignore_writes = True
    with pytest.raises(SourceError, match=r"read-back mismatch: CONFIG2 wrote 0xD0, read 0xC0"):
        make(emulator, rate=250).open()
    with pytest.raises(SourceError, match=r"CONFIG3 wrote 0xEC, read 0x60"):
        make(emulator, rate=250).open()


def test_close_stops_conversions() -> None:
    emulator = ADS1299Emulator()
    source = make(emulator)
    source.open()
    source.read(2)
    source.close()
    source.close()
    assert not emulator.converting
    with pytest.raises(SourceError, match="not open"):
        source.read(1)
    source.open()  # a closed source opens again, from sample 0
    assert source.read(3).first_sample == 0
    source.close()


@pytest.mark.parametrize(
    ("chip_id", "words"),
    [
        (0x00, r"ID register reads 0x00: no chip answers \(check the SPI wiring"),
        (0xFF, r"ID register reads 0xFF: no chip answers"),
        (0x3C, r"ID register reads 0x3C: ADS1299-4 \(4 channels\)"),
        (0x92, r"0x92: not an ADS1299"),
    ],
)
def test_a_wrong_id_says_what_was_read(chip_id: int, words: str) -> None:
    emulator = ADS1299Emulator()
    emulator.faults.chip_id = chip_id
    with pytest.raises(SourceError, match=words):
        make(emulator).open()
    assert not emulator.converting


def test_stuck_drdy_is_a_source_error() -> None:
    emulator = ADS1299Emulator()
    with make(emulator, drdy_timeout_s=0.2) as source:
        source.read(5)
        emulator.faults.stuck_drdy = True
        with pytest.raises(SourceError, match=r"no DRDY for 0\.2 s"):
            source.read(5)


def test_a_bad_status_prefix_is_a_counted_gap() -> None:
    emulator = ADS1299Emulator()
    with make(emulator) as source:
        first = source.read(10)
        emulator.faults.bad_status_frames = 2
        blocks = [source.read(10) for _ in range(3)]
    assert source.framing_errors == 2
    assert first.first_sample == 0
    assert [(b.first_sample, b.n_samples) for b in blocks] == [(12, 10), (22, 10), (32, 10)]


def test_bad_status_words_in_a_row_end_the_session() -> None:
    emulator = ADS1299Emulator()
    with make(emulator, max_framing_errors=3) as source:
        source.read(1)
        emulator.faults.bad_status_frames = 3
        with pytest.raises(SourceError, match=r"3 frames in a row without the 1100 status prefix"):
            source.read(10)


def test_a_gap_inside_a_block_ends_it_early() -> None:
    emulator = ADS1299Emulator()
    with make(emulator) as source:
        source.read(5)
        blocks: list[SampleBlock] = []
        # the host is 7 sample periods late after the 4th sample of the next read
        original = emulator.wait_drdy
        calls = 0

        def late(timeout: float, chip: int = 0) -> DrdyEdges:
            nonlocal calls
            calls += 1
            if calls == 5:
                emulator.clock.sleep(7 / 250)
            return original(timeout, chip)

        emulator.wait_drdy = late  # type: ignore[method-assign]
        blocks.append(source.read(10))
        emulator.wait_drdy = original  # type: ignore[method-assign]
        blocks.append(source.read(10))
    # 7 periods late: conversions 10..16 are done, only the newest (index 15) is read
    assert [(b.first_sample, b.n_samples) for b in blocks] == [(5, 4), (15, 10)]
    assert source.missed_drdy == 6


def test_spi_errors_become_source_errors_with_the_cause() -> None:
    emulator = ADS1299Emulator()
    with make(emulator) as source:
        source.read(2)
        emulator.faults.spi_error_after = 0
        with pytest.raises(SourceError, match="SPI or GPIO error while streaming") as caught:
            source.read(2)
    assert isinstance(caught.value.__cause__, OSError)
    emulator = ADS1299Emulator()
    emulator.faults.spi_error_after = 2
    with pytest.raises(SourceError, match="start-up failed: SPI or GPIO error"):
        make(emulator).open()


def test_lead_off_is_reported_per_electrode() -> None:
    emulator = ADS1299Emulator(2)
    with make(emulator, channels=16, lead_off=True) as source:
        source.read(5)
        assert source.lead_off == frozenset()
        emulator.set_lead_off(2)
        emulator.set_lead_off(9)
        source.read(5)
        assert source.lead_off == {"C3", "F4"}
        emulator.set_lead_off(2, off=False)
        source.read(5)
        assert source.lead_off == {"F4"}
    assert source.lead_off_changes == 2


def test_a_bit_flip_reaches_the_sample_unchanged() -> None:
    emulator = ADS1299Emulator()
    emulator.inputs.forced_codes[0] = 0
    with make(emulator) as source:
        source.read(1)
        emulator.faults.bit_flips.append((0, 0))
        block = source.read(2)
    assert list(block.raw[0]) == [1, 0]


def test_missing_hardware_modules_name_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    for module in ("spidev", "gpiod"):
        monkeypatch.setitem(sys.modules, module, None)  # import fails, installed or not
    source = ADS1299Source(ADS1299Settings(), 8, 250)
    with pytest.raises(SourceError, match=r"pip install 'eegd\[ads1299\]'"):
        source.open()


def test_emulate_opens_the_built_in_emulator() -> None:
    settings = ADS1299Settings(emulate=True, paced=False)
    with ADS1299Source(settings, 8, 500) as source:
        block = source.read(100)
    assert block.raw.shape == (8, 100)


def test_the_registry_builds_it_from_the_config_tables() -> None:
    assert load_source_class("ads1299") is ADS1299Source
    shared = SharedSourceOptions(kind="ads1299", sample_rate=1000)
    source = ADS1299Source.from_options(shared, {"emulate": True, "paced": False, "gain": 12})
    assert source.sample_rate == 1000.0
    assert source.channel_names == standard_channel_names(8)
    chain = ADS1299Source.from_options(shared, {"chips": 3, "emulate": True})
    assert len(chain.channel_names) == 24
    explicit = SharedSourceOptions(kind="ads1299", channels=8, explicit=frozenset({"channels"}))
    with pytest.raises(ConfigError, match=r"source\.ads1299\.chips: 3 chips read 17\.\.24"):
        ADS1299Source.from_options(explicit, {"chips": 3})
    with pytest.raises(ConfigError, match=r"source\.sample_rate: 300 is not an ADS1299 rate"):
        ADS1299Source.from_options(SharedSourceOptions(kind="ads1299", sample_rate=300), {})
    with pytest.raises(ConfigError, match=r"source\.ads1299\.gain: 5"):
        ADS1299Source.from_options(shared, {"gain": 5})
    assert ADS1299Source.requires is not None
    assert ADS1299Source.requires.install_command == "pip install 'eegd[ads1299]'"


def test_a_chain_has_chip_1_drive_the_clock() -> None:
    emulator = ADS1299Emulator(2)
    with make(emulator, channels=16):
        assert decode_config1(emulator.registers()[Register.CONFIG1])[2] is True
    emulator = ADS1299Emulator(1)
    with make(emulator):
        assert decode_config1(emulator.registers()[Register.CONFIG1])[2] is False


def test_scattered_framing_errors_are_logged_sparingly(caplog: pytest.LogCaptureFixture) -> None:
    emulator = ADS1299Emulator()
    with make(emulator) as source:
        for _ in range(40):
            emulator.faults.bad_status_frames = 1
            source.read(3)
    assert source.framing_errors == 40
    logged = [r for r in caplog.records if "framing error" in r.getMessage()]
    assert len(logged) == 12  # 1..10, 16, 32


def test_one_chip_of_a_chain_that_resets_is_named_and_set_up_again() -> None:
    emulator = ADS1299Emulator(3)
    with make(emulator, channels=24) as source:
        source.read(50)
        emulator.spontaneous_reset(chip=1)  # chip 2 alone
        blocks = [source.read(50) for _ in range(4)]
        configured = emulator.registers(1)
    events = [event for block in blocks for event in block.events]
    assert [dict(event.detail) for event in events] == [
        {"chips": [2], "found_by": "gpio_echo", "count": 1}
    ]
    assert source.device_resets == 1
    assert decode_chnset(configured[Register.CH1SET]).input is Input.NORMAL  # reset: shorted
    assert configured[Register.GPIO] == emulator.registers(0)[Register.GPIO]
