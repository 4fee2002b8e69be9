"""The chip's GPIO pins: those wired as inputs (``gpio_inputs``), an aux stream of their
levels; the others eegd drives, the reset echo (``gpio_echo``).

SBAS499: the GPIO register's GPIOC bits make a pin an input, and in RDATAC every status
word ends with GPIOD[4:1], the four pins' levels as the conversion left them. So each
input pin's level is sampled with each frame, at the EEG rate, with no extra transfer.
Pure functions on the decoded status words, no I/O.

Each input pin is one aux channel, ``GPIO<n>``: 0 (low) or 1 (high), without a unit (a
blank EDF/BDF physical dimension, which MNE reads at scale 1; ``n/a`` in a BIDS
``_channels.tsv``), kind ``gpio``, over the range 0..1, which EDF's 16 and BDF's 24 bits
hold exactly at their ends. Chip 1's pins are read; in a daisy chain the other chips hear
the same GPIO write, so their pins are inputs too, but unread.
"""

from __future__ import annotations

from typing import Final

import numpy as np
import numpy.typing as npt

from eegd.aux_stream import AuxKind, AuxStream

__all__ = ["GPIO_LEVEL_RANGE", "gpio_aux_stream", "gpio_echo", "gpio_levels"]

#: What a pin's level may be: low (0) or high (1).
GPIO_LEVEL_RANGE: Final = (0.0, 1.0)


def gpio_aux_stream(pins: tuple[int, ...], sample_rate: float) -> AuxStream | None:
    """The aux stream of the input ``pins`` (1..4) at the EEG rate; None without any."""
    if not pins:
        return None
    return AuxStream(
        channels=tuple(f"GPIO{pin}" for pin in pins),
        units=("",) * len(pins),
        kinds=(AuxKind.GPIO,) * len(pins),
        sample_rate=sample_rate,
        physical_range=(GPIO_LEVEL_RANGE,) * len(pins),
    )


def gpio_levels(status: npt.NDArray[np.uint8], pins: tuple[int, ...]) -> npt.NDArray[np.float32]:
    """Each pin's level (pins × frames, 0.0 or 1.0) in chip 1's status words.

    ``status`` is frames × chips × 3 bytes; GPIOD[4:1] is the low nibble of the last byte,
    GPIO1 its lowest bit.
    """
    nibble = status[:, 0, 2] & 0x0F
    shifts = np.array(pins, dtype=np.uint8)[:, np.newaxis] - 1
    return ((nibble[np.newaxis, :] >> shifts) & 1).astype(np.float32)


def gpio_echo(free_pins: tuple[int, ...]) -> tuple[int, int]:
    """(mask, pattern) of the chip's GPIO[4:1] bits eegd drives as an echo in each status word.

    The free pins become outputs: alternately high and low, the first high. After a
    reset every pin is an input again and reads the board's level, so the pattern
    vanishes from the status word of the chip that lost its configuration.
    """
    mask = pattern = 0
    for order, pin in enumerate(sorted(free_pins)):
        mask |= 1 << (pin - 1)
        if order % 2 == 0:
            pattern |= 1 << (pin - 1)
    return mask, pattern
