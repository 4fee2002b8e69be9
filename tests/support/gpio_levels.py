"""What the held-out ADS1299 model drove on its GPIO pins: outside signals for them, and the
levels each conversion's status word carried (``ADS1299Model.gpio_shifted``), per pin and
sample, to compare eegd's aux stream with."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import numpy.typing as npt

from tests.support.ads1299_model import ADS1299Model

__all__ = ["driven_levels", "random_levels"]


def random_levels(seed: int, rate: float) -> Callable[[float], bool]:
    """A level drawn at random for each sample period: neighbouring samples differ often,
    so a sample read one conversion early or late does not match."""
    levels = np.random.default_rng(seed).integers(0, 2, 4096).astype(bool)
    return lambda t: bool(levels[int(t * rate + 0.5) % len(levels)])


def driven_levels(
    chip: ADS1299Model, first: int, count: int, pins: Sequence[int]
) -> npt.NDArray[np.float32]:
    """Pins × ``count`` levels (0.0 or 1.0) the model put in the status words of its
    conversions from the ``first``-th shifted out on (the first one read is the session's
    sample 0)."""
    shifted = list(chip.gpio_shifted)
    start = shifted[0][0] + first
    by_conversion = dict(shifted)
    nibbles = np.array([by_conversion[start + i] for i in range(count)])
    return np.array([nibbles >> (pin - 1) & 1 for pin in pins], dtype=np.float32)
