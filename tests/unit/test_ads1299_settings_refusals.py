"""Property: whatever value a key of ``[source.ads1299]`` is given, the table is either
accepted or refused with one ``ConfigError`` naming that key."""

from __future__ import annotations

import re
from typing import Any

import msgspec
from hypothesis import given, settings
from hypothesis import strategies as st

from eegd.errors import ConfigError
from eegd.sources.ads1299 import ADS1299Settings

KEYS = list(ADS1299Settings.__struct_fields__)

VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.integers(min_value=-2, max_value=40),
    st.floats(),
    st.text(max_size=20),
    st.sampled_from(["ce0", "ce1", "gpio19", "daisy", "multiple", "fast", "dc", "7.8", "pieeg16"]),
    st.lists(st.one_of(st.integers(min_value=-2, max_value=40), st.text(max_size=5)), max_size=5),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=2),
)


@settings(max_examples=300, deadline=None)
@given(key=st.sampled_from(KEYS), value=VALUES)
def test_a_bad_value_of_any_key_is_a_config_error_naming_it(key: str, value: Any) -> None:
    try:
        accepted = ADS1299Settings.from_mapping({key: value})
    except ConfigError as error:
        message = str(error)
        assert "\n" not in message
        assert message.startswith("source.ads1299.")
        # the key, in full or (in a rule across keys) by its name beside the other's
        assert f"source.ads1299.{key}" in message or re.search(rf"\b{key}\b", message)
        assert re.search(r"allowed|must|needs|expected|both use|but", message), message
    else:
        written = getattr(accepted, key)
        assert value is False or msgspec.convert(value, type(written)) == written
