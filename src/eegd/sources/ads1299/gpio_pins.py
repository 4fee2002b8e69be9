"""What is wired to the emulated chips' GPIO1..4 pins from outside: a level, or a signal of
time (a photodiode's square wave, a button), which a test sets.

SBAS499, GPIO register (0x14): GPIOC[4:1] (bits 3:0) set a pin's direction, 1 an input;
GPIOD[4:1] (bits 7:4) are the levels. An output pin reads back what was written; an input
reads the pin, which the board otherwise ties low. Every status word in RDATAC carries
GPIOD as the conversion left it, so an input's level is sampled with each frame.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

__all__ = ["PINS", "GpioPins", "PinSignal", "square_wave"]

#: The chip's GPIO pins, as the datasheet numbers them.
PINS: Final = (1, 2, 3, 4)

PinSignal = bool | Callable[[float], bool]
"""A pin's outside level: fixed, or as a function of the sample clock's time (seconds)."""


def square_wave(period_s: float, high_s: float | None = None, start_s: float = 0.0) -> PinSignal:
    """High for ``high_s`` (half the period by default) from ``start_s`` on, every period."""
    high = period_s / 2 if high_s is None else high_s
    return lambda t: t >= start_s and (t - start_s) % period_s < high


class GpioPins:
    """The outside signals on each chip's pins; an unconnected pin reads low."""

    def __init__(self, chips: int) -> None:
        self._chips = chips
        self._signals: dict[tuple[int, int], PinSignal] = {}

    def connect(self, pin: int, signal: PinSignal, chip: int = 0) -> None:
        """Wire ``signal`` to GPIO ``pin`` (1..4) of chip ``chip`` (0-based)."""
        if pin not in PINS or not 0 <= chip < self._chips:
            raise ValueError(f"no GPIO{pin} on chip {chip} of {self._chips}")
        self._signals[chip, pin] = signal

    def disconnect(self, pin: int, chip: int = 0) -> None:
        """Leave the pin unconnected again."""
        self._signals.pop((chip, pin), None)

    @property
    def connected(self) -> bool:
        """Whether any pin has an outside signal."""
        return bool(self._signals)

    def levels(self, chip: int, time_s: float) -> int:
        """The four pins' outside levels at ``time_s`` as GPIOD[4:1] (GPIO1 in bit 0)."""
        nibble = 0
        for pin in PINS:
            signal = self._signals.get((chip, pin), False)
            if signal(time_s) if callable(signal) else signal:
                nibble |= 1 << (pin - 1)
        return nibble

    def data_bits(self, register: int, chip: int, time_s: float) -> int:
        """GPIOD[4:1] as chip ``chip`` reads it with GPIO register ``register``: outputs
        what was written, inputs the outside level."""
        inputs = register & 0x0F
        return (register >> 4) & ~inputs & 0x0F | self.levels(chip, time_s) & inputs
