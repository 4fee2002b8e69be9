"""The real ADS1299 wiring: spidev for SPI (mode 1) and libgpiod v2 for START, RESET, PWDN, DRDY.

A thin adapter to the driver's ``SpiDevice`` and ``ControlLines``; nothing here knows the
chip's protocol. Both packages come with the ``ads1299`` extra; a missing one, or a device
that cannot be opened, is a ``SourceError`` that says what to do.
"""

from __future__ import annotations

import importlib
from datetime import timedelta
from types import ModuleType
from typing import Any

from eegd.clock import SYSTEM_BLOCKING_CLOCK
from eegd.errors import SourceError
from eegd.sources.ads1299.interface import Hardware
from eegd.sources.ads1299.settings import ADS1299Settings

__all__ = ["GpiodLines", "SpidevDevice", "open_hardware"]

_INSTALL = "pip install 'eegd[ads1299]'"
_SPI_MODE_1 = 0b01  # CPOL 0, CPHA 1: the ADS1299 samples DIN on SCLK's falling edge


def _require(module: str) -> ModuleType:
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise SourceError(
            f"the ads1299 source needs the {module!r} module, which is not installed: {_INSTALL}"
        ) from exc


class SpidevDevice:
    """``/dev/spidev<bus>.<device>`` through python-spidev."""

    def __init__(self, bus: int, device: int, speed_hz: int) -> None:
        spidev = _require("spidev")
        self._spi: Any = spidev.SpiDev()
        try:
            self._spi.open(bus, device)
            self._spi.mode = _SPI_MODE_1
            self._spi.bits_per_word = 8
            self._spi.max_speed_hz = speed_hz
        except OSError as exc:
            self._spi.close()
            raise SourceError(
                f"cannot open /dev/spidev{bus}.{device}: {exc.strerror or exc} "
                "(is SPI enabled, and may this user open it? see docs/hardware.md)"
            ) from exc
        self._speed_hz = speed_hz

    def transfer(self, data: bytes, speed_hz: int | None = None) -> bytes:
        """One full-duplex transfer with CS held low; raises ``OSError`` as spidev does."""
        return bytes(self._spi.xfer2(list(data), speed_hz or self._speed_hz))

    def close(self) -> None:
        """Close the device node."""
        self._spi.close()


class GpiodLines:
    """START, RESET, PWDN as outputs and DRDY as a falling-edge input, on one gpiochip."""

    def __init__(self, settings: ADS1299Settings) -> None:
        gpiod = _require("gpiod")
        line = importlib.import_module("gpiod.line")
        self._active, self._inactive = line.Value.ACTIVE, line.Value.INACTIVE
        self._start, self._reset, self._pwdn = (
            settings.start_gpio,
            settings.reset_gpio,
            settings.pwdn_gpio,
        )
        self._drdy = settings.drdy_gpio

        def output(value: Any) -> Any:
            return gpiod.LineSettings(direction=line.Direction.OUTPUT, output_value=value)

        try:
            self._request: Any = gpiod.request_lines(
                settings.gpio_chip,
                consumer="eegd-ads1299",
                config={
                    self._start: output(self._inactive),
                    (self._reset, self._pwdn): output(self._active),
                    self._drdy: gpiod.LineSettings(
                        direction=line.Direction.INPUT,
                        edge_detection=line.Edge.FALLING,
                        bias=line.Bias.PULL_UP,
                    ),
                },
            )
        except OSError as exc:
            raise SourceError(
                f"cannot request GPIO lines {settings.drdy_gpio}, {settings.start_gpio}, "
                f"{settings.reset_gpio}, {settings.pwdn_gpio} on {settings.gpio_chip}: "
                f"{exc.strerror or exc} (see docs/hardware.md for the gpio group)"
            ) from exc
        self._last_seqno: int | None = None

    def _set(self, offset: int, high: bool) -> None:
        self._request.set_value(offset, self._active if high else self._inactive)

    def set_start(self, high: bool) -> None:
        """Drive START."""
        self._set(self._start, high)

    def set_reset(self, high: bool) -> None:
        """Drive RESET."""
        self._set(self._reset, high)

    def set_pwdn(self, high: bool) -> None:
        """Drive PWDN."""
        self._set(self._pwdn, high)

    def wait_drdy(self, timeout: float) -> int:
        """Falling DRDY edges since the last call, from the kernel's per-line sequence numbers."""
        if not self._request.wait_edge_events(timedelta(seconds=timeout)):
            return 0
        events = self._request.read_edge_events()
        if not events:
            return 0
        seqno = int(events[-1].line_seqno)
        edges = len(events) if self._last_seqno is None else seqno - self._last_seqno
        self._last_seqno = seqno
        return max(edges, 1)

    def close(self) -> None:
        """Release the lines."""
        self._request.release()


def open_hardware(settings: ADS1299Settings) -> Hardware:
    """Open the SPI device and request the GPIO lines the settings name."""
    spi = SpidevDevice(settings.spi_bus, settings.spi_device, settings.spi_hz)
    try:
        lines = GpiodLines(settings)
    except BaseException:
        spi.close()
        raise
    return Hardware(spi=spi, lines=lines, clock=SYSTEM_BLOCKING_CLOCK)
