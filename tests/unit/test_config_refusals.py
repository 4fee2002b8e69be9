"""Property: whatever value a key of the configuration is given, msgspec's refusal of it
comes out as one ``ConfigError`` naming that key and what is allowed."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from msgspec import inspect as spec

from eegd.config import Config
from eegd.errors import ConfigError
from eegd.validation import convert

#: Every key of every table of the file, as (table, key).
KEYS = [
    (table.name, field.name)
    for table in spec.type_info(Config).fields  # type: ignore[attr-defined]
    if isinstance(table.type, spec.StructType)
    for field in table.type.fields
    if field.name not in {"options", "explicit", "file_directories"}
]

VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(),
    st.text(max_size=50),
    st.lists(st.one_of(st.integers(), st.text(max_size=5)), max_size=3),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=2),
)


@settings(max_examples=150, deadline=None)
@given(key=st.sampled_from(KEYS), value=VALUES)
def test_a_refused_value_is_a_config_error_naming_its_key(key: tuple[str, str], value: Any) -> None:
    table, name = key
    document = {table: {name: value}}
    try:
        msgspec.convert(document, Config, strict=True)
    except msgspec.ValidationError as refusal:
        refused: msgspec.ValidationError | None = refusal
    else:
        refused = None
    finite = not (
        isinstance(value, float) and value != value or value in (float("inf"), -float("inf"))
    )
    if refused is None and finite:
        convert(document, Config)
        return
    with pytest.raises(ConfigError) as caught:
        convert(document, Config)
    error = caught.value
    assert error.key is not None
    assert str(error) == f"{error.key}: {error.problem}"
    if refused is not None and isinstance(refused.__cause__, ConfigError):
        assert error.key.startswith(f"{table}.")  # a rule across the table's fields
    else:
        assert error.key == f"{table}.{name}" or error.key.startswith(f"{table}.{name}[")
    assert "allowed" in error.problem or "expected" in error.problem
