"""Every built-in plugin reads its options one way (``eegd.validation.convert`` over its
settings struct): a bad option is a ``ConfigError`` naming the key, the value and what is
allowed, and the defaults build it."""

from __future__ import annotations

from typing import Any

import pytest

from eegd.errors import ConfigError
from eegd.plugins.brain_waves import BrainWaves
from eegd.plugins.gpio_trigger import GpioTrigger
from eegd.plugins.lsl_outlet import LslOutlet
from eegd.plugins.recorder.recorder import Recorder
from eegd.plugins.voltage_filter import VoltageFilter

PLUGINS: list[tuple[Any, str]] = [
    (VoltageFilter, ""),
    (BrainWaves, ""),
    (Recorder, "recording."),
    (LslOutlet, "plugin.lsl_outlet."),
    (GpioTrigger, "plugin.gpio_trigger."),
]


@pytest.mark.parametrize(("plugin", "table"), PLUGINS)
def test_an_unknown_option_is_refused_naming_it_and_the_allowed_ones(
    plugin: Any, table: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        plugin.from_options({"colour": 1})
    assert caught.value.key == f"{table}colour"
    assert caught.value.problem.startswith("unknown key (allowed: ")


@pytest.mark.parametrize(
    ("plugin", "options", "message"),
    [
        (
            LslOutlet,
            {"topic": "fft"},
            "plugin.lsl_outlet.topic: 'fft' is not allowed (allowed: 'filtered_eeg', 'raw_eeg')",
        ),
        (
            LslOutlet,
            {"name": ""},
            "plugin.lsl_outlet.name: '' is not allowed (allowed: at least 1 characters)",
        ),
        (
            LslOutlet,
            {"source_id": 7},
            "plugin.lsl_outlet.source_id: expected `str | null`, got `int` (value: 7)",
        ),
        (
            GpioTrigger,
            {"chip": "gpiochip0"},
            "plugin.gpio_trigger.chip: 'gpiochip0' is not allowed (allowed: a device path like "
            "/dev/gpiochip0)",
        ),
        (
            GpioTrigger,
            {"label": "é" * 30},
            "plugin.gpio_trigger.label: 'éééééééééééééééééééééééééééééé' is not allowed (allowed: "
            "a non-empty string of at most 56 bytes)",
        ),
        (
            Recorder,
            {"queue_s": 0},
            "recording.queue_s: 0 is out of range (allowed: > 0 and <= 600)",
        ),
    ],
)
def test_a_bad_option_names_the_key_the_value_and_what_is_allowed(
    plugin: Any, options: dict[str, Any], message: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        plugin.from_options(options)
    assert str(caught.value) == message
