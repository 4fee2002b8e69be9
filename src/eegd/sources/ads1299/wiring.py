"""The wiring part of ``[source.ads1299]``: a board preset merged with overrides, then checked.

``merge_board`` applies the preset ``board`` names under the keys the table sets;
``check_wiring`` refuses wirings that contradict themselves, with a ``ConfigError`` that
names every key involved: a line used twice, a control line on one of the SPI pins,
several chips behind one chip select in a daisy chain, or one DRDY for several chips in
multiple readback. Each value on its own is checked by the settings' declaration
(``Readback``, ``CHIP_SELECT_PATTERN``). ``ChipSelect`` says how a transfer selects one chip.
"""

from __future__ import annotations

import re
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal

from eegd.errors import ConfigError, shown
from eegd.sources.ads1299.boards import BOARDS, DEFAULT_BOARD

__all__ = [
    "CHIP_SELECT_ALLOWED",
    "CHIP_SELECT_PATTERN",
    "FREE_PINS_ALLOWED",
    "GPIO_INPUTS_ALLOWED",
    "LINE_KEYS",
    "READBACK_MODES",
    "ChipSelect",
    "Readback",
    "check_gpio_inputs",
    "check_wiring",
    "chip_selects",
    "held_lines",
    "merge_board",
]

_KEY = "source.ads1299."

#: The GPIO line keys a board may leave unwired (``false`` in TOML).
LINE_KEYS: Final = ("start_gpio", "reset_gpio", "pwdn_gpio")

Readback = Literal["daisy", "multiple"]
"""``daisy``: one CS and one DRDY for the chain, frames shift through DAISY_IN.
``multiple``: one CS and one DRDY per chip (CONFIG1 DAISY_EN' set)."""
READBACK_MODES: Final[tuple[str, ...]] = typing.get_args(Readback)

#: A chip select: ``ce<N>`` (``/dev/spidev<bus>.<N>``) or ``gpio<N>`` (a GPIO line).
CHIP_SELECT_PATTERN: Final = r"^(ce|gpio)(\d{1,4})$"
CHIP_SELECT_ALLOWED: Final = '"ce<N>" for /dev/spidev<bus>.<N>, "gpio<N>" for a GPIO line'

#: The Raspberry Pi header's SPI0 pins (BCM numbers): no control line may use them.
_SPI0_PINS: Final = {7: "CE1", 8: "CE0", 9: "MISO", 10: "MOSI", 11: "SCLK"}
#: Chip-select outputs of a Pi SPI controller (spidev<bus>.0 and .1).
_HARDWARE_CS: Final = (0, 1)
_SELECT = re.compile(CHIP_SELECT_PATTERN)
#: What ``free_chip_gpios`` takes.
FREE_PINS_ALLOWED: Final = (
    "the chip's GPIO pins 1..4 the board leaves unconnected, each once, e.g. [1, 2, 3, 4] or []"
)

#: What ``gpio_inputs`` takes.
GPIO_INPUTS_ALLOWED: Final = (
    "pins of free_chip_gpios (1..4), each once, wired to an outside signal, e.g. [1] or []"
)


@dataclass(frozen=True, slots=True)
class ChipSelect:
    """How one chip is selected: ``/dev/spidev<bus>.<device>``, with CS on a GPIO line or not.

    With ``gpio`` set the chip's CS is that line, driven low around each transfer; the
    transfer goes through a spidev device whose own CE pin no chip uses.
    """

    device: int
    gpio: int | None = None


def merge_board(options: Mapping[str, Any]) -> dict[str, Any]:
    """The table's values over its board's preset; a line that is ``false`` becomes None."""
    board = options.get("board", DEFAULT_BOARD)
    if not isinstance(board, str) or board not in BOARDS:
        raise ConfigError(
            f"{_KEY}board: {shown(board)} is not a known board (allowed: {', '.join(BOARDS)})"
        )
    values: dict[str, Any] = {**BOARDS[board].wiring, **options}
    for key in LINE_KEYS:
        if values.get(key) is False:
            values[key] = None
    values["board"] = board
    return values


def chip_selects(selects: tuple[str, ...]) -> tuple[ChipSelect, ...]:
    """Parse ``chip_selects`` (``"ce0"``, ``"gpio19"``, ...); raises ``ConfigError``."""
    parsed: list[tuple[str, int]] = []
    for select in selects:
        match = _SELECT.fullmatch(select)
        if match is None:
            raise ConfigError(
                f"{_KEY}chip_selects: {shown(select)} is not allowed "
                f"(allowed: {CHIP_SELECT_ALLOWED})"
            )
        parsed.append((match[1], int(match[2])))
    used = {number for kind, number in parsed if kind == "ce"}
    spare = next((ce for ce in _HARDWARE_CS if ce not in used), None)
    result = []
    for kind, number in parsed:
        if kind == "ce":
            result.append(ChipSelect(number))
        elif spare is None:
            raise ConfigError(
                f"{_KEY}chip_selects: a GPIO chip select needs a spidev device whose CE no "
                f"chip uses, but {sorted(used)} take both of CE0 and CE1"
            )
        else:
            result.append(ChipSelect(spare, number))
    if len(set(result)) != len(result):
        raise ConfigError(f"{_KEY}chip_selects: {list(selects)} selects one chip twice")
    return tuple(result)


def _drdy_lines(drdy: int | tuple[int, ...]) -> tuple[int, ...]:
    return drdy if isinstance(drdy, tuple) else (drdy,)


def check_wiring(values: Mapping[str, Any]) -> None:
    """Refuse a wiring that contradicts itself; the error names every key involved."""
    readback = values["readback"]
    selects = chip_selects(values["chip_selects"])
    drdys = _drdy_lines(values["drdy_gpio"])
    chips = values["chips"]
    if readback == "daisy":
        if len(selects) != 1:
            raise ConfigError(
                f"{_KEY}chip_selects and {_KEY}readback: {len(selects)} chip selects, but a "
                'daisy chain ("daisy") shares one CS (use readback = "multiple")'
            )
        if len(drdys) != 1:
            raise ConfigError(
                f"{_KEY}drdy_gpio and {_KEY}readback: {len(drdys)} DRDY lines, but a daisy "
                'chain ("daisy") has one, chip 1\'s (use readback = "multiple")'
            )
    else:
        if chips is None:
            raise ConfigError(
                f'{_KEY}chips: must be set with readback = "multiple" (one CS and DRDY a chip)'
            )
        for key, count in (("chip_selects", len(selects)), ("drdy_gpio", len(drdys))):
            if count != chips:
                raise ConfigError(
                    f"{_KEY}{key} and {_KEY}chips: {count} for {chips} chips, but "
                    f'readback = "multiple" needs one per chip ({_KEY}readback)'
                )
    _check_lines_apart(values["spi_bus"], selects, drdys, values)
    free = values["free_chip_gpios"]
    if len(set(free)) != len(free):
        raise ConfigError(
            f"{_KEY}free_chip_gpios: {list(free)!r} is not allowed (allowed: {FREE_PINS_ALLOWED})"
        )


def check_gpio_inputs(inputs: tuple[int, ...], free: tuple[int, ...], board: str) -> None:
    """Refuse input pins given twice or not free: a pin the board uses (``free_chip_gpios``
    leaves it out, e.g. PiEEG's LED on GPIO4) is the board's, not an outside signal's."""
    key = f"{_KEY}gpio_inputs"
    if len(set(inputs)) != len(inputs):
        raise ConfigError(
            f"{key}: {list(inputs)!r} names a pin twice (allowed: {GPIO_INPUTS_ALLOWED})"
        )
    used = [pin for pin in inputs if pin not in free]
    if used:
        pins = ", ".join(f"GPIO{pin}" for pin in used)
        raise ConfigError(
            f"{key}: {pins} of the chip is not free on board {board!r} "
            f"({_KEY}free_chip_gpios = {list(free)!r}: the board uses the others, e.g. for "
            f"an LED) (allowed: {GPIO_INPUTS_ALLOWED})"
        )


def _named_lines(
    selects: tuple[ChipSelect, ...], drdys: tuple[int, ...], values: Mapping[str, Any]
) -> list[tuple[str, int]]:
    """Each GPIO line the wiring uses, with its key."""
    named = [("drdy_gpio", line) for line in drdys]
    named += [(key, values[key]) for key in LINE_KEYS if values[key] is not None]
    named += [("chip_selects", s.gpio) for s in selects if s.gpio is not None]
    return named


def held_lines(values: Mapping[str, Any]) -> dict[int, str]:
    """The GPIO lines a (checked) wiring holds, each with its key; SPI0's pins are
    ``spi_bus``'s when that bus is in use."""
    selects = chip_selects(values["chip_selects"])
    held = {
        line: key for key, line in _named_lines(selects, _drdy_lines(values["drdy_gpio"]), values)
    }
    if values["spi_bus"] == 0:
        held.update({line: "spi_bus" for line in _SPI0_PINS})
    return held


def _check_lines_apart(
    bus: int, selects: tuple[ChipSelect, ...], drdys: tuple[int, ...], values: Mapping[str, Any]
) -> None:
    """Every GPIO line has one job, and none is an SPI pin of the bus in use."""
    users: dict[int, str] = {}
    for key, line in _named_lines(selects, drdys, values):
        if line in users:
            raise ConfigError(
                f"{_KEY}{users[line]} and {_KEY}{key} both use GPIO{line} (allowed: one job "
                "per line)"
            )
        users[line] = key
        if bus == 0 and line in _SPI0_PINS:
            raise ConfigError(
                f"{_KEY}{key}: GPIO{line} is SPI0 {_SPI0_PINS[line]} (allowed: a line that "
                "is not one of GPIO7..11)"
            )
