"""The chip's GPIO pins wired as inputs (``gpio_inputs``): an aux stream of their levels.

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

__all__ = ["GPIO_LEVEL_RANGE", "gpio_aux_stream", "gpio_levels"]

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
