"""The chip's GPIO pins as inputs (``[source.ads1299] gpio_inputs``): refused where they
cannot be, taken out of the reset echo, and their levels an aux stream, on the emulator.

What a pin reads comes from SBAS499's GPIO register (0x14: GPIOD[7:4] the levels,
GPIOC[3:0] the directions, 1 an input) and status word (its last four bits GPIOD); the
expected values here are worked out from those, not from the driver.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from eegd.aux_stream import AuxKind
from eegd.errors import ConfigError
from eegd.sources.ads1299 import ADS1299Emulator, ADS1299Settings, ADS1299Source
from eegd.sources.ads1299.gpio_inputs import gpio_levels
from eegd.sources.ads1299.gpio_pins import square_wave
from eegd.sources.base import SampleBlock

GPIO_REGISTER = 0x14
RATE = 250


def make(emulator: ADS1299Emulator, channels: int = 8, **options: object) -> ADS1299Source:
    settings = ADS1299Settings.from_mapping({"spi_hz": 20_000_000, **options})
    return ADS1299Source(settings, channels, RATE, hardware=emulator.hardware)


def read(source: ADS1299Source, n: int, batch: int = 40) -> list[SampleBlock]:
    blocks, have = [], 0
    while have < n:
        block = source.read(min(batch, n - have))
        blocks.append(block)
        have += block.n_samples
    return blocks


@pytest.mark.parametrize(
    ("options", "words"),
    [
        ({"gpio_inputs": [0]}, "source.ads1299.gpio_inputs"),
        ({"gpio_inputs": [5]}, "source.ads1299.gpio_inputs"),
        ({"gpio_inputs": [2, 2]}, "source.ads1299.gpio_inputs: [2, 2] names a pin twice"),
        ({"gpio_inputs": 1}, "source.ads1299.gpio_inputs"),
        (
            {"board": "pieeg", "gpio_inputs": [4]},
            "source.ads1299.gpio_inputs: GPIO4 of the chip is not free on board 'pieeg' "
            "(source.ads1299.free_chip_gpios = []",
        ),
        (
            {"free_chip_gpios": [1, 2], "gpio_inputs": [1, 3, 4]},
            "GPIO3, GPIO4 of the chip is not free on board 'elata'",
        ),
    ],
)
def test_pins_that_cannot_be_inputs_are_refused_naming_the_key(
    options: dict[str, object], words: str
) -> None:
    with pytest.raises(ConfigError) as refused:
        ADS1299Settings.from_mapping(options)
    assert words in str(refused.value)
    assert "allowed" in str(refused.value)


def test_by_default_no_pin_is_an_input_and_there_is_no_aux_stream() -> None:
    emulator = ADS1299Emulator()
    with make(emulator) as source:
        source.read(10)
        register = emulator.registers(0)[GPIO_REGISTER]
    assert source.aux is None
    assert register == 0x50  # all four outputs: GPIO1 high, GPIO2 low, GPIO3 high, GPIO4 low


def test_input_pins_are_inputs_and_the_others_keep_the_echo() -> None:
    emulator = ADS1299Emulator()
    with make(emulator, gpio_inputs=[4, 2]) as source:
        source.read(10)
        register = emulator.registers(0)[GPIO_REGISTER]
    assert register & 0x0F == 0b1010  # GPIO2 and GPIO4 inputs
    assert register >> 4 & 0b0101 == 0b0001  # the echo on GPIO1 (high) and GPIO3 (low)
    aux = source.aux
    assert aux is not None
    assert aux.channels == ("GPIO4", "GPIO2")
    assert aux.kinds == (AuxKind.GPIO, AuxKind.GPIO)
    assert aux.sample_rate == RATE
    assert aux.physical_range == ((0.0, 1.0), (0.0, 1.0))


def test_an_input_reads_its_outside_level_and_an_output_what_was_written() -> None:
    emulator = ADS1299Emulator()
    emulator.gpio.connect(2, True)
    emulator.gpio.connect(1, True)  # an output: driving it from outside changes nothing
    with make(emulator, gpio_inputs=[2]) as source:
        source.read(5)
        register = emulator.registers(0)[GPIO_REGISTER]
        emulator.gpio.connect(2, False)
        low = emulator.registers(0)[GPIO_REGISTER]
    # the echo alternates over the outputs: GPIO1 high, GPIO3 low, GPIO4 high
    assert register >> 4 == 0b1000 | 0b0010 | 0b0001
    assert low >> 4 == 0b1001


def test_each_sample_carries_the_input_levels_at_its_conversion() -> None:
    emulator = ADS1299Emulator()
    emulator.gpio.connect(1, square_wave(7 / RATE, 3 / RATE))  # high 3 of every 7 samples
    emulator.gpio.connect(3, square_wave(2 / RATE, start_s=0.4))
    with make(emulator, gpio_inputs=[3, 1]) as source:
        started = emulator.clock.monotonic()  # transfers take no emulated time: START's
        assert emulator.converting
        blocks = read(source, 500)
    first = blocks[0].first_sample
    levels = np.concatenate([b.aux.values for b in blocks if b.aux is not None], axis=1)
    assert levels.shape == (2, 500)
    assert [b.aux.first_sample for b in blocks if b.aux] == [b.first_sample for b in blocks]
    drdy = started + (first + 1 + np.arange(500)) / RATE  # sample i: the (i + 1)-th DRDY
    pin1 = ((drdy + 1e-9) % (7 / RATE)) < 3 / RATE
    pin3 = (drdy >= 0.4) & ((drdy - 0.4 + 1e-9) % (2 / RATE) < 1 / RATE)
    np.testing.assert_array_equal(levels, np.array([pin3, pin1], dtype=np.float32))
    assert 0 < levels[1].mean() < 1
    assert 0 < levels[0].mean() < 1
    assert source.device_resets == 0  # inputs toggling are not a lost configuration


def test_the_echo_on_the_remaining_output_finds_a_chip_that_reset() -> None:
    emulator = ADS1299Emulator(2)
    for chip in (0, 1):
        for pin in (1, 2, 3):
            emulator.gpio.connect(pin, square_wave(pin / 50), chip)
    with make(emulator, channels=16, gpio_inputs=[1, 2, 3]) as source:
        before = read(source, 100)
        assert source.device_resets == 0
        emulator.spontaneous_reset(chip=1)  # GPIO4 turns into an input and reads low
        after = read(source, 100)
    events = [dict(event.detail) for block in after for event in block.events]
    assert events == [{"chips": [2], "found_by": "gpio_echo", "count": 1}]
    assert all(b.aux is not None for b in before + after)


def test_with_every_free_pin_an_input_the_registers_are_read_back_instead() -> None:
    emulator = ADS1299Emulator()
    for pin in (1, 2, 3, 4):
        emulator.gpio.connect(pin, square_wave(pin / 25))
    with make(emulator, board="hat", gpio_inputs=[1, 2, 3, 4]) as source:
        read(source, 100)
        emulator.spontaneous_reset()  # START is a wired pin: conversions go on
        after = read(source, 2 * RATE)
    events = [dict(event.detail) for block in after for event in block.events]
    assert len(events) == 1
    assert events[0]["found_by"] == "register_check"
    assert source.aux is not None
    assert len(source.aux.channels) == 4


@settings(max_examples=200)
@given(
    frames=st.lists(st.binary(min_size=3 * 2, max_size=3 * 2), min_size=1, max_size=40),
    pins=st.lists(st.integers(1, 4), min_size=1, max_size=4, unique=True),
)
def test_any_status_words_give_each_pins_bit_of_chip_1_and_nothing_else(
    frames: list[bytes], pins: list[int]
) -> None:
    """Whatever bytes the wire brings, each level is that pin's GPIOD bit of chip 1's
    24-bit status word (1100, STATP, STATN, GPIOD[4:1]): the word's lowest four bits."""
    status = np.frombuffer(b"".join(frames), dtype=np.uint8).reshape(len(frames), 2, 3)
    levels = gpio_levels(status, tuple(pins))
    words = [int.from_bytes(frame[:3], "big") for frame in frames]
    expected = [[word >> (pin - 1) & 1 for word in words] for pin in pins]
    assert levels.dtype == np.float32
    np.testing.assert_array_equal(levels, np.array(expected, dtype=np.float32))
