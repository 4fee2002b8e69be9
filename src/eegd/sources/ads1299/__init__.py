"""The TI ADS1299 EEG front-end: its driver, the register map, and an emulator of the chip.

``ADS1299Source`` is the source (``source.kind = "ads1299"``), configured by
``ADS1299Settings`` (the ``[source.ads1299]`` table); ``ADS1299Emulator`` stands in for the
chip at the SPI/GPIO level, for tests, benchmarks and ``emulate = true``.

The driver's side: ``driver`` (open, decode, close), ``conversions`` (reading frame by
frame, what is dropped and why), ``commands`` (opcodes and the start-up flow), ``frames``
(decoding), ``gpio_inputs`` (the GPIO input pins' aux stream), ``registers`` (the map,
opcodes, the ID) and ``fields`` (each register's value). The emulator's: ``emulator``
(pins, commands, DRDY timing), ``faults`` (what it injects), ``register_file`` (its
register maps), ``dout`` (the frames it shifts out), ``signals`` (its analog inputs),
``excitation`` (its electrodes under the lead-off current) and ``gpio_pins`` (outside
signals on its GPIO pins).
"""

from __future__ import annotations

from eegd.sources.ads1299.driver import ADS1299Source
from eegd.sources.ads1299.emulator import ADS1299Emulator
from eegd.sources.ads1299.faults import Faults
from eegd.sources.ads1299.interface import ControlLines, Hardware, SpiDevice, VirtualClock
from eegd.sources.ads1299.settings import ADS1299Settings

__all__ = [
    "ADS1299Emulator",
    "ADS1299Settings",
    "ADS1299Source",
    "ControlLines",
    "Faults",
    "Hardware",
    "SpiDevice",
    "VirtualClock",
]
