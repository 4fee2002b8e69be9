"""The real ADS1299 wiring: spidev for SPI (mode 1) and libgpiod v2 for the control lines.

A thin adapter to the driver's ``SpiDevice`` and ``ControlLines``; nothing here knows the
chip's protocol. Only the lines the board wires are requested: DRDY (one per chip in
multiple readback) as falling-edge inputs, START, RESET, PWDN and GPIO chip selects as
outputs. CS stays low at least 4 tCLK after the last SCLK (SBAS499 "Timing
Requirements", spidev's ``delay_usecs``). Both packages come with the ``ads1299`` extra; a
missing one, or a device that cannot be opened, is a ``SourceError`` that says what to do.
"""

from __future__ import annotations

import importlib
import math
from datetime import timedelta
from types import ModuleType
from typing import Any, Final

from eegd.clock import SYSTEM_BLOCKING_CLOCK, BlockingClock
from eegd.errors import SourceError
from eegd.sources.ads1299.interface import NO_EDGE, DrdyEdges, Hardware, SpiDevice
from eegd.sources.ads1299.registers import TCLK_S
from eegd.sources.ads1299.settings import ADS1299Settings
from eegd.sources.ads1299.wiring import chip_selects

__all__ = ["CS_HOLD_US", "GpioSelectedDevice", "GpiodLines", "SpidevDevice", "open_hardware"]

_INSTALL = "pip install 'eegd[ads1299]'"
_SPI_MODE_1 = 0b01  # CPOL 0, CPHA 1: the ADS1299 samples DIN on SCLK's falling edge

#: CS held low after the last SCLK, µs: at least 4 tCLK (1.95 µs at 2.048 MHz).
CS_HOLD_US: Final = math.ceil(4 * TCLK_S * 1e6)


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
        self._closed = False

    def transfer(self, data: bytes, speed_hz: int | None = None) -> bytes:
        """One full-duplex transfer, CS held 4 tCLK past the last bit; ``OSError`` as spidev."""
        return bytes(self._spi.xfer2(list(data), speed_hz or self._speed_hz, CS_HOLD_US))

    def close(self) -> None:
        """Close the device node; safe twice (chips behind GPIO selects may share it)."""
        if not self._closed:
            self._closed = True
            self._spi.close()


class GpioSelectedDevice:
    """A chip whose CS is a GPIO line: low around each transfer on a spidev device."""

    def __init__(self, spi: SpidevDevice, lines: GpiodLines, line: int) -> None:
        self._spi, self._lines, self._line = spi, lines, line

    def transfer(self, data: bytes, speed_hz: int | None = None) -> bytes:
        """Select the chip, transfer, deselect (also when the transfer fails)."""
        self._lines.set_output(self._line, False)
        try:
            return self._spi.transfer(data, speed_hz)
        finally:
            self._lines.set_output(self._line, True)

    def close(self) -> None:
        """Close the spidev device (the line goes with the others)."""
        self._spi.close()


class GpiodLines:
    """The wired control lines on one gpiochip; DRDY edges stamped by the kernel.

    Edge timestamps are the kernel's CLOCK_MONOTONIC, the clock ``time.monotonic`` reads;
    ``clock`` is the one timeouts run on (the system clock, or a test's).
    """

    def __init__(self, settings: ADS1299Settings, clock: BlockingClock) -> None:
        gpiod = _require("gpiod")
        line = importlib.import_module("gpiod.line")
        self._active, self._inactive = line.Value.ACTIVE, line.Value.INACTIVE
        self._clock = clock
        self._start, self._reset, self._pwdn = (
            settings.start_gpio,
            settings.reset_gpio,
            settings.pwdn_gpio,
        )
        drdy = settings.drdy_gpio
        self._drdy: tuple[int, ...] = drdy if isinstance(drdy, tuple) else (drdy,)
        high = [x for x in (self._reset, self._pwdn) if x is not None]
        high += [s.gpio for s in chip_selects(settings.chip_selects) if s.gpio is not None]

        def output(value: Any) -> Any:
            return gpiod.LineSettings(direction=line.Direction.OUTPUT, output_value=value)

        config: dict[Any, Any] = {
            self._drdy: gpiod.LineSettings(
                direction=line.Direction.INPUT,
                edge_detection=line.Edge.FALLING,
                bias=line.Bias.PULL_UP,
            )
        }
        if self._start is not None:
            config[self._start] = output(self._inactive)
        if high:
            config[tuple(high)] = output(self._active)
        try:
            self._request: Any = gpiod.request_lines(
                settings.gpio_chip, consumer="eegd-ads1299", config=config
            )
        except OSError as exc:
            keys = [key if isinstance(key, tuple) else (key,) for key in config]
            wanted = ", ".join(str(offset) for key in keys for offset in key)
            raise SourceError(
                f"cannot request GPIO lines {wanted} on {settings.gpio_chip}: "
                f"{exc.strerror or exc} (see docs/hardware.md for the gpio group)"
            ) from exc
        self._seqno: dict[int, int | None] = dict.fromkeys(self._drdy)
        self._pending: dict[int, DrdyEdges] = {}

    def set_output(self, offset: int, high: bool) -> None:
        """Drive one requested output line."""
        self._request.set_value(offset, self._active if high else self._inactive)

    def _wired(self, offset: int | None, name: str) -> int:
        if offset is None:
            raise SourceError(f"ADS1299: {name} is not wired on this board")
        return offset

    def set_start(self, high: bool) -> None:
        """Drive START."""
        self.set_output(self._wired(self._start, "START"), high)

    def set_reset(self, high: bool) -> None:
        """Drive RESET."""
        self.set_output(self._wired(self._reset, "RESET"), high)

    def set_pwdn(self, high: bool) -> None:
        """Drive PWDN."""
        self.set_output(self._wired(self._pwdn, "PWDN"), high)

    def wait_drdy(self, timeout: float, chip: int = 0) -> DrdyEdges:
        """Falling edges of chip ``chip``'s DRDY since the last wait (kernel sequence numbers).

        A wake-up without an edge on this line (another chip's, or none at all) waits on
        for what is left of ``timeout``.
        """
        offset = self._drdy[chip]
        deadline = self._clock.monotonic() + timeout
        while offset not in self._pending:
            left = deadline - self._clock.monotonic()
            if left <= 0 or not self._request.wait_edge_events(timedelta(seconds=left)):
                return NO_EDGE
            self._take_events()
        return self._pending.pop(offset)

    def _take_events(self) -> None:
        for event in self._request.read_edge_events():
            offset = int(event.line_offset)
            seqno = int(event.line_seqno)
            last = self._seqno.get(offset)
            edges = 1 if last is None else max(seqno - last, 1)
            self._seqno[offset] = seqno
            before = self._pending.get(offset, NO_EDGE).edges
            self._pending[offset] = DrdyEdges(before + edges, event.timestamp_ns / 1e9)

    def drain(self) -> None:
        """Read and forget every queued edge; counting starts afresh."""
        while self._request.wait_edge_events(timedelta(0)):
            self._take_events()
        self._pending.clear()

    def close(self) -> None:
        """Release the lines."""
        self._request.release()


def open_hardware(
    settings: ADS1299Settings, clock: BlockingClock = SYSTEM_BLOCKING_CLOCK
) -> Hardware:
    """Open the SPI devices and request the GPIO lines the settings name."""
    lines = GpiodLines(settings, clock)
    opened: dict[int, SpidevDevice] = {}
    try:
        devices: list[SpiDevice] = []
        for select in chip_selects(settings.chip_selects):
            if select.device not in opened:
                opened[select.device] = SpidevDevice(
                    settings.spi_bus, select.device, settings.spi_hz
                )
            spi = opened[select.device]
            if select.gpio is not None:
                devices.append(GpioSelectedDevice(spi, lines, select.gpio))
            else:
                devices.append(spi)
    except BaseException:
        for spi in opened.values():
            spi.close()
        lines.close()
        raise
    return Hardware(spi=tuple(devices), lines=lines, clock=clock)
