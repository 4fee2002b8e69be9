"""The gpio_trigger plugin's table and its boundary: bad options name their key, a missing
gpiod, chip or line is a clear error naming the line."""

from __future__ import annotations

import asyncio
import logging
import sys

import pytest

from eegd.bus import EventBus
from eegd.errors import ConfigError, PluginError
from eegd.plugin import PluginContext
from eegd.plugins.gpio_trigger import GpioTrigger, TriggerSettings
from eegd.validation import convert
from tests.support.standin.trigger import TriggerBoard, install_trigger_board
from tests.support.timing import scaled


@pytest.fixture
def board(monkeypatch: pytest.MonkeyPatch) -> TriggerBoard:
    chip = TriggerBoard()
    install_trigger_board(monkeypatch, chip)
    return chip


def test_the_defaults_are_a_rising_edge_of_gpio17_without_debounce() -> None:
    settings = convert({}, TriggerSettings, "plugin.gpio_trigger")
    assert (settings.chip, settings.line, settings.edge) == ("/dev/gpiochip0", 17, "rising")
    assert settings.debounce_ms == 0
    assert settings.label_of(rising=True) == "trigger"


def test_both_edges_say_which_in_the_label() -> None:
    settings = convert({"edge": "both", "label": "stim"}, TriggerSettings, "plugin.gpio_trigger")
    assert settings.label_of(rising=True) == "stim rising"
    assert settings.label_of(rising=False) == "stim falling"


@pytest.mark.parametrize(
    ("options", "key"),
    [
        ({"debounce_ms": 1000.5}, "plugin.gpio_trigger.debounce_ms"),
        ({"debounce_ms": -1}, "plugin.gpio_trigger.debounce_ms"),
        ({"debounce_ms": float("nan")}, "plugin.gpio_trigger.debounce_ms"),
        ({"debounce_ms": True}, "plugin.gpio_trigger.debounce_ms"),
        ({"line": -1}, "plugin.gpio_trigger.line"),
        ({"line": 1024}, "plugin.gpio_trigger.line"),
        ({"line": "17"}, "plugin.gpio_trigger.line"),
        ({"edge": "up"}, "plugin.gpio_trigger.edge"),
        ({"bias": "strong"}, "plugin.gpio_trigger.bias"),
        ({"chip": "gpiochip0"}, "plugin.gpio_trigger.chip"),
        ({"label": " "}, "plugin.gpio_trigger.label"),
        ({"label": "x" * 60}, "plugin.gpio_trigger.label"),
        ({"pin": 17}, "plugin.gpio_trigger.pin: unknown key"),
    ],
)
def test_a_bad_option_names_its_key(options: dict[str, object], key: str) -> None:
    with pytest.raises(ConfigError, match=key):
        convert(options, TriggerSettings, "plugin.gpio_trigger")


def test_without_gpiod_the_error_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "gpiod", None)
    with pytest.raises(PluginError, match=r"gpiod .*eegd\[gpio\]"):
        GpioTrigger.from_options({})


async def run_until_failure(options: dict[str, object]) -> PluginError:
    plugin = GpioTrigger.from_options(options)
    context = PluginContext(bus=EventBus(), logger=logging.getLogger("test"))
    with pytest.raises(PluginError) as failure:
        await asyncio.wait_for(plugin.run(context), timeout=scaled(10))
    return failure.value


async def test_a_missing_chip_is_an_error_naming_chip_and_line(board: TriggerBoard) -> None:
    error = await run_until_failure({"chip": "/dev/gpiochip4", "line": 17})
    assert "line 17 of /dev/gpiochip4" in str(error)
    assert "No such file" in str(error)


async def test_a_line_the_chip_lacks_is_an_error_naming_it(board: TriggerBoard) -> None:
    error = await run_until_failure({"line": 40})
    assert "line 40 of /dev/gpiochip0" in str(error)
    assert "Invalid argument" in str(error)


async def test_a_line_held_elsewhere_is_an_error_naming_it(board: TriggerBoard) -> None:
    held = board.request_lines(board.GPIOCHIP, "other", {17: object()})
    error = await run_until_failure({"line": 17})
    assert "line 17 of /dev/gpiochip0" in str(error)
    assert "busy" in str(error)
    held.release()
