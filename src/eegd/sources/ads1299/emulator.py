"""``ADS1299Emulator``: a model of the chip (or a daisy chain of up to four) at the SPI/GPIO level.

It plugs in where spidev and gpiod would: it implements ``SpiDevice`` and ``ControlLines``
and brings its own ``VirtualClock``, so the driver runs unchanged and as fast as the CPU
allows. What it models of SBAS499:

- the register map with reset values, read-only bits and the reserved bits that always read
  as the datasheet says to write them; every opcode, RREG/WREG over several registers;
- RDATAC mode after power-up and RESET, SDATAC, and RREG/WREG ignored while in RDATAC;
- timing the driver must respect: tPOR (2**18 tCLK) before the first reset, RESET held low
  for 2 tCLK, 18 tCLK after a reset before the next command, and 4 tCLK per byte of a
  multi-byte command (SCLK at most ~4 MHz for commands); a violation is counted and the
  command is lost, as on a real chip;
- DRDY at the CONFIG1 data rate on the virtual sample clock while START is high (pin or
  opcode); a late host finds several conversions done and reads only the newest, the
  others are overwritten;
- frames of a status word and 3 bytes a channel per chip, chip after chip as the daisy
  chain shifts them out, with lead-off per electrode (``dout``); the chips share DIN, so
  every command reaches all of them, while register reads come from the first chip's DOUT;
- electrodes of a given impedance behind the board's series resistor, through which the
  lead-off current flows (``excitation``): an electrode that is off (``None``) rails its
  input and sets its lead-off status bit;
- the GPIO pins (``gpio``, ``gpio_pins``): an input reads the outside signal a test wires
  to it, in the GPIO register and in each frame's status word at that conversion's time;
  an output reads back what was written.

Faults (``ADS1299Emulator.faults``, declared in ``faults``): a wrong ID, stuck DRDY,
corrupted status prefixes, a bit flip in the data, lost register writes, and SPI transfers
that raise ``OSError`` as spidev does; ``inputs`` holds the analog faults (an input at an
offset, a missing test signal, a channel stuck at one code).
"""

from __future__ import annotations

import math
import threading
from collections.abc import Sequence

import numpy as np

from eegd.sources.ads1299.dout import FRAME_PER_CHIP, Dout, lead_off_status, status_words
from eegd.sources.ads1299.faults import Faults
from eegd.sources.ads1299.fields import decode_config1
from eegd.sources.ads1299.gpio_pins import GpioPins
from eegd.sources.ads1299.interface import NO_EDGE, DrdyEdges, Hardware, VirtualClock
from eegd.sources.ads1299.register_file import RegisterFile
from eegd.sources.ads1299.registers import (
    CHANNELS_PER_CHIP,
    POWER_ON_RESET_S,
    TCLK_S,
    Opcode,
    Register,
)
from eegd.sources.ads1299.settings import ADS1299Settings, frame_bytes
from eegd.sources.ads1299.signals import AnalogInputs

__all__ = ["ADS1299Emulator"]

_RESET_PULSE_S = 2 * TCLK_S
_RESET_BUSY_S = 18 * TCLK_S
_COMMAND_SPEED_LIMIT_HZ = 8 / (4 * TCLK_S)  # 8 bits in 4 tCLK: 4.096 MHz
_CHIP_ZEROS = bytes(FRAME_PER_CHIP)


class ADS1299Emulator:
    """A daisy chain of ``chips`` ADS1299s with its inputs, at the SPI and GPIO pins.

    ``clock`` is the sample clock (a fresh ``VirtualClock`` by default); power is applied
    at its current time. ``seed`` fixes the analog signals. ``electrode_ohms`` gives the
    first channels' electrode impedances (None: off; the others and by default 0 Ω) and
    ``series_ohms`` the board's resistor before every input.
    """

    def __init__(
        self,
        chips: int = 1,
        clock: VirtualClock | None = None,
        seed: int = 0,
        electrode_ohms: Sequence[float | None] = (),
        series_ohms: float = 0.0,
    ) -> None:
        if not 1 <= chips <= 4:
            raise ValueError(f"chips: {chips} is out of range (allowed: 1..4)")
        if len(electrode_ohms) > chips * CHANNELS_PER_CHIP:
            raise ValueError(f"electrode_ohms: {len(electrode_ohms)} for {chips} chips")
        self.chips = chips
        self.clock = clock if clock is not None else VirtualClock()
        self.faults = Faults()
        self.gpio = GpioPins(chips)
        """The outside signals on each chip's GPIO pins (none: every pin reads low)."""
        self.inputs = AnalogInputs(chips * CHANNELS_PER_CHIP, seed)
        for channel, ohms in enumerate(electrode_ohms):
            self.inputs.electrode_ohms[channel] = math.inf if ohms is None else ohms
        self.inputs.series_ohms = series_ohms
        self.electrode_off_p = np.isinf(self.inputs.electrode_ohms)
        self.electrode_off_n = np.zeros(chips * CHANNELS_PER_CHIP, dtype=bool)
        self.timing_violations = 0
        """Commands lost because the host broke a datasheet timing rule."""
        self.ignored_commands = 0
        """RREG/WREG sent in RDATAC mode, which the chip ignores."""
        self.frames_read = 0
        self.transfers = 0
        self._frame_len = frame_bytes(chips)
        self._zeros = bytes(self._frame_len)
        self._powered_at = self.clock.monotonic()
        self._registers = RegisterFile(chips)
        self._reset_pin = True
        self._reset_low_since: float | None = None
        self._pwdn = True
        self._start_pin = False
        self._start_cmd = False
        self._standby = False
        self._busy_until = 0.0
        self._converting_since: float | None = None
        self._rate = 250
        self._seen = 0
        self._last_edges = NO_EDGE
        self._dout = Dout(chips, self.inputs)
        self._lock = threading.RLock()
        """Held by every access to the chip's state: a test resets the chip or moves an
        electrode from its own thread while the driver's reader thread transfers a frame."""
        self._reset_chips()

    def hardware(self, settings: ADS1299Settings | None = None) -> Hardware:
        """The SPI devices, control lines and clock a driver takes: all this emulator.

        With ``settings`` in multiple readback each chip gets its own chip select (and
        DRDY); otherwise the chain is one device.
        """
        if settings is not None and settings.readback == "multiple":
            selects = tuple(_ChipSelected(self, chip) for chip in range(self.chips))
            return Hardware(spi=selects, lines=self, clock=self.clock)
        return Hardware(spi=(self,), lines=self, clock=self.clock)

    # What tests inspect and change --------------------------------------------------

    def registers(self, chip: int = 0) -> bytes:
        """Chip ``chip``'s register map as it stands (the ID as the chip reports it)."""
        with self._lock:
            return self._register_map(chip)

    def _register_map(self, chip: int) -> bytes:
        values = bytearray(self._registers[chip])
        values[Register.LOFF_STATP], values[Register.LOFF_STATN] = lead_off_status(
            values, self.electrode_off_p, self.electrode_off_n, chip
        )
        gpio = values[Register.GPIO]
        now = self.clock.monotonic()
        values[Register.GPIO] = self.gpio.data_bits(gpio, chip, now) << 4 | gpio & 0x0F
        if self.faults.chip_id is not None:
            values[Register.ID] = self.faults.chip_id
        return bytes(values)

    def set_lead_off(self, channel: int, off: bool = True, negative: bool = False) -> None:
        """Mark electrode ``channel`` (0-based over the chain) as off or back on."""
        with self._lock:
            (self.electrode_off_n if negative else self.electrode_off_p)[channel] = off
            self._update_status()

    def spontaneous_reset(self, chip: int | None = None) -> None:
        """A chip resets by itself (ESD, a dip on its supply), or every chip (a brown-out).

        Its registers go back to their defaults; one chip of a chain keeps converting on
        the shared clock and START.
        """
        with self._lock:
            if chip is None:
                self._reset_chips()
                return
            self._registers.reset(chip)
            self._configure_inputs()
            self._update_status()

    @property
    def converting(self) -> bool:
        """Whether conversions are running (START high by pin or opcode, not in standby)."""
        return self._converting_since is not None

    @property
    def conversions(self) -> int:
        """Conversions completed since START."""
        with self._lock:
            return self._completed(self.clock.monotonic())

    # ControlLines -----------------------------------------------------------------------

    def set_start(self, high: bool) -> None:
        """The START pin."""
        with self._lock:
            self._start_pin = high
            self._update_converting()

    def set_reset(self, high: bool) -> None:
        """The RESET pin: a low pulse of at least 2 tCLK resets every chip."""
        with self._lock:
            now = self.clock.monotonic()
            if not high and self._reset_pin:
                self._reset_low_since = now
            elif high and not self._reset_pin and self._reset_low_since is not None:
                if now - self._reset_low_since < _RESET_PULSE_S or not self._por_done(now):
                    self.timing_violations += 1
                else:
                    self._reset_chips()
                    self._busy_until = now + _RESET_BUSY_S
            self._reset_pin = high

    def set_pwdn(self, high: bool) -> None:
        """The PWDN pin: low powers the chain down; registers return to reset values."""
        with self._lock:
            if not high and self._pwdn:
                self._reset_chips()
                self._start_cmd = False
            self._pwdn = high
            self._update_converting()

    def wait_drdy(self, timeout: float, chip: int = 0) -> DrdyEdges:
        """Advance the clock to the next DRDY (or by ``timeout``); conversions since last.

        The chips share one clock, so another chip's DRDY falls with chip 1's: its wait
        returns what chip 1's last one did.
        """
        if chip:
            return self._last_edges
        clock = self.clock
        with self._lock:
            since, now = self._converting_since, clock.monotonic()
            if since is None or self.faults.stuck_drdy:
                due = math.inf
            elif (done := self._completed(now)) > self._seen:
                return self._edges_through(done)
            else:
                due = since + (self._seen + 1) / self._rate
        if due - now > timeout:
            clock.sleep(timeout)
            return NO_EDGE
        clock.sleep(due - now)
        with self._lock:
            if self._converting_since == since:
                return self._edges_through(max(self._completed(clock.monotonic()), self._seen + 1))
        clock.sleep(timeout - (due - now))  # a reset, standby or new START meanwhile: no DRDY
        return NO_EDGE

    def _edges_through(self, done: int) -> DrdyEdges:
        """DRDY up to conversion ``done``: the edges since the last wait, the last one's time."""
        assert self._converting_since is not None
        missed, self._seen = done - self._seen, done
        self._last_edges = DrdyEdges(missed, self._converting_since + done / self._rate)
        return self._last_edges

    def drain(self) -> None:
        """Forget the conversions done so far: the next wait counts from now."""
        with self._lock:
            self._seen = self._completed(self.clock.monotonic())

    def close(self) -> None:
        """Nothing to release; the chain keeps its state like a chip left powered."""

    # SpiDevice --------------------------------------------------------------------------

    def transfer(self, data: bytes, speed_hz: int | None = None) -> bytes:
        """One CS-low transfer: DIN decoded as commands, DOUT as the chip drives it."""
        return self._transfer(data, speed_hz, None)

    def _transfer(self, data: bytes, speed_hz: int | None, chip: int | None) -> bytes:
        """A transfer to the chain (``chip`` None) or to one chip on its own CS."""
        with self._lock:
            return self._shift(data, speed_hz, chip)

    def _shift(self, data: bytes, speed_hz: int | None, chip: int | None) -> bytes:
        self.transfers += 1
        self.faults.transfer()
        if not (self._pwdn and self._reset_pin):
            return bytes(len(data))
        rdatac = self._rdatac
        span = slice(None) if chip is None else _chip_span(chip)
        zeros = self._zeros if chip is None else _CHIP_ZEROS
        if rdatac and self._converting_since is not None and data == zeros:
            return self._frame()[span]
        out = bytearray(len(data))
        if rdatac and self._converting_since is not None:
            frame = self._frame()[span]
            out[: len(frame)] = frame[: len(data)]
        self._decode(data, out, speed_hz, chip)
        return bytes(out)

    # Commands -------------------------------------------------------------------------

    def _decode(self, data: bytes, out: bytearray, speed_hz: int | None, chip: int | None) -> None:
        now = self.clock.monotonic()
        i = 0
        while i < len(data):
            opcode = data[i]
            if opcode == 0x00:
                i += 1
                continue
            if now < self._busy_until or not self._por_done(now):
                self.timing_violations += 1
                return
            if opcode & 0xE0 in (Opcode.RREG, Opcode.WREG):
                if i + 1 >= len(data):
                    return  # CS rose mid-command: the chip discards it
                count = data[i + 1] + 1
                address = opcode & 0x1F
                end = i + 2 + (count if opcode & 0xE0 == Opcode.WREG else 0)
                if speed_hz is not None and speed_hz > _COMMAND_SPEED_LIMIT_HZ:
                    self.timing_violations += 1
                    return
                if self._rdatac:
                    self.ignored_commands += 1
                elif opcode & 0xE0 == Opcode.WREG:
                    if not self.faults.ignore_writes:
                        self._write(address, data[i + 2 : end])
                else:  # one chip's DOUT: register reads do not shift through a chain
                    values = self._register_map(chip or 0)[address : address + count]
                    room = max(0, min(len(values), len(out) - i - 2))
                    out[i + 2 : i + 2 + room] = values[:room]
                    end = i + 2 + count
                i = end
                continue
            self._command(opcode, out, i + 1, chip)
            i += 1

    def _command(self, opcode: int, out: bytearray, position: int, chip: int | None) -> None:
        if opcode == Opcode.RESET:
            self._reset_chips()
            self._busy_until = self.clock.monotonic() + _RESET_BUSY_S
        elif opcode == Opcode.SDATAC:
            self._rdatac = False
        elif opcode == Opcode.RDATAC:
            self._rdatac = True
        elif opcode == Opcode.START:
            self._start_cmd = True
        elif opcode == Opcode.STOP:
            self._start_cmd = False
        elif opcode == Opcode.STANDBY:
            self._standby = True
        elif opcode == Opcode.WAKEUP:
            self._standby = False
        elif opcode == Opcode.RDATA and self._converting_since is not None:
            frame = self._frame()[slice(None) if chip is None else _chip_span(chip)]
            out[position : position + len(frame)] = frame[: len(out) - position]
        self._update_converting()

    def _write(self, address: int, values: bytes) -> None:
        self._registers.write(address, values)
        self._configure_inputs()
        self._update_status()

    def _reset_chips(self) -> None:
        self._registers.reset()
        self._rdatac = True
        self._start_cmd = False
        self._standby = False
        self._configure_inputs()
        self._update_status()
        self._update_converting()

    # Conversions ------------------------------------------------------------------------

    def _por_done(self, now: float) -> bool:
        return now - self._powered_at >= POWER_ON_RESET_S

    def _update_converting(self) -> None:
        on = (self._start_pin or self._start_cmd) and self._pwdn and not self._standby
        if on and self._converting_since is None:
            self._converting_since = self.clock.monotonic()
            self._seen = 0
            self._dout.drop()
        elif not on:
            self._converting_since = None

    def _completed(self, now: float) -> int:
        if self._converting_since is None:
            return 0
        return max(0, math.floor((now - self._converting_since) * self._rate + 1e-6))

    def _configure_inputs(self) -> None:
        chip = self._registers[0]
        rate, _, _ = decode_config1(chip[Register.CONFIG1])
        new_rate = rate if rate is not None else 250
        if new_rate != self._rate and self._converting_since is not None:
            self._converting_since = self.clock.monotonic()  # a new rate restarts the filter
            self._seen = 0
        self._rate = new_rate
        self._dout.configure(self._registers.maps, new_rate)

    def _frame(self) -> bytes:
        """The newest conversion's frame, as the chain shifts it out (faults applied)."""
        done = self._completed(self.clock.monotonic())
        clean = self._dout.frame(max(done - 1, 0))
        self.frames_read += 1
        if self.gpio.connected and self._converting_since is not None:
            clean = self._sample_gpio(clean, self._converting_since + done / self._rate)
        return self.faults.corrupt(clean)

    def _sample_gpio(self, clean: bytes, time_s: float) -> bytes:
        """``clean`` with each chip's GPIOD bits as its pins read at ``time_s`` (its DRDY)."""
        frame = bytearray(clean)
        for chip, values in enumerate(self._registers.maps):
            at = chip * FRAME_PER_CHIP + 2
            data = self.gpio.data_bits(values[Register.GPIO], chip, time_s)
            frame[at] = frame[at] & 0xF0 | data
        return bytes(frame)

    def _update_status(self) -> None:
        off_p, off_n = self.electrode_off_p, self.electrode_off_n
        self._dout.set_status(status_words(self._registers.maps, off_p, off_n))


class _ChipSelected:
    """One chip of the emulated set on its own chip select (multiple readback)."""

    def __init__(self, emulator: ADS1299Emulator, chip: int) -> None:
        self._emulator, self._chip = emulator, chip

    def transfer(self, data: bytes, speed_hz: int | None = None) -> bytes:
        """A transfer with only this chip selected."""
        return self._emulator._transfer(data, speed_hz, self._chip)

    def close(self) -> None:
        """Nothing to release."""


def _chip_span(chip: int) -> slice:
    return slice(chip * FRAME_PER_CHIP, (chip + 1) * FRAME_PER_CHIP)
