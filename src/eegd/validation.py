"""Settings data converted to its declared type, msgspec's refusals put in eegd's words.

A settings table declares what it accepts on its fields (``Annotated[int, msgspec.Meta(ge=1,
le=32)]``, ``Literal[...]``, nested structs); ``msgspec.convert`` alone checks data decoded
from TOML or JSON against that declaration. ``convert`` translates its one refusal into a
one-line ``ConfigError`` naming the dotted key, the value and what is allowed, with
``ConfigError.key`` set:

    source.channels: 33 is out of range (allowed: 1..32)
    log.level: 'loud' is not allowed (allowed: 'debug', 'info', 'warning', 'error')
    source.colour: unknown key (allowed: kind, channels, ...)
    source.channels: expected `int`, got `float` (value: 8.5)

The translation reads where msgspec stopped (its path, ``$.source.channels``), follows it
through the data and the declaration, and words what the declaration allows there: a range,
a ``Literal``'s or an enum's values, or the words of ``Meta(extra={"allowed": ...})`` (on a
whole union too, where they cover every kind of value it takes). A table's own rule across
its fields (``__post_init__`` raising ``ConfigError``) comes out under the table's key, or
as it is when it names its keys in full. Non-finite numbers (``nan``, ``inf``) are refused
first: they slip through every range.
"""

from __future__ import annotations

import math
import re
import types
import typing
from collections.abc import Mapping
from typing import Any, Literal, TypeVar

import msgspec
from msgspec import inspect as spec

from eegd.errors import ConfigError, shortened, shown

__all__ = ["Settings", "convert", "refuse_non_finite"]

_T = TypeVar("_T")

#: How a message names a kind of value: msgspec's names, which JSON and TOML users read alike.
_KIND_NAMES: Mapping[type, str] = {
    bool: "bool",
    int: "int",
    float: "float",
    str: "str",
    list: "array",
    tuple: "array",
    dict: "object",
    type(None): "null",
}
#: One step of msgspec's path: ``.name``, ``[3]``, or ``[...]`` (a key of a dict).
_STEP = re.compile(r"\.([^.\[]+)|\[(\d+)\]|\[\.\.\.\]")
_AT = " - at `$"
#: msgspec's refusal of a value of another kind than declared.
_WRONG_KIND = re.compile(r"Expected `[^`]+`, got `[^`]+`")


class Settings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Base of a settings table: immutable, built by keyword, and refusing unknown keys.

    Constraints are declared on the fields; ``__post_init__`` holds only rules across fields
    (it runs on every construction, ``convert`` or direct).
    """


def convert(
    data: Any,
    declared: type[_T],
    key: str = "",
    *,
    hidden: frozenset[str] = frozenset(),
    given: Mapping[str, tuple[str, Any]] | None = None,
) -> _T:
    """``data`` (a table) converted to ``declared``; ``key`` is where it is written.

    Raises ``ConfigError`` naming the dotted key below ``key`` (``source.synthetic.seed``).
    ``hidden`` are field names an "unknown key" message leaves out of the allowed ones
    (fields a loader fills in itself). ``given`` are fields whose values are written in
    another table: name -> (their dotted key, value); data may not hold them itself.
    """
    refuse_non_finite(data, key)
    placed = dict(given or {})
    if placed and isinstance(data, Mapping):
        names = frozenset(placed) | hidden
        misplaced = next((name for name in data if name in placed), None)
        if misplaced is not None:
            raise _unknown(key, str(misplaced), declared, names)
        data = {**data, **{name: value for name, (_, value) in placed.items()}}
        hidden = names
    try:
        return msgspec.convert(data, declared, strict=True)
    except msgspec.ValidationError as exc:
        where = {name: written for name, (written, _) in placed.items()}
        raise _translated(exc, data, declared, key, hidden, where) from None


def refuse_non_finite(data: Any, key: str = "") -> None:
    """Refuse ``nan`` and ``inf`` anywhere in ``data``, naming the dotted key.

    The walk keeps its own stack, so data nested as deep as tomllib can parse cannot
    exhaust Python's.
    """
    pending: list[tuple[str, Any]] = [(key, data)]
    while pending:
        dotted, value = pending.pop()
        if isinstance(value, float) and not math.isfinite(value):
            raise ConfigError.at(
                dotted or "config", f"{value} is not allowed (allowed: a finite number)"
            )
        if isinstance(value, Mapping):
            pending.extend((_dotted(dotted, name), item) for name, item in value.items())
        elif isinstance(value, list | tuple):
            pending.extend((f"{dotted}[{index}]", item) for index, item in enumerate(value))


def _translated(
    exc: msgspec.ValidationError,
    data: Any,
    declared: Any,
    key: str,
    hidden: frozenset[str],
    where: Mapping[str, str],
) -> ConfigError:
    """msgspec's refusal of ``data`` as a ``ConfigError`` about the key it stopped at."""
    message = str(exc)
    problem, at, path = message.rpartition(_AT)
    if not at:
        problem, path = message, "`"
    value, hint, dotted = data, declared, key
    for number, step in enumerate(_STEP.finditer(path[:-1])):
        name, index = step[1], step[2]
        if name is not None:
            cls = _bare(hint, value)
            value, hint = value[name], typing.get_type_hints(cls, include_extras=True)[name]
            dotted = where[name] if number == 0 and name in where else _dotted(dotted, name)
        elif index is not None:
            value, hint = value[int(index)], _items(_bare(hint, value))
            dotted = f"{dotted}[{index}]"
        else:  # a dict's entry: msgspec does not say which, so find it
            return _in_dict(value, _bare(hint, value), dotted, hidden)
    cause = exc.__cause__
    if isinstance(cause, ConfigError):  # a table's own rule across its fields
        if key and str(cause).startswith(f"{key}."):  # it names its keys in full itself
            return cause
        head, _, rest = (cause.key or "").partition(".")
        if dotted == key and head in where:  # about a field written in another table
            return ConfigError.at(".".join(filter(None, (where[head], rest))), cause.problem)
        return cause.within(dotted) if dotted else cause
    return _refusal(problem, value, hint, dotted, hidden)


def _in_dict(value: Any, hint: Any, dotted: str, hidden: frozenset[str]) -> ConfigError:
    key_type, item_type = typing.get_args(hint) or (Any, Any)
    for name, item in value.items():
        for part, declared in ((name, key_type), (item, item_type)):
            try:
                msgspec.convert(part, declared, strict=True)
            except msgspec.ValidationError as exc:
                return _translated(exc, part, declared, _dotted(dotted, name), hidden, {})
    return ConfigError.at(dotted or "config", "is not allowed")


def _refusal(
    problem: str, value: Any, hint: Any, dotted: str, hidden: frozenset[str]
) -> ConfigError:
    """What ``problem`` (msgspec's words) means for ``value``, declared as ``hint``."""
    if problem.startswith("Object contains unknown field"):
        cls = _bare(hint, value)
        known = frozenset(field.name for field in _fields(cls))
        unknown = next(str(name) for name in value if name not in known)
        return _unknown(dotted, unknown, cls, hidden)
    if problem.startswith("Object missing required field"):
        needed = (field.name for field in _fields(_bare(hint, value)) if field.required)
        missing = next(name for name in needed if name not in value)
        return ConfigError.at(_dotted(dotted, missing), "missing (a value is required)")
    return ConfigError.at(dotted or "config", _wrong_value(problem, value, hint))


def _wrong_value(problem: str, value: Any, hint: Any) -> str:
    members = [member for member in _members(hint) if member is not type(None)]
    if members and all(typing.get_origin(member) is Literal for member in members):
        allowed = ", ".join(repr(choice) for choice in _literal_values(hint))
        return f"{shown(value)} is not allowed (allowed: {allowed})"
    said = _said(hint)  # the declaration words every value it takes, of any kind
    if said is not None:
        return f"{shown(value)} is not allowed (allowed: {said})"
    if _WRONG_KIND.fullmatch(problem):
        expected = " | ".join(dict.fromkeys(_kind(member) for member in _members(hint)))
        got = _KIND_NAMES.get(type(value), type(value).__name__)
        return f"expected `{expected}`, got `{got}` (value: {shown(value)})"
    if problem == "Number out of range":  # beyond what a float holds
        return f"{shown(value)} is not allowed (allowed: a finite number)"
    member = _member(hint, value)
    said = _said(member)
    if said is not None:
        return f"{shown(value)} is not allowed (allowed: {said})"
    info = spec.type_info(member)
    if isinstance(info, spec.Metadata):
        info = info.type
    if isinstance(info, spec.EnumType):
        allowed = ", ".join(repr(choice.value) for choice in info.cls)
        return f"{shown(value)} is not allowed (allowed: {allowed})"
    if isinstance(info, spec.IntType | spec.FloatType):
        return f"{shown(value)} is out of range (allowed: {_range(info)})"
    if isinstance(info, spec.StrType):
        low, high = info.min_length or 0, info.max_length
        lengths = f"{low}..{high}" if high is not None else f"at least {low}"
        return f"{shown(value)} is not allowed (allowed: {lengths} characters)"
    return f"{shown(value)} is not allowed ({problem[:1].lower()}{problem[1:]})"


def _said(hint: Any) -> str | None:
    """What ``Meta(extra={"allowed": ...})`` on ``hint`` says it allows, if it says."""
    if typing.get_origin(hint) is not typing.Annotated:
        return None
    for meta in typing.get_args(hint)[1:]:
        extra = meta.extra if isinstance(meta, msgspec.Meta) else None
        if extra and "allowed" in extra:
            return str(extra["allowed"])
    return None


def _unknown(key: str, name: str, declared: Any, hidden: frozenset[str]) -> ConfigError:
    allowed = ", ".join(field.name for field in _fields(declared) if field.name not in hidden)
    return ConfigError.at(_dotted(key, name), f"unknown key (allowed: {allowed})")


def _fields(cls: Any) -> tuple[spec.Field, ...]:
    info = spec.type_info(cls)
    return info.fields if isinstance(info, spec.StructType | spec.DataclassType) else ()


def _members(hint: Any) -> list[Any]:
    """The alternatives ``hint`` allows, each without its ``Annotated`` constraints."""
    pending, members = [hint], []
    while pending:
        item = pending.pop(0)
        origin = typing.get_origin(item)
        if origin is typing.Annotated:
            pending.insert(0, typing.get_args(item)[0])
        elif origin in {typing.Union, types.UnionType}:
            pending[:0] = typing.get_args(item)
        else:
            members.append(item)
    return members


def _member(hint: Any, value: Any) -> Any:
    """The alternative of ``hint`` (with its constraints) that ``value``'s kind fits."""
    bare = typing.get_args(hint)[0] if typing.get_origin(hint) is typing.Annotated else hint
    union = typing.get_origin(bare) in {typing.Union, types.UnionType}
    options = list(typing.get_args(bare)) if union else [hint]  # constraints on a whole union
    kind = _KIND_NAMES.get(type(value))
    for option in options:
        found = _kind(option)
        if found == kind or (found == "float" and kind == "int"):
            return option
    return options[0]


def _bare(hint: Any, value: Any) -> Any:
    """The alternative of ``hint`` that ``value``'s kind fits, without its constraints."""
    return _members(_member(hint, value))[0]


def _items(hint: Any) -> Any:
    """The declared type of an array's items."""
    args = typing.get_args(hint)
    return args[0] if args else Any


def _kind(hint: Any) -> str:
    """How a message names the kind of value ``hint`` declares."""
    bare = _members(hint)[0]
    if typing.get_origin(bare) is Literal:
        return _KIND_NAMES.get(type(typing.get_args(bare)[0]), "str")
    origin = typing.get_origin(bare) or bare
    if isinstance(origin, type) and (
        issubclass(origin, msgspec.Struct) or hasattr(origin, "__dataclass_fields__")
    ):
        return "object"
    for kind, name in _KIND_NAMES.items():
        if isinstance(origin, type) and issubclass(origin, kind):
            return name
    if origin in {set, frozenset}:
        return "array"
    return getattr(origin, "__name__", str(origin))


def _literal_values(hint: Any) -> tuple[Any, ...]:
    """The values of the ``Literal`` in ``hint``, in declared order."""
    return tuple(
        value
        for member in _members(hint)
        if typing.get_origin(member) is Literal
        for value in typing.get_args(member)
    )


def _range(info: spec.IntType | spec.FloatType) -> str:
    low, high = info.ge, info.le
    if low is not None and high is not None and info.gt is None and info.lt is None:
        return f"{shown(low)}..{shown(high)}"
    bounds = ((">=", low), (">", info.gt), ("<=", high), ("<", info.lt))
    return " and ".join(f"{symbol} {shown(bound)}" for symbol, bound in bounds if bound is not None)


def _dotted(key: str, name: object) -> str:
    return f"{key}.{shortened(str(name))}" if key else shortened(str(name))
