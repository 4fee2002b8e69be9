"""A source's aux stream: the channels it samples besides EEG (accelerometer, analog inputs,
battery, GPIO pins), each with its name, unit and kind, at a rate of its own.

The description travels with the session (``SourceSession.aux``), so the hello, the LSL
outlet and the recorder describe the stream without asking the source; the samples travel
as ``AuxPacket``s (``eegd.events``). A source without aux declares none, and then nothing
downstream has an aux stream.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass
from typing import Any

__all__ = ["AuxKind", "AuxStream"]


class AuxKind(enum.StrEnum):
    """What an aux channel measures."""

    ACCELEROMETER = "accelerometer"
    ANALOG = "analog"
    BATTERY = "battery"
    GPIO = "gpio"


@dataclass(frozen=True, slots=True)
class AuxStream:
    """The aux channels of a session: per channel its name, unit, kind and the span of
    values it may take (``physical_range``, in its unit, which the recorder quantises over);
    ``sample_rate`` is the aux stream's own samples per second per channel.

    Building one checks it: at least one channel, one unit, kind and span per name, names
    unique, a positive finite rate, each span's low below its high.
    """

    channels: tuple[str, ...]
    units: tuple[str, ...]
    kinds: tuple[AuxKind, ...]
    sample_rate: float
    physical_range: tuple[tuple[float, float], ...]

    def __post_init__(self) -> None:
        count = len(self.channels)
        if count == 0:
            raise ValueError("an aux stream has at least one channel")
        lengths = (len(self.units), len(self.kinds), len(self.physical_range))
        if any(length != count for length in lengths):
            raise ValueError(
                f"{count} aux channels need as many units, kinds and ranges, not {lengths}"
            )
        if len(set(self.channels)) != count:
            raise ValueError(f"aux channel names must be unique: {list(self.channels)}")
        if not (math.isfinite(self.sample_rate) and self.sample_rate > 0):
            raise ValueError(f"aux sample_rate must be positive, not {self.sample_rate!r}")
        for name, (low, high) in zip(self.channels, self.physical_range, strict=True):
            if not (math.isfinite(low) and math.isfinite(high) and low < high):
                raise ValueError(f"aux channel {name!r}: range ({low}, {high}) is empty")

    def as_json(self) -> dict[str, Any]:
        """The description clients see (the hello's ``aux``, ``source_connected``'s detail)."""
        return {
            "channels": list(self.channels),
            "units": list(self.units),
            "kinds": [kind.value for kind in self.kinds],
            "sample_rate": self.sample_rate,
            "physical_range": [list(span) for span in self.physical_range],
        }
