"""Settings data converted to declared types and constraints: eegd's words, the dotted key."""

from __future__ import annotations

import enum
from typing import Annotated, Literal

import msgspec
import pytest

from eegd.errors import ConfigError
from eegd.validation import Settings, convert


class Inner(Settings, frozen=True):
    rate: Annotated[float, msgspec.Meta(gt=0, le=100)] = 1.0
    mode: Literal["slow", "fast"] | None = "slow"

    def __post_init__(self) -> None:
        if self.mode == "fast" and self.rate < 10:
            raise ConfigError(f"rate: {self.rate:g} is not allowed (allowed: 10 or more when fast)")


class Current(enum.IntEnum):
    LOW = 6
    HIGH = 24


_LINE = Annotated[int, msgspec.Meta(ge=0, le=9)]


class Outer(Settings, frozen=True):
    board: str | int = "synthetic"
    name: Annotated[str, msgspec.Meta(min_length=1)] = "x"
    inner: Inner = msgspec.field(default_factory=Inner)
    tags: tuple[str, ...] = ()


class Chip(Settings, frozen=True):
    current: Current = Current.LOW
    lines: Annotated[
        _LINE | tuple[_LINE, ...], msgspec.Meta(extra={"allowed": "a line 0..9, or a list"})
    ] = 0


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"board": 1.5}, "t.board: expected `str | int`, got `float` (value: 1.5)"),
        ({"board": float("inf")}, "t.board: inf is not allowed (allowed: a finite number)"),
        (
            {"inner": {"rate": 10**400}},
            "t.inner.rate: an integer of 401 digits is not allowed (allowed: a finite number)",
        ),
        ({"inner": {"mode": 3}}, "t.inner.mode: 3 is not allowed (allowed: 'slow', 'fast')"),
        ({"name": ""}, "t.name: '' is not allowed (allowed: at least 1 characters)"),
        ({"inner": {"rate": 0}}, "t.inner.rate: 0 is out of range (allowed: > 0 and <= 100)"),
        (
            {"inner": {"mode": "warp"}},
            "t.inner.mode: 'warp' is not allowed (allowed: 'slow', 'fast')",
        ),
        ({"inner": {"speed": 1}}, "t.inner.speed: unknown key (allowed: rate, mode)"),
        ({"tags": ["a", 2]}, "t.tags[1]: expected `str`, got `int` (value: 2)"),
        (
            {"inner": {"mode": "fast"}},
            "t.inner.rate: 1 is not allowed (allowed: 10 or more when fast)",
        ),
    ],
)
def test_refusals_name_the_dotted_key(data: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        convert(data, Outer, "t")
    assert str(caught.value) == message
    assert caught.value.key == message.partition(":")[0]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"current": 10}, "t.current: 10 is not allowed (allowed: 6, 24)"),
        ({"lines": "x"}, "t.lines: 'x' is not allowed (allowed: a line 0..9, or a list)"),
        ({"lines": 10}, "t.lines: 10 is not allowed (allowed: a line 0..9, or a list)"),
        ({"lines": [1, 10]}, "t.lines[1]: 10 is out of range (allowed: 0..9)"),
    ],
)
def test_enums_and_unions_say_what_they_allow(data: dict[str, object], message: str) -> None:
    """An enum's values; a union's own wording (``Meta(extra={"allowed": ...})``) for any
    value it refuses, and its items' constraints for an item."""
    with pytest.raises(ConfigError) as caught:
        convert(data, Chip, "t")
    assert str(caught.value) == message
    assert convert({"current": 24, "lines": [3]}, Chip) == Chip(current=Current.HIGH, lines=(3,))


def test_known_good_data_converts() -> None:
    outer = convert({"board": 3, "inner": {"rate": 50, "mode": "fast"}, "tags": ["a"]}, Outer, "t")
    assert outer == Outer(board=3, inner=Inner(rate=50.0, mode="fast"), tags=("a",))


def test_hidden_fields_are_not_listed_as_allowed() -> None:
    with pytest.raises(ConfigError, match=r"^nope: unknown key \(allowed: board, name, inner\)$"):
        convert({"nope": 1}, Outer, "", hidden=frozenset({"tags"}))


def test_given_fields_are_named_where_they_are_written() -> None:
    given = {"name": ("elsewhere.name", "")}
    with pytest.raises(ConfigError) as caught:
        convert({}, Outer, "t", given=given)
    assert str(caught.value) == "elsewhere.name: '' is not allowed (allowed: at least 1 characters)"
    with pytest.raises(
        ConfigError, match=r"^t\.name: unknown key \(allowed: board, inner, tags\)$"
    ):
        convert({"name": "y"}, Outer, "t", given=given)
