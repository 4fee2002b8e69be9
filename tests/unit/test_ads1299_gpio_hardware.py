"""The chip's GPIO input pins through eegd's real spidev/gpiod code path, against the
held-out chip model (written from SBAS499, sharing no constant with the driver): the
levels the model drove arrive sample by sample, and the echo on the pins left as outputs
still finds a chip that reset."""

from __future__ import annotations

import numpy as np
import pytest

from tests.support.gpio_levels import driven_levels, random_levels
from tests.support.standin import SeedBoard, install
from tests.unit.test_ads1299_hardware import blocks_for, read_all, source_on

GPIO = 0x14  # SBAS499 register map


def test_the_levels_the_model_drives_arrive_at_their_samples(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    board = SeedBoard()
    install(monkeypatch, board)
    board.chip.inputs.gpio = {1: random_levels(1, 250), 3: random_levels(2, 250)}
    with source_on(board, gpio_inputs=[3, 1]) as source:
        blocks = read_all(source, 600)
        register = board.chip.read_register(GPIO)
    assert register & 0x0F == 0b0101  # GPIOC: GPIO1 and GPIO3 inputs, GPIO2 and 4 outputs
    assert register >> 4 & 0b1010 == 0b0010  # the echo: GPIO2 high, GPIO4 low
    assert [b.first_sample for b in blocks] == list(range(0, 600, 50))
    levels = np.concatenate([b.aux.values for b in blocks if b.aux is not None], axis=1)
    conversions = [k for k, _ in board.chip.gpio_shifted[:600]]
    assert conversions == list(range(conversions[0], conversions[0] + 600))  # none skipped
    np.testing.assert_array_equal(levels, driven_levels(board.chip, 0, 600, (3, 1)))
    assert 0.3 < float(levels.mean()) < 0.7
    assert source.aux is not None
    assert source.aux.channels == ("GPIO3", "GPIO1")


@pytest.mark.parametrize(
    ("inputs", "found_by"), [([1, 3], "gpio_echo"), ([1, 2, 3, 4], "register_check")]
)
def test_a_reset_is_found_by_the_echo_left_or_else_by_read_back(
    monkeypatch: pytest.MonkeyPatch, inputs: list[int], found_by: str
) -> None:
    board = SeedBoard(start_line=22)  # START held high: conversions go on after a reset
    install(monkeypatch, board)
    board.chip.inputs.gpio = {pin: random_levels(pin, 250) for pin in inputs}
    with source_on(board, start_gpio=22, gpio_inputs=inputs) as source:
        blocks_for(source, board, 1.2)
        assert source.device_resets == 0  # inputs that toggle are no lost configuration
        reset_at = board.clock.now
        board.chip.reset()
        after = blocks_for(source, board, 2.0)
    assert source.device_resets == 1
    assert board.chip.reset_times[-1] - reset_at <= 1.0
    events = [dict(event.detail) for block in after for event in block.events]
    assert [(e["chips"], e["found_by"]) for e in events] == [([1], found_by)]
    assert all(block.aux is not None for block in after)
