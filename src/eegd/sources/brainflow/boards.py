"""BrainFlow's boards by name: ``BoardIds`` names and ids, and each board's EEG facts.

A board is named as BrainFlow's ``BoardIds`` spells it, case-insensitively and without the
``_BOARD`` suffix (``cyton_daisy``), or by its numeric id; its rate, EEG rows and channel
names come from BrainFlow's board description, its aux rows (accelerometer, analog inputs,
battery) from ``BoardShim.get_accel_channels``, ``get_analog_channels`` and
``get_battery_channel``. BrainFlow is imported on first use, since it is an optional extra.
"""

from __future__ import annotations

import difflib
import functools
import logging
import re
from dataclasses import dataclass
from typing import Any, Final

from eegd.aux_stream import AuxKind, AuxStream
from eegd.errors import ConfigError

__all__ = [
    "AuxRow",
    "BoardFacts",
    "aux_stream",
    "board_facts",
    "board_names",
    "board_shim",
    "release_board",
    "resolve_board",
]

logger = logging.getLogger(__name__)

_INSTALL_HINT = "install it with: pip install 'eegd[brainflow]'"
_NO_BOARD: Final = -100
"""``BoardIds.NO_BOARD``, a placeholder rather than a board."""


def board_shim() -> Any:
    """The ``brainflow.board_shim`` module, imported on first use (it is an optional extra)."""
    try:
        from brainflow import board_shim as shim
    except ImportError as exc:
        raise ConfigError(
            f"source.kind: brainflow needs the brainflow package; {_INSTALL_HINT}"
        ) from exc
    return shim


def release_board(board: Any) -> None:
    """Stop and release a board, logging (not raising) what BrainFlow refuses, and disarm
    its shim for good.

    ``BoardShim.__del__`` releases whatever session is prepared under the shim's board id
    and parameters, not only its own. A shim freed late (the traceback of a lost board's
    error keeps it until the garbage collector runs) would then end the next session of the
    same board, the one the reconnect opened; a released shim's deletion does nothing.
    """
    shim = board_shim()
    try:
        if board.is_prepared():
            try:
                board.stop_stream()
            except shim.BrainFlowError:
                pass  # not streaming yet: releasing the session is what matters
            board.release_session()
    except shim.BrainFlowError as exc:
        logger.warning("brainflow could not release the board: %s", exc)
    finally:
        board.__class__ = _released(board.__class__)


@functools.cache
def _released(shim_class: type) -> type:
    """``shim_class`` whose deletion leaves BrainFlow's sessions alone."""
    return type(f"Released{shim_class.__name__}", (shim_class,), {"__del__": _keep_sessions})


def _keep_sessions(board: Any) -> None:
    """A released shim's ``__del__``: its session is gone, any other is not its to end."""


def board_names() -> tuple[str, ...]:
    """Every board name ``resolve_board`` accepts, lower case, without ``_board``."""
    return tuple(
        _short_name(board.name) for board in board_shim().BoardIds if board.value != _NO_BOARD
    )


def _short_name(enum_name: str) -> str:
    return enum_name.lower().removesuffix("_board")


def resolve_board(board: str | int) -> int:
    """BrainFlow's numeric board id for a name (``"cyton_daisy"``, ``"MUSE_2"``) or an id."""
    ids = board_shim().BoardIds
    if isinstance(board, bool) or not isinstance(board, str | int):
        raise ConfigError(f"board: {board!r} is not allowed (allowed: a board name or id)")
    text = str(board).strip()
    if re.fullmatch(r"-?\d+", text):
        number = int(text)
        if number != _NO_BOARD and number in {member.value for member in ids}:
            return number
        numbers = ", ".join(str(member.value) for member in ids if member.value != _NO_BOARD)
        raise ConfigError(f"board: {number} is not a BrainFlow board id (allowed: {numbers})")
    wanted = text.upper()
    for member in ids:
        if member.value != _NO_BOARD and wanted in (
            member.name,
            member.name.removesuffix("_BOARD"),
        ):
            return int(member.value)
    names = board_names()
    close = difflib.get_close_matches(text.lower(), names, n=3)
    hint = f"did you mean {' or '.join(close)}? " if close else ""
    raise ConfigError(
        f"board: {text!r} is not a BrainFlow board ({hint}allowed: {', '.join(names)})"
    )


@dataclass(frozen=True, slots=True)
class BoardFacts:
    """What BrainFlow's board description says about a board's EEG stream."""

    board_id: int
    name: str
    sample_rate: float
    eeg_rows: tuple[int, ...]
    """Rows of ``get_board_data``'s array that hold EEG, in channel order."""
    channel_names: tuple[str, ...]
    timestamp_row: int | None
    marker_row: int | None = None
    """The row of the markers inserted with BrainFlow's ``insert_marker`` (0: none)."""
    aux_rows: tuple[AuxRow, ...] = ()
    """Rows of ``get_board_data``'s array that hold aux channels, in aux channel order."""


@dataclass(frozen=True, slots=True)
class AuxRow:
    """One aux row of a board: where it is, its name, unit, kind and the span of values
    it may take."""

    row: int
    name: str
    unit: str
    kind: AuxKind
    span: tuple[float, float]


#: What BrainFlow reports for each aux kind: its unit and the span eegd declares for it.
#: Accelerometers in g (OpenBCI's LIS3DH reads ±4 g, others up to ±16 g); the battery in
#: percent of charge; analog inputs in the board's own raw values, whose span BrainFlow does
#: not state (OpenBCI's Cyton: 10-bit readings), so a signed 16-bit span holds any board's.
_AUX_UNITS: Final = {
    AuxKind.ACCELEROMETER: ("g", (-16.0, 16.0)),
    AuxKind.ANALOG: ("", (-32768.0, 32767.0)),
    AuxKind.BATTERY: ("%", (0.0, 100.0)),
}


def aux_stream(facts: BoardFacts) -> AuxStream | None:
    """The board's aux stream (at its sampling rate), or None when it has no aux rows."""
    rows = facts.aux_rows
    if not rows:
        return None
    return AuxStream(
        channels=tuple(row.name for row in rows),
        units=tuple(row.unit for row in rows),
        kinds=tuple(row.kind for row in rows),
        sample_rate=facts.sample_rate,
        physical_range=tuple(row.span for row in rows),
    )


def _aux_rows(shim: Any, board_id: int, description: dict[str, Any]) -> tuple[AuxRow, ...]:
    """The accelerometer, analog and battery rows BrainFlow names for the board. A kind is
    asked for only when the description lists it: BrainFlow logs an error for the others."""
    board = shim.BoardShim

    def rows(getter: Any, key: str) -> list[int]:
        if key not in description:
            return []
        found = getter(board_id)
        return [int(found)] if isinstance(found, int) else [int(row) for row in found]

    accel = rows(board.get_accel_channels, "accel_channels")
    names = ["AccelX", "AccelY", "AccelZ"] if len(accel) == 3 else None
    found: list[tuple[AuxKind, list[int], list[str]]] = [
        (AuxKind.ACCELEROMETER, accel, names or [f"Accel{i + 1}" for i in range(len(accel))]),
    ]
    analog = rows(board.get_analog_channels, "analog_channels")
    found.append((AuxKind.ANALOG, analog, [f"Analog{i + 1}" for i in range(len(analog))]))
    battery = rows(board.get_battery_channel, "battery_channel")
    found.append((AuxKind.BATTERY, battery, ["Battery"] * len(battery)))
    return tuple(
        AuxRow(row, name, _AUX_UNITS[kind][0], kind, _AUX_UNITS[kind][1])
        for kind, kind_rows, kind_names in found
        for row, name in zip(kind_rows, kind_names, strict=True)
    )


def board_facts(board_id: int) -> BoardFacts:
    """The EEG rows, names and rate of a board, from BrainFlow's description of it."""
    shim = board_shim()
    try:
        description = shim.BoardShim.get_board_descr(board_id)
    except shim.BrainFlowError as exc:
        raise ConfigError(
            f"board: BrainFlow has no description of board {board_id}: {exc}"
        ) from exc
    name = _short_name(shim.BoardIds(board_id).name)
    rows = tuple(int(row) for row in description.get("eeg_channels", ()))
    if not rows:
        raise ConfigError(f"board: {name} has no EEG channels")
    labels = str(description.get("eeg_names", "")).split(",")
    if len(labels) != len(rows) or not all(labels):
        labels = [f"EEG{index + 1}" for index in range(len(rows))]
    timestamp_row = description.get("timestamp_channel")
    marker_row = description.get("marker_channel")
    return BoardFacts(
        board_id=board_id,
        name=name,
        sample_rate=float(description["sampling_rate"]),
        eeg_rows=rows,
        channel_names=tuple(labels),
        timestamp_row=None if timestamp_row is None else int(timestamp_row),
        marker_row=None if marker_row is None else int(marker_row),
        aux_rows=_aux_rows(shim, board_id, description),
    )
