"""The legacy routes' parsing, without sockets: any text gets a command or an error reply."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from eegd.net.protocol.legacy_control import (
    LegacyCommand,
    config_changes,
    config_message,
    parse_command,
    parse_config,
)

CURRENT = {"sample_rate": 250, "channels": list(range(8)), "powerline_filter_hz": 50}
JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=10),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=12,
)


def is_error_reply(text: str) -> bool:
    decoded = json.loads(text)
    return set(decoded) == {"status", "message"} and decoded["status"] == "error"


@given(st.one_of(st.text(max_size=200), JSONISH.map(json.dumps)))
def test_any_command_text_is_a_command_or_an_error_reply(text: str) -> None:
    parsed = parse_command(text)
    assert isinstance(parsed, LegacyCommand) or is_error_reply(parsed)


@given(st.one_of(st.text(max_size=200), JSONISH.map(json.dumps)))
def test_any_config_text_is_a_change_or_an_error_reply(text: str) -> None:
    parsed = parse_config(text)
    if isinstance(parsed, str):
        assert is_error_reply(parsed)
        return
    changes = config_changes(parsed, CURRENT)
    if isinstance(changes, str):
        assert is_error_reply(changes)
    else:
        assert set(changes) == {"source", "filter"}
        assert set(changes["source"]) <= {"channels", "sample_rate"}


def test_the_old_shapes() -> None:
    assert parse_command('{"command": "set_powerline_filter", "value": 60}') == LegacyCommand(
        "set_powerline_filter", 60
    )
    assert parse_command('{"command": "set_powerline_filter"}') == LegacyCommand(
        "set_powerline_filter", None
    )
    assert parse_command('{"command": "set_powerline_filter", "value": 55}') == LegacyCommand(
        "set_powerline_filter", 55
    )  # refused later, in the old daemon's words: "Invalid powerline filter value"
    assert is_error_reply(str(parse_command('{"command": "set_powerline_filter", "value": -1}')))
    change = parse_config('{"channels": [0, 1], "powerline_filter_hz": null}')
    assert not isinstance(change, str)
    assert config_changes(change, CURRENT) == {
        "source": {"channels": 2},
        "filter": {"notch_hz": 0},
    }
    source = {"settings": {"kind": "synthetic", "batch_size": 32}, "session": None}
    assert config_message(source, {}) == {
        "sample_rate": None,
        "channels": [],
        "gain": 1.0,
        "board_driver": "synthetic",
        "batch_size": 32,
        "powerline_filter_hz": None,
    }
    ads1299 = {
        "settings": {"kind": "ads1299", "batch_size": 32, "ads1299": {"gain": [12, 24]}},
        "session": {"sample_rate": 500.0, "channels": ["a", "b", "c"]},
    }
    assert config_message(ads1299, {"notch_hz": 60.0}) == {
        "sample_rate": 500,
        "channels": [0, 1, 2],
        "gain": 12.0,
        "board_driver": "ads1299",
        "batch_size": 32,
        "powerline_filter_hz": 60,
    }
