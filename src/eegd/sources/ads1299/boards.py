"""Board presets: how the ADS1299 boards people own are wired to a Raspberry Pi.

A preset gives every wiring key of ``[source.ads1299]`` (SPI bus and chip selects, DRDY
line or lines, which of START, RESET and PWDN are wired, SPI clock, chips and readback
mode, the chip GPIO pins left free); any key set in the table overrides it. A control
line that is not wired (``false`` in TOML, None here) is replaced by its opcode (START
0x08 / STOP 0x0A, RESET 0x06); no PWDN line means the chip is never powered down.

Where each wiring comes from: ``elata`` is elata-eeg's TI ADS1299EEG-FE on a Pi 5 (CS on
CE0, DRDY on GPIO25, no START/RESET/PWDN lines, its README's 4 MHz); ``pieeg`` is BrainFlow's
PiEEG board (``/dev/spidev0.0``, DRDY on GPIO26, 1 MHz, the chip's GPIO4 drives an LED);
``pieeg16`` is the PiEEG-16 vendor code (chip 1 on CE0 with DRDY on GPIO26, chip 2 selected
by GPIO19 with DRDY on GPIO13, 4 MHz, one CS and one DRDY per chip); ``hat`` is a board with
every control line wired (DRDY 25, START 22, RESET 23, PWDN 24: eegd's wiring before presets).

``series_resistance_ohms`` is the resistor between each electrode and its input pin, which
the impedance check subtracts: 4.99 kΩ on the ADS1299EEG-FE (its input RC filters); 0 on
the others, whose schematics were not checked (set it if yours has one).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Final, Literal

__all__ = ["BOARDS", "DEFAULT_BOARD", "WIRING_KEYS", "Board", "BoardName"]

BoardName = Literal["elata", "pieeg", "pieeg16", "hat"]
"""The presets, as ``[source.ads1299] board`` declares them (``BOARDS`` holds each one)."""


@dataclass(frozen=True, slots=True)
class Board:
    """One board's wiring: ``[source.ads1299]`` keys and their values."""

    name: BoardName
    description: str
    wiring: Mapping[str, Any]


#: The keys a preset sets; each may be overridden by the same key in the table.
WIRING_KEYS: Final = (
    "spi_bus",
    "chip_selects",
    "drdy_gpio",
    "start_gpio",
    "reset_gpio",
    "pwdn_gpio",
    "spi_hz",
    "chips",
    "readback",
    "reference_buffer",
    "free_chip_gpios",
    "series_resistance_ohms",
)


def _board(name: BoardName, description: str, **wiring: Any) -> Board:
    missing = set(WIRING_KEYS) - set(wiring)
    if missing:
        raise ValueError(f"board {name!r} leaves out {sorted(missing)}")
    return Board(name, description, MappingProxyType(wiring))


_BOARDS = (
    _board(
        "elata",
        "TI ADS1299EEG-FE on a Pi 5, elata-eeg's wiring: CS on CE0, DRDY on GPIO25, "
        "START and RESET by opcode",
        spi_bus=0,
        chip_selects=("ce0",),
        drdy_gpio=25,
        start_gpio=None,
        reset_gpio=None,
        pwdn_gpio=None,
        spi_hz=4_000_000,
        chips=None,
        readback="daisy",
        reference_buffer=True,
        free_chip_gpios=(1, 2, 3, 4),
        series_resistance_ohms=4990.0,
    ),
    _board(
        "pieeg",
        "PiEEG (8 channels): CS on CE0, DRDY on GPIO26, START and RESET by opcode",
        spi_bus=0,
        chip_selects=("ce0",),
        drdy_gpio=26,
        start_gpio=None,
        reset_gpio=None,
        pwdn_gpio=None,
        spi_hz=1_000_000,
        chips=1,
        readback="daisy",
        reference_buffer=True,
        free_chip_gpios=(),
        series_resistance_ohms=0.0,
    ),
    _board(
        "pieeg16",
        "PiEEG-16: chip 1 on CE0 with DRDY on GPIO26, chip 2 selected by GPIO19 with DRDY "
        "on GPIO13 (multiple readback), START and RESET by opcode",
        spi_bus=0,
        chip_selects=("ce0", "gpio19"),
        drdy_gpio=(26, 13),
        start_gpio=None,
        reset_gpio=None,
        pwdn_gpio=None,
        spi_hz=4_000_000,
        chips=2,
        readback="multiple",
        reference_buffer=True,
        free_chip_gpios=(),
        series_resistance_ohms=0.0,
    ),
    _board(
        "hat",
        "an ADS1299 board with every control line wired: CS on CE0, DRDY GPIO25, "
        "START GPIO22, RESET GPIO23, PWDN GPIO24",
        spi_bus=0,
        chip_selects=("ce0",),
        drdy_gpio=25,
        start_gpio=22,
        reset_gpio=23,
        pwdn_gpio=24,
        spi_hz=4_000_000,
        chips=None,
        readback="daisy",
        reference_buffer=True,
        free_chip_gpios=(1, 2, 3, 4),
        series_resistance_ohms=0.0,
    ),
)

#: Every preset by name.
BOARDS: Final[Mapping[str, Board]] = MappingProxyType({board.name: board for board in _BOARDS})

#: The board a table without ``board`` describes: the seed's own.
DEFAULT_BOARD: Final[BoardName] = "elata"
