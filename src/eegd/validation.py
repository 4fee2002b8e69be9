"""Settings data checked against its declared types and constraints, in eegd's words.

A settings object declares what it accepts on its fields (``Annotated[int,
msgspec.Meta(ge=1, le=32)]``, ``Literal[...]``, nested structs and dataclasses); ``check``
walks data decoded from TOML (or JSON) against ``msgspec.inspect.type_info`` of that
declaration and refuses the first thing that does not fit with a one-line ``ConfigError``
naming the dotted key, with ``ConfigError.key`` set:

    source.channels: 33 is out of range (allowed: 1..32)
    log.level: 'loud' is not allowed (allowed: 'debug', 'info', 'warning', 'error')
    source.colour: unknown key (allowed: kind, channels, ...)
    source.channels: expected `int`, got `float` (value: 8.5)

``convert`` checks and then ``msgspec.convert``s the known-good data, so msgspec's own
messages are never shown, nor parsed. A settings object's own construction checks
(``__post_init__`` raising ``ConfigError``) come out under the key of its table.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Mapping
from typing import Any, Literal, TypeVar

import msgspec
from msgspec import inspect as spec

from eegd.errors import ConfigError, shortened, shown

__all__ = ["check", "convert"]

_T = TypeVar("_T")

#: How a message names a type: msgspec's names, which JSON and TOML users read alike.
_TYPE_NAMES: Mapping[type, str] = {
    bool: "bool",
    int: "int",
    float: "float",
    str: "str",
    list: "array",
    dict: "object",
}


class _WrongType(ConfigError):
    """A value of another kind than declared (as opposed to one of the kind, out of range)."""

    def __init__(self, key: str, expected: str, value: object) -> None:
        got = _TYPE_NAMES.get(type(value), type(value).__name__)
        problem = f"expected `{expected}`, got `{got}` (value: {shown(value)})"
        super().__init__(f"{key or 'config'}: {problem}", key=key or None)
        self.expected = expected


def convert(data: Any, declared: type[_T], key: str, hidden: frozenset[str] = frozenset()) -> _T:
    """``data`` checked against ``declared`` and converted to it; ``key`` is where it is.

    Raises ``ConfigError`` naming the dotted key below ``key`` (``source.synthetic.seed``).
    Tables are built innermost first, so an error a settings object's construction raises
    names that object's table. ``hidden`` is as for ``check``.
    """
    check(data, declared, key, hidden)
    built: _T = msgspec.convert(_built(data, spec.type_info(declared), key), declared, strict=True)
    return built


def _built(value: Any, info: spec.Type, key: str) -> Any:
    """``value`` with every table in it (checked already) converted to its declared type."""
    if not isinstance(info, spec.StructType | spec.DataclassType) or not isinstance(value, dict):
        return value
    fields = {field.name: field.type for field in info.fields}
    tables = {name: _built(item, fields[name], _dotted(key, name)) for name, item in value.items()}
    try:
        return msgspec.convert(tables, info.cls, strict=True)
    except msgspec.ValidationError as exc:
        cause = exc.__cause__
        if isinstance(cause, ConfigError):
            raise (cause.within(key) if key else cause) from None
        raise _refusal(key, str(exc)) from exc  # checked data converts: a declaration is wrong


def check(data: Any, declared: Any, key: str, hidden: frozenset[str] = frozenset()) -> None:
    """Refuse ``data`` unless it is what ``declared`` (a type) says; ``key`` is where it is.

    ``hidden`` are field names left out of the keys an "unknown key" message lists (fields
    that a loader fills in itself).
    """
    _check(data, spec.type_info(declared), key, hidden, ())


def _check(
    value: Any, info: spec.Type, key: str, hidden: frozenset[str], choices: tuple[Any, ...]
) -> None:
    """``choices`` are a ``Literal``'s values in declared order (``type_info`` sorts them)."""
    match info:
        case spec.AnyType():
            return
        case spec.StructType() | spec.DataclassType():
            _check_table(value, info, key, hidden)
        case spec.DictType():
            if not isinstance(value, dict):
                raise _WrongType(key, "object", value)
            for name, item in value.items():
                _check(name, info.key_type, key, hidden, ())
                _check(item, info.value_type, _dotted(key, name), hidden, ())
        case spec.ListType() | spec.VarTupleType() | spec.FrozenSetType() | spec.SetType():
            if not isinstance(value, list):
                raise _WrongType(key, "array", value)
            for index, item in enumerate(value):
                _check(item, info.item_type, f"{key}[{index}]", hidden, ())
        case spec.UnionType():
            _check_union(value, info, key, hidden, choices)
        case spec.LiteralType():
            kinds = {type(choice) for choice in info.values}
            if type(value) not in kinds or value not in info.values:
                allowed = ", ".join(repr(choice) for choice in choices or info.values)
                raise _refusal(key, f"{shown(value)} is not allowed (allowed: {allowed})")
        case spec.NoneType():
            if value is not None:
                raise _WrongType(key, "null", value)
        case spec.BoolType():
            if not isinstance(value, bool):
                raise _WrongType(key, "bool", value)
        case spec.IntType():
            if isinstance(value, bool) or not isinstance(value, int):
                raise _WrongType(key, "int", value)
            _check_range(value, info, key)
        case spec.FloatType():
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise _WrongType(key, "float", value)
            _check_range(value, info, key)
        case spec.StrType():
            if not isinstance(value, str):
                raise _WrongType(key, "str", value)
            low, high = info.min_length or 0, info.max_length
            if len(value) < low or (high is not None and len(value) > high):
                lengths = f"{low}..{high}" if high is not None else f"at least {low}"
                raise _refusal(
                    key, f"{shown(value)} is not allowed (allowed: {lengths} characters)"
                )
        case _:
            raise TypeError(f"{key}: settings of type {info!r} cannot be checked")


def _check_table(
    value: Any, info: spec.StructType | spec.DataclassType, key: str, hidden: frozenset[str]
) -> None:
    if not isinstance(value, dict):
        raise _WrongType(key, "object", value)
    declared = {field.name: field for field in info.fields}
    for name, item in value.items():
        field = declared.get(name)
        if field is None:
            allowed = ", ".join(known for known in declared if known not in hidden)
            raise _refusal(_dotted(key, name), f"unknown key (allowed: {allowed})")
        _check(item, field.type, _dotted(key, name), hidden, _literal_values(info.cls, name))


def _check_union(
    value: Any, info: spec.UnionType, key: str, hidden: frozenset[str], choices: tuple[Any, ...]
) -> None:
    """Accept what one member accepts; else the refusal of a member of the value's kind."""
    if value is None and info.includes_none:
        return
    members = [member for member in info.types if not isinstance(member, spec.NoneType)]
    refusals: list[ConfigError] = []
    for member in members:
        try:
            _check(value, member, key, hidden, choices)
        except ConfigError as exc:
            refusals.append(exc)
        else:
            return
    kinds = [refusal.expected for refusal in refusals if isinstance(refusal, _WrongType)]
    if len(kinds) == len(refusals) > 1:
        raise _WrongType(key, " | ".join(kinds), value)
    raise next(
        (refusal for refusal in refusals if not isinstance(refusal, _WrongType)), refusals[0]
    )


def _literal_values(cls: type, name: str) -> tuple[Any, ...]:
    """The values of the ``Literal`` that field ``name`` of ``cls`` is declared with, if any."""
    pending = [typing.get_type_hints(cls, include_extras=True)[name]]
    values: list[Any] = []
    while pending:
        hint = pending.pop(0)
        if typing.get_origin(hint) is Literal:
            values.extend(typing.get_args(hint))
        elif typing.get_origin(hint) in {typing.Union, typing.Annotated, types.UnionType}:
            pending.extend(typing.get_args(hint))
    return tuple(values)


def _check_range(value: float, info: spec.IntType | spec.FloatType, key: str) -> None:
    low, high = info.ge, info.le
    inside = (
        (low is None or value >= low)
        and (high is None or value <= high)
        and (info.gt is None or value > info.gt)
        and (info.lt is None or value < info.lt)
    )
    if inside:
        return
    if low is not None and high is not None and info.gt is None and info.lt is None:
        allowed = f"{low}..{high}"
    else:
        bounds = ((">=", low), (">", info.gt), ("<=", high), ("<", info.lt))
        allowed = " and ".join(f"{symbol} {bound}" for symbol, bound in bounds if bound is not None)
    raise _refusal(key, f"{shown(value)} is out of range (allowed: {allowed})")


def _refusal(key: str, problem: str) -> ConfigError:
    return ConfigError(f"{key or 'config'}: {problem}", key=key or None)


def _dotted(key: str, name: object) -> str:
    return f"{key}.{shortened(str(name))}" if key else shortened(str(name))
