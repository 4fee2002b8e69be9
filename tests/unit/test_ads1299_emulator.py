"""The ADS1299 emulator at the pins: the protocol a real chip speaks, its timing and its faults."""

from __future__ import annotations

import sys
import threading
from typing import Any

import numpy as np
import pytest

from eegd.sources.adc import decode_24bit
from eegd.sources.ads1299.emulator import POWER_ON_RESET_S, ADS1299Emulator
from eegd.sources.ads1299.fields import (
    ChannelSetting,
    Input,
    TestFrequency,
    config1,
    config2,
    config4,
    encode_chnset,
)
from eegd.sources.ads1299.registers import (
    RESET_VALUES,
    TCLK_S,
    Opcode,
    Register,
    rreg,
    wreg,
)
from tests.support import ads1299_model as chip

SLOW = 1_000_000  # SCLK for commands, Hz


def powered(chips: int = 1, **options: Any) -> ADS1299Emulator:
    """An emulator (``options`` for its constructor) past tPOR and a RESET pulse, in SDATAC."""
    emulator = ADS1299Emulator(chips, **options)
    emulator.clock.sleep(POWER_ON_RESET_S)
    emulator.set_reset(False)
    emulator.clock.sleep(2 * TCLK_S)
    emulator.set_reset(True)
    emulator.clock.sleep(18 * TCLK_S)
    emulator.transfer(bytes((Opcode.SDATAC,)), SLOW)
    return emulator


def read(emulator: ADS1299Emulator, first: Register, count: int = 1) -> bytes:
    return emulator.transfer(rreg(first, count) + bytes(count), SLOW)[2:]


def write(emulator: ADS1299Emulator, first: Register, *values: int) -> None:
    emulator.transfer(wreg(first, bytes(values)), SLOW)


def stream(emulator: ADS1299Emulator, frames: int) -> list[bytes]:
    """START, RDATAC, then one frame per DRDY."""
    emulator.set_start(True)
    emulator.transfer(bytes((Opcode.RDATAC,)), SLOW)
    zeros = bytes(27 * emulator.chips)
    out = []
    for _ in range(frames):
        assert emulator.wait_drdy(1.0).edges == 1
        out.append(emulator.transfer(zeros))
    return out


def counts(frames: list[bytes], chips: int = 1) -> np.ndarray:
    data = b"".join(
        frame[27 * chip + 3 : 27 * (chip + 1)] for frame in frames for chip in range(chips)
    )
    return decode_24bit(data, 8 * chips)


def test_every_register_reads_its_reset_value() -> None:
    emulator = powered()
    assert read(emulator, Register.ID, 24) == bytes(RESET_VALUES[r] for r in Register)
    assert emulator.timing_violations == 0


def test_wreg_writes_several_registers_and_keeps_read_only_and_reserved_bits() -> None:
    emulator = powered()
    write(emulator, Register.ID, 0x00, 0x05, 0x00, 0xFF)  # ID, CONFIG1, CONFIG2, CONFIG3
    assert read(emulator, Register.ID, 4) == bytes((0x3E, 0x95, 0xC0, 0xFE))
    write(emulator, Register.LOFF_STATP, 0xFF, 0xFF)
    assert read(emulator, Register.LOFF_STATP, 2) == b"\x00\x00"


def test_register_commands_are_ignored_in_rdatac_mode() -> None:
    emulator = powered()
    emulator.transfer(bytes((Opcode.RDATAC,)), SLOW)
    write(emulator, Register.CONFIG1, config1(1000))
    assert emulator.ignored_commands == 1
    emulator.transfer(bytes((Opcode.SDATAC,)), SLOW)
    assert read(emulator, Register.CONFIG1) == bytes((0x96,))


def test_the_chip_wakes_up_in_rdatac_mode_and_reset_restores_everything() -> None:
    emulator = powered()
    write(emulator, Register.CONFIG1, config1(16000))
    emulator.transfer(bytes((Opcode.RESET,)), SLOW)
    emulator.clock.sleep(18 * TCLK_S)
    write(emulator, Register.CONFIG1, config1(500))
    assert emulator.ignored_commands == 1  # RDATAC again after the reset
    emulator.transfer(bytes((Opcode.SDATAC,)), SLOW)
    assert read(emulator, Register.CONFIG1) == bytes((0x96,))


def test_datasheet_timing_is_enforced() -> None:
    emulator = ADS1299Emulator()
    emulator.transfer(bytes((Opcode.SDATAC,)), SLOW)  # before tPOR
    assert emulator.timing_violations == 1
    emulator.clock.sleep(POWER_ON_RESET_S)
    emulator.set_reset(False)
    emulator.set_reset(True)  # a pulse shorter than 2 tCLK
    assert emulator.timing_violations == 2
    emulator.transfer(bytes((Opcode.RESET,)), SLOW)
    emulator.transfer(bytes((Opcode.SDATAC,)), SLOW)  # within 18 tCLK of the reset
    assert emulator.timing_violations == 3
    emulator.clock.sleep(18 * TCLK_S)
    emulator.transfer(bytes((Opcode.SDATAC,)), SLOW)
    emulator.transfer(rreg(Register.ID) + b"\x00", 8_000_000)  # bytes closer than 4 tCLK
    assert emulator.timing_violations == 4


@pytest.mark.parametrize("rate", [250, 2000, 16000])
def test_drdy_comes_at_the_configured_rate_on_the_virtual_clock(rate: int) -> None:
    emulator = powered()
    write(emulator, Register.CONFIG1, config1(rate))
    start = emulator.clock.monotonic()
    frames = stream(emulator, rate)  # one second of conversions
    assert len(frames) == rate
    assert emulator.clock.monotonic() - start == pytest.approx(1.0, rel=1e-9)


def test_a_late_host_finds_conversions_overwritten() -> None:
    emulator = powered()
    stream(emulator, 1)
    emulator.clock.sleep(10.5 / 250)
    assert emulator.wait_drdy(1.0).edges == 10
    assert emulator.wait_drdy(1.0).edges == 1


def test_start_stop_standby_and_the_start_pin() -> None:
    emulator = powered()
    assert emulator.wait_drdy(0.1).edges == 0
    emulator.transfer(bytes((Opcode.START,)), SLOW)
    assert emulator.wait_drdy(0.1).edges == 1
    emulator.transfer(bytes((Opcode.STANDBY,)), SLOW)
    assert not emulator.converting
    emulator.transfer(bytes((Opcode.WAKEUP,)), SLOW)
    emulator.transfer(bytes((Opcode.STOP,)), SLOW)
    assert emulator.wait_drdy(0.1).edges == 0
    emulator.set_start(True)
    assert emulator.converting


def test_rdata_reads_one_frame_in_sdatac_mode() -> None:
    emulator = powered()
    emulator.set_start(True)
    assert emulator.wait_drdy(1.0).edges == 1
    reply = emulator.transfer(bytes((Opcode.RDATA,)) + bytes(27), SLOW)
    assert reply[1] >> 4 == 0b1100


def test_frames_are_status_then_channels_chip_after_chip() -> None:
    emulator = powered(chips=3)
    for channel in range(24):
        emulator.inputs.forced_codes[channel] = channel * 1000 - 5000
    frames = stream(emulator, 4)
    assert all(len(frame) == 81 for frame in frames)
    for frame in frames:
        assert [frame[27 * chip] for chip in range(3)] == [0xC0] * 3
        assert [frame[27 * chip + 2] & 0x0F for chip in range(3)] == [0x0] * 3  # GPIO data
    assert (counts(frames, 3)[:, 0] == np.arange(24) * 1000 - 5000).all()


def test_lead_off_bits_follow_the_sensing_registers() -> None:
    emulator = powered(chips=2)
    emulator.set_lead_off(1)
    emulator.set_lead_off(12)
    emulator.set_lead_off(3, negative=True)
    write(emulator, Register.LOFF_SENSP, 0xFF, 0xFF)  # LOFF_SENSP and LOFF_SENSN
    [frame] = stream(emulator, 1)
    assert frame[0:3] == bytes((0xC0, 0x00, 0x00))  # comparators still off (CONFIG4)
    emulator.transfer(bytes((Opcode.SDATAC,)), SLOW)
    write(emulator, Register.CONFIG4, config4(lead_off_comparators=True))
    assert read(emulator, Register.LOFF_STATP, 2) == bytes((0b10, 0b1000))
    emulator.transfer(bytes((Opcode.RDATAC,)), SLOW)
    assert emulator.wait_drdy(1.0).edges == 1
    frame = emulator.transfer(bytes(54))
    statp = (frame[0] & 0x0F) << 4 | frame[1] >> 4
    statn = (frame[1] & 0x0F) << 4 | frame[2] >> 4
    assert (statp, statn) == (0b10, 0b1000)
    assert (frame[27] & 0x0F) << 4 | frame[28] >> 4 == 0b10000  # electrode 13: chip 2, IN5P


def test_shorted_inputs_show_the_datasheet_noise() -> None:
    emulator = powered()
    write(emulator, Register.CONFIG1, config1(1000))
    for position in range(8):
        setting = ChannelSetting(gain=1 if position < 4 else 24, input=Input.SHORTED)
        write(emulator, Register(Register.CH1SET + position), encode_chnset(setting))
    rows = counts(stream(emulator, 4000)).astype(np.float64)
    lsb = np.array([9.0 / 2**24] * 4 + [9.0 / 24 / 2**24] * 4)
    rms_uv = (rows * lsb[:, None]).std(axis=1) * 1e6
    assert rms_uv[:4] == pytest.approx([chip.NOISE_UVRMS[1][1000]] * 4, rel=0.1)
    assert rms_uv[4:] == pytest.approx([chip.NOISE_UVRMS[24][1000]] * 4, rel=0.1)


@pytest.mark.parametrize(
    ("amplitude", "frequency"), [(1, TestFrequency.SLOW), (2, TestFrequency.FAST)]
)
def test_the_test_signal_is_the_square_wave_config2_selects(
    amplitude: int, frequency: TestFrequency
) -> None:
    emulator = powered()
    write(emulator, Register.CONFIG2, config2(amplitude, frequency))
    write(emulator, Register.CH1SET, encode_chnset(ChannelSetting(12, Input.TEST)))
    volts = counts(stream(emulator, 2048))[0] * (9.0 / 12 / 2**24)
    level = amplitude * 4.5 / 2.4e3
    assert np.median(volts[volts > 0]) == pytest.approx(level, rel=1e-3)
    assert np.median(volts[volts < 0]) == pytest.approx(-level, rel=1e-3)
    half_period = 250 / (2 * (2.048e6 / 2 ** (21 if frequency is TestFrequency.SLOW else 20)))
    edges = np.flatnonzero(np.diff(volts > 0))
    assert np.diff(edges) == pytest.approx(half_period, abs=1)


def test_normal_inputs_carry_eeg_with_a_10_hz_alpha_peak() -> None:
    emulator = powered()
    write(emulator, Register.CH7SET, encode_chnset(ChannelSetting(24, Input.NORMAL)))  # O1
    volts = counts(stream(emulator, 250 * 8))[6] * (9.0 / 24 / 2**24)
    spectrum = np.abs(np.fft.rfft(volts - volts.mean())) ** 2
    freqs = np.fft.rfftfreq(len(volts), 1 / 250)
    band = (freqs >= 3) & (freqs <= 40)
    assert freqs[band][np.argmax(spectrum[band])] == pytest.approx(10.0, abs=0.5)


def test_supply_and_temperature_inputs() -> None:
    emulator = powered()
    write(
        emulator,
        Register.CH1SET,
        encode_chnset(ChannelSetting(1, Input.SUPPLY)),
        encode_chnset(ChannelSetting(1, Input.TEMPERATURE)),
        encode_chnset(ChannelSetting(1, Input.SUPPLY)),
    )
    volts = counts(stream(emulator, 10)).mean(axis=1) * 9.0 / 2**24
    assert volts[0] == pytest.approx(2.5, rel=1e-3)  # (AVDD − AVSS) / 2
    assert volts[1] == pytest.approx(0.1453, rel=1e-3)  # 145.3 mV at 25 °C
    assert volts[2] == pytest.approx(3.3 / 4, rel=1e-3)  # channel 3 sees DVDD / 4


def test_faults() -> None:
    emulator = powered()
    emulator.faults.chip_id = 0xFF
    assert read(emulator, Register.ID) == b"\xff"
    emulator.faults.chip_id = None
    stream(emulator, 1)
    emulator.faults.bad_status_frames = 1
    emulator.faults.bit_flips.append((0, 23))
    assert emulator.wait_drdy(1.0).edges == 1
    bad = emulator.transfer(bytes(27))
    assert bad[0] >> 4 != 0b1100
    emulator.faults.stuck_drdy = True
    assert emulator.wait_drdy(0.25).edges == 0
    emulator.faults.spi_error_after = 0
    with pytest.raises(OSError, match="Input/output error"):
        emulator.transfer(bytes(27))


def test_a_bit_flip_changes_exactly_that_bit() -> None:
    emulator = powered()
    emulator.inputs.forced_codes[2] = 0x000100
    frames = stream(emulator, 1)
    emulator.faults.bit_flips.append((2, 22))
    assert emulator.wait_drdy(1.0).edges == 1
    frames.append(emulator.transfer(bytes(27)))
    values = counts(frames)[2]
    assert list(values) == [0x000100, 0x400100]


def test_pwdn_powers_the_chain_down() -> None:
    emulator = powered()
    emulator.set_start(True)
    emulator.set_pwdn(False)
    assert not emulator.converting
    assert emulator.transfer(rreg(Register.ID) + b"\x00", SLOW) == bytes(3)


def test_a_reset_from_another_thread_never_tears_a_frame() -> None:
    """A test resets the chip from its own thread while the driver's reader thread reads,
    as a real chip may reset mid-stream: every wait and transfer still completes whole."""
    emulator = powered()
    start = bytes((Opcode.START,))
    emulator.transfer(start + bytes((Opcode.RDATAC,)), SLOW)
    done = threading.Event()
    twenty_more = threading.Semaphore(0)
    lengths: set[int] = set()
    failures: list[BaseException] = []

    def read_until_done() -> None:
        reads = 0
        while not done.is_set():
            try:
                emulator.wait_drdy(0.01)
                lengths.add(len(emulator.transfer(bytes(27))))
            except Exception as exc:  # reported by the test thread below
                failures.append(exc)
            reads += 1
            if reads % 20 == 0:
                twenty_more.release()

    reader = threading.Thread(target=read_until_done)
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)  # hand the GIL over often, so the threads interleave finely
    reader.start()
    try:
        for _ in range(1000):
            twenty_more.acquire()
            emulator.spontaneous_reset()  # START was an opcode: the conversions stop
            emulator.transfer(start, SLOW)
    finally:
        done.set()
        reader.join()
        sys.setswitchinterval(interval)
    assert failures == []
    assert lengths == {27}
