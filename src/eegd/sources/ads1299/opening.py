"""What an ``ADS1299Source`` opens by default: the chip through spidev and gpiod, or the emulator.

Kept apart from the driver so that the driver imports neither: the emulator is a tool for
``emulate = true`` and benchmarks, never a source of the driver's constants.
"""

from __future__ import annotations

from collections.abc import Sequence

from eegd.sources.ads1299.interface import Hardware, VirtualClock
from eegd.sources.ads1299.settings import ADS1299Settings

__all__ = ["default_hardware"]


def default_hardware(
    settings: ADS1299Settings, chips: int, electrode_ohms: Sequence[float | None] = ()
) -> Hardware:
    """A fresh emulated chain with ``emulate`` on (its electrodes of ``electrode_ohms``
    behind the board's series resistors), else the board's SPI devices and lines."""
    if settings.emulate:
        from eegd.sources.ads1299.emulator import ADS1299Emulator

        clock = VirtualClock(realtime=settings.paced)
        emulator = ADS1299Emulator(
            chips, clock, settings.seed, electrode_ohms, settings.series_resistance_ohms
        )
        return emulator.hardware(settings)
    from eegd.sources.ads1299.hardware import open_hardware

    return open_hardware(settings)
