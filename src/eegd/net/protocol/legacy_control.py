"""The old daemon's ``/command`` and ``/config`` messages, sans-I/O: text in, replies out.

Replies keep its shape, ``{"status": "ok"|"error", "message": ...}``, and its wording where
a kiosk built for it reads them: ``Currently recording to NAME``, ``Recording stopped``,
``Not recording``, ``Config update submitted``, ``Configuration unchanged``, ``Channel list
cannot be empty``, ``Cannot change configuration during recording``, ``Invalid powerline
filter value``, ``Invalid command format: ...``, ``Invalid config format: ...``.
``eegd.net.legacy`` carries the messages out over the REST routes they stand for.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Annotated, Any, Final, Literal

import msgspec

__all__ = [
    "COMMAND_SHAPE",
    "CONFIG_SHAPE",
    "DURING_RECORDING",
    "ConfigChange",
    "LegacyCommand",
    "config_changes",
    "config_message",
    "parse_command",
    "parse_config",
    "powerline_refusal",
    "reply",
]

COMMAND_SHAPE: Final = (
    '{"command": "start" | "stop" | "status"} or '
    '{"command": "set_powerline_filter", "value": 50 | 60 | null}'
)
CONFIG_SHAPE: Final = (
    '{"channels": [0, 1, ...], "sample_rate": integer, "powerline_filter_hz": 50 | 60 | null}'
)
#: The old daemon's refusal of a change while a recording runs.
DURING_RECORDING: Final = "Cannot change configuration during recording"

#: The notch frequencies ``set_powerline_filter`` and ``powerline_filter_hz`` take (or null).
_POWERLINE_HZ: Final = (50, 60)

_U32 = Annotated[int, msgspec.Meta(ge=0, le=2**32 - 1)]


class LegacyCommand(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A ``/command`` message; ``value`` is only for ``set_powerline_filter``."""

    command: Literal["start", "stop", "status", "set_powerline_filter"]
    value: _U32 | None = None


class ConfigChange(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A ``/config`` message: the keys given are the ones to change."""

    channels: list[_U32] | msgspec.UnsetType = msgspec.UNSET
    sample_rate: _U32 | msgspec.UnsetType = msgspec.UNSET
    powerline_filter_hz: Literal[50, 60] | None | msgspec.UnsetType = msgspec.UNSET


def reply(ok: bool, message: str) -> str:
    """The old reply: ``{"status": "ok"|"error", "message": ...}``."""
    return json.dumps({"status": "ok" if ok else "error", "message": message})


def parse_command(text: str | bytes) -> LegacyCommand | str:
    """The command ``text`` holds, or the error reply that says what is allowed."""
    try:
        return msgspec.json.decode(text, type=LegacyCommand)
    except (msgspec.DecodeError, RecursionError) as exc:
        return reply(False, f"Invalid command format: {exc}; expected {COMMAND_SHAPE}")


def powerline_refusal(command: LegacyCommand) -> str | None:
    """The old daemon's refusal of a ``set_powerline_filter`` value, None if it is allowed."""
    if command.value is None or command.value in _POWERLINE_HZ:
        return None
    return reply(False, "Invalid powerline filter value")


def parse_config(text: str | bytes) -> ConfigChange | str:
    """The change ``text`` holds, or the error reply that says what is allowed."""
    try:
        return msgspec.json.decode(text, type=ConfigChange)
    except (msgspec.DecodeError, RecursionError) as exc:
        return reply(False, f"Invalid config format: {exc}; expected {CONFIG_SHAPE}")


def config_changes(change: ConfigChange, current: Mapping[str, Any]) -> dict[str, Any] | str:
    """What ``change`` changes, as ``{"source": {...}, "filter": {...}}`` with the keys that
    differ from ``current`` (a ``config_message``), or the error reply."""
    source: dict[str, Any] = {}
    if not isinstance(change.channels, msgspec.UnsetType):
        if not change.channels:
            return reply(False, "Channel list cannot be empty")
        count = len(change.channels)
        if change.channels != list(range(count)):
            return reply(
                False,
                f"channels: {change.channels[:8]} cannot be chosen: eegd streams the first n "
                f"channels, so send [0, 1, ..., n-1] (here [0, ..., {count - 1}])",
            )
        if count != len(current["channels"]):
            source["channels"] = count
    if not isinstance(change.sample_rate, msgspec.UnsetType):
        if change.sample_rate != current["sample_rate"]:
            source["sample_rate"] = change.sample_rate
    notch: dict[str, Any] = {}
    if not isinstance(change.powerline_filter_hz, msgspec.UnsetType):
        if change.powerline_filter_hz != current["powerline_filter_hz"]:
            notch["notch_hz"] = change.powerline_filter_hz or 0
    return {"source": source, "filter": notch}


def _gain(settings: Mapping[str, Any]) -> float:
    """The amplifier gain a ``[source.<kind>]`` table sets (its first channel's), else 1:
    eegd's samples are volts at the electrode whatever the gain."""
    gain = settings.get(str(settings.get("kind")), {}).get("gain", 1)
    first = gain[0] if isinstance(gain, list | tuple) and gain else gain
    return float(first) if isinstance(first, int | float) else 1.0


def config_message(source: Mapping[str, Any], filter_state: Mapping[str, Any]) -> dict[str, Any]:
    """The old daemon's configuration message, from ``GET /api/source`` and ``/api/filter``:
    ``sample_rate``, ``channels`` as the old indices ``[0, ..., n-1]``, ``gain``,
    ``board_driver`` (``source.kind``), ``batch_size`` and ``powerline_filter_hz``."""
    session = source.get("session") or {}
    settings = source.get("settings", {})
    rate = session.get("sample_rate", settings.get("sample_rate"))
    notch = filter_state.get("notch_hz") or None
    return {
        "sample_rate": int(rate) if isinstance(rate, float) and rate.is_integer() else rate,
        "channels": list(range(len(session.get("channels", [])))),
        "gain": _gain(settings),
        "board_driver": settings.get("kind"),
        "batch_size": settings.get("batch_size"),
        "powerline_filter_hz": int(notch) if notch else None,
    }
