"""The legacy routes' parsing, without sockets: any text gets a command or an error reply."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from eegd.net.legacy import LegacyCommand, config_message, parse_command, parse_config_change

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
    parsed = parse_config_change(text, CURRENT)
    if isinstance(parsed, str):
        assert is_error_reply(parsed)
    else:
        assert set(parsed) == {"source", "filter"}
        assert set(parsed["source"]) <= {"channels", "sample_rate"}


def test_the_old_shapes() -> None:
    assert parse_command('{"command": "set_powerline_filter", "value": 60}') == LegacyCommand(
        "set_powerline_filter", 60
    )
    assert parse_command('{"command": "set_powerline_filter"}') == LegacyCommand(
        "set_powerline_filter", None
    )
    assert parse_config_change('{"channels": [0, 1], "powerline_filter_hz": null}', CURRENT) == {
        "source": {"channels": 2},
        "filter": {"notch_hz": 0},
    }
    source = {"settings": {"kind": "synthetic", "batch_size": 32}, "session": None}
    assert config_message(source, {})["powerline_filter_hz"] is None
