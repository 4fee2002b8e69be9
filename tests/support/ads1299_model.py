"""A held-out model of one TI ADS1299, written from the datasheet (SBAS499) as printed.

It shares nothing with eegd's driver: every number below is retyped from the datasheet's
tables (register map and reset values, opcodes, data rates, gains, the ideal output code,
the test signal, Tables 1 to 4 noise), and nothing is imported from ``eegd.sources.ads1299``.
A wrong constant in the driver therefore fails a test instead of agreeing with itself.

The chip sits on the seed's board (TI ADS1299EEG-FE as elata-eeg wires it): the host has
CS, SCLK, DIN, DOUT and DRDY only. START is held low, RESET and PWDN high, by the board;
the unused GPIO1..4 pins are tied to DGND through resistors (the datasheet's advice), so
as inputs they read 0, unless a test wires an outside signal to one (``Inputs.gpio``); the
GPIO register and each status word read it then. ``tests.support.standin`` exposes it to
eegd through stand-in ``spidev`` and ``gpiod`` modules, so the driver's real hardware code
path runs.

With AC lead-off on (LOFF's FLEAD_OFF), the channels LOFF_SENSP selects see the lead-off
current (ILEAD_OFF) as a square wave through their electrode's impedance and the board's
series resistor (``Inputs.electrode_ohms``, ``Inputs.series_ohms``), after the sinc³ filter.

What it checks of the host, counting each breach in ``violations``: commands before tPOR or
within 18 tCLK of a reset, multi-byte commands clocked faster than 4 tCLK per byte, CS
released less than 4 tCLK after the last SCLK.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

# SBAS499 "Electrical Characteristics" and "Timing Requirements" ----------------------------
F_CLK = 2.048e6  # internal oscillator, Hz
T_CLK = 1 / F_CLK
T_POR = 2**18 * T_CLK  # power-on reset time
T_RESET_BUSY = 18 * T_CLK  # after a reset, before the next command
T_CS_HOLD = 4 * T_CLK  # CS low after the last SCLK falling edge (tSCCS)
T_BYTE = 4 * T_CLK  # multi-byte commands: one byte per 4 tCLK at least

# "SPI Command Definitions" --------------------------------------------------------------------
WAKEUP, STANDBY, RESET, START, STOP = 0x02, 0x04, 0x06, 0x08, 0x0A
RDATAC, SDATAC, RDATA = 0x10, 0x11, 0x12
RREG, WREG = 0x20, 0x40

# "Register Map": address -> reset value (ID 0x3E: revision 001, device 11, 8 channels) ------
RESET_MAP = (
    0x3E,  # 00 ID
    0x96,  # 01 CONFIG1
    0xC0,  # 02 CONFIG2
    0x60,  # 03 CONFIG3
    0x00,  # 04 LOFF
    0x61, 0x61, 0x61, 0x61, 0x61, 0x61, 0x61, 0x61,  # 05..0C CH1SET..CH8SET
    0x00,  # 0D BIAS_SENSP
    0x00,  # 0E BIAS_SENSN
    0x00,  # 0F LOFF_SENSP
    0x00,  # 10 LOFF_SENSN
    0x00,  # 11 LOFF_FLIP
    0x00,  # 12 LOFF_STATP (read only)
    0x00,  # 13 LOFF_STATN (read only)
    0x0F,  # 14 GPIO
    0x00,  # 15 MISC1
    0x00,  # 16 MISC2
    0x00,  # 17 CONFIG4
)  # fmt: skip
ID, CONFIG1, CONFIG2, CONFIG3, LOFF, CH1SET = 0x00, 0x01, 0x02, 0x03, 0x04, 0x05
LOFF_SENSP, LOFF_SENSN, LOFF_STATP, LOFF_STATN, GPIO, CONFIG4 = 0x0F, 0x10, 0x12, 0x13, 0x14, 0x17

# CONFIG1 DR[2:0] -> output data rate (SPS); 111 is not used
DATA_RATES = {0b000: 16000, 0b001: 8000, 0b010: 4000, 0b011: 2000, 0b100: 1000, 0b101: 500,
              0b110: 250}  # fmt: skip
# CHnSET GAINn[2:0] -> PGA gain; 111 is not used
GAINS = {0b000: 1, 0b001: 2, 0b010: 4, 0b011: 6, 0b100: 8, 0b101: 12, 0b110: 24}
# CHnSET MUXn[2:0]
MUX_NORMAL, MUX_SHORTED, MUX_TEST = 0b000, 0b001, 0b101

#: SBAS499C Tables 1 to 4, input-referred noise with the inputs shorted, µVrms and µVpp by
#: gain and rate (5-V analog supply, 4.5-V reference), as printed.
NOISE_UVRMS = {
    1: {16000: 21.70, 8000: 6.93, 4000: 4.33, 2000: 3.06, 1000: 2.17, 500: 1.53, 250: 1.08},
    2: {16000: 10.85, 8000: 3.65, 4000: 2.28, 2000: 1.61, 1000: 1.14, 500: 0.81, 250: 0.57},
    4: {16000: 5.60, 8000: 1.98, 4000: 1.24, 2000: 0.88, 1000: 0.62, 500: 0.44, 250: 0.31},
    6: {16000: 3.87, 8000: 1.31, 4000: 0.93, 2000: 0.66, 1000: 0.46, 500: 0.33, 250: 0.23},
    8: {16000: 3.05, 8000: 1.11, 4000: 0.79, 2000: 0.56, 1000: 0.39, 500: 0.28, 250: 0.20},
    12: {16000: 2.27, 8000: 0.92, 4000: 0.65, 2000: 0.46, 1000: 0.32, 500: 0.23, 250: 0.16},
    24: {16000: 1.66, 8000: 0.80, 4000: 0.56, 2000: 0.40, 1000: 0.28, 500: 0.20, 250: 0.14},
}
NOISE_UVPP = {
    1: {16000: 151.89, 8000: 48.53, 4000: 30.34, 2000: 21.45, 1000: 15.17, 500: 10.73, 250: 7.59},
    2: {16000: 75.94, 8000: 25.52, 4000: 15.95, 2000: 11.29, 1000: 7.98, 500: 5.65, 250: 3.99},
    4: {16000: 39.23, 8000: 13.87, 4000: 8.66, 2000: 6.13, 1000: 4.34, 500: 3.07, 250: 2.16},
    6: {16000: 27.10, 8000: 9.19, 4000: 6.50, 2000: 4.60, 1000: 3.25, 500: 2.30, 250: 1.62},
    8: {16000: 21.32, 8000: 7.80, 4000: 5.52, 2000: 3.90, 1000: 2.76, 500: 1.95, 250: 1.38},
    12: {16000: 15.89, 8000: 6.41, 4000: 4.53, 2000: 3.20, 1000: 2.26, 500: 1.61, 250: 1.13},
    24: {16000: 11.64, 8000: 5.57, 4000: 3.94, 2000: 2.79, 1000: 1.97, 500: 1.39, 250: 0.98},
}

VREF = 4.5  # internal reference with a 5-V analog supply

# LOFF ILEAD_OFF[1:0] (bits 3:2) -> lead-off current, A; FLEAD_OFF[1:0] (bits 1:0) -> mode
LEAD_OFF_AMPS = {0b00: 6e-9, 0b01: 24e-9, 0b10: 6e-6, 0b11: 24e-6}
FLEAD_DC, FLEAD_7_8, FLEAD_31_2, FLEAD_FDR_4 = 0b00, 0b01, 0b10, 0b11


def ideal_code(volts: float, gain: int, vref: float = VREF) -> int:
    """SBAS499 "Ideal Output Code versus Input Signal": 1 LSB = (2 VREF / gain) / 2^24."""
    code = round(volts / (2 * vref / gain / 2**24))
    return max(-(2**23), min(2**23 - 1, code))


def calibration_signal(config2: int, vref: float = VREF) -> tuple[float, float]:
    """(amplitude V, frequency Hz) of CONFIG2's internal test signal; frequency 0 for DC.

    CAL_AMP0 0: 1 × −(VREFP − VREFN) / 2400; 1: 2 ×. CAL_FREQ 00: fCLK / 2^21, 01: fCLK / 2^20,
    11: at DC.
    """
    amplitude = (2 if config2 & 0x04 else 1) * vref / 2400
    frequency = {0b00: F_CLK / 2**21, 0b01: F_CLK / 2**20, 0b11: 0.0}.get(config2 & 0x03, 0.0)
    return amplitude, frequency


def excitation_frequency(flead: int, rate: int) -> float:
    """FLEAD_OFF's AC frequency: 7.8 Hz is fCLK / 2^18, 31.2 Hz fCLK / 2^16, or fDR / 4."""
    return {FLEAD_7_8: F_CLK / 2**18, FLEAD_31_2: F_CLK / 2**16, FLEAD_FDR_4: rate / 4}[flead]


#: The decimation filter, sinc³ (SBAS499 "Digital Filter"): three moving averages over one
#: output period in a row, here on a grid of 64 steps a period.
_STEPS = 64
SINC3_TAPS = np.convolve(np.convolve(np.ones(_STEPS), np.ones(_STEPS)), np.ones(_STEPS))
SINC3_TAPS /= SINC3_TAPS.sum()


def filtered_square(t: float, frequency: float, rate: int) -> float:
    """A ±1 square wave of ``frequency`` (rising at t = 0) as the output sample at ``t`` has it
    after the sinc³ filter: the average of the wave over the last three periods, weighted."""
    ago = (np.arange(len(SINC3_TAPS)) + 0.5) / (_STEPS * rate)
    wave = np.where(((t - ago) * frequency) % 1.0 < 0.5, 1.0, -1.0)
    return float(np.dot(SINC3_TAPS, wave))


class ModelClock:
    """Virtual seconds: ``sleep`` advances at once; the board's DRDY edges follow it."""

    def __init__(self) -> None:
        self.now = 0.0
        self.listeners: list[Callable[[float], None]] = []

    def monotonic(self) -> float:
        """Seconds since power-up."""
        return self.now

    def sleep(self, seconds: float) -> None:
        """Let ``seconds`` pass."""
        self.advance_to(self.now + max(seconds, 0.0))

    def advance_to(self, when: float) -> None:
        """Move time on to ``when``, telling the board what happened meanwhile."""
        if when > self.now:
            self.now = when
            for listener in self.listeners:
                listener(when)


@dataclass
class Violations:
    """Datasheet rules the host broke (each one a command or read the chip lost or tore)."""

    before_por: int = 0
    during_reset: int = 0
    command_too_fast: int = 0
    cs_hold: int = 0

    def total(self) -> int:
        """All of them."""
        return self.before_por + self.during_reset + self.command_too_fast + self.cs_hold


@dataclass
class Inputs:
    """What each channel's inputs see: a DC level, a detached electrode, a pin level."""

    dc_volts: list[float] = field(default_factory=lambda: [0.0] * 8)
    electrode_off_p: set[int] = field(default_factory=set)
    reference_off: bool = False
    noise: bool = True
    noise_scale: float = 1.0
    """The datasheet's typical noise times this (a noisier chip than the typical one)."""
    electrode_ohms: list[float] = field(default_factory=lambda: [0.0] * 8)
    """Each positive electrode's impedance to the body (the bias electrode holds it)."""
    series_ohms: float = 0.0
    """The board's resistor between each electrode and its input pin."""
    gpio: dict[int, Callable[[float], bool]] = field(default_factory=dict)
    """Outside signals on GPIO1..4: pin -> its level at a time (seconds on the clock)."""


class ADS1299Model:
    """One ADS1299 on the seed's board: registers, commands, conversions, DRDY, DOUT."""

    def __init__(self, clock: ModelClock, seed: int = 1) -> None:
        self.clock = clock
        self.inputs = Inputs()
        self.violations = Violations()
        self.rng = np.random.default_rng(seed)
        self.chip_id = RESET_MAP[ID]
        """What the ID register reads (0x3E for an ADS1299; 0x3C an ADS1299-4, 0x3D a -6)."""
        self.registers = list(RESET_MAP)
        self.rdatac = True
        self.start_command = False
        self.start_pin = False  # the board holds START low
        self.busy_until = 0.0
        self.converting_since: float | None = None
        self.conversions_taken = 0
        self.on_conversion: Callable[[float], None] = lambda when: None
        self.reset_times: list[float] = []
        """When each reset (opcode, pin or spontaneous) happened."""
        self.gpio_shifted: list[tuple[int, int]] = []
        """(conversion, GPIOD[4:1]) of every frame shifted out in RDATAC."""

    # Power, reset and conversions ------------------------------------------------------

    def reset(self) -> None:
        """RESET (opcode, pin, or a spontaneous one): registers to their reset values."""
        self.registers = list(RESET_MAP)
        self.registers[ID] = self.chip_id
        self.rdatac = True
        self.start_command = False
        self.busy_until = self.clock.now + T_RESET_BUSY
        self.reset_times.append(self.clock.now)
        self._update()

    @property
    def rate(self) -> int:
        """CONFIG1's output data rate (250 SPS for the reserved code, as after a reset)."""
        return DATA_RATES.get(self.registers[CONFIG1] & 0x07, 250)

    def refresh(self) -> None:
        """Start or stop converting as START (pin or command) now says."""
        self._update()

    def _update(self) -> None:
        running = self.start_command or self.start_pin
        if running and self.converting_since is None:
            self.converting_since = self.clock.now
            self.conversions_taken = 0
        elif not running:
            self.converting_since = None

    def conversions_done(self, now: float) -> int:
        """Conversions completed by ``now`` since START."""
        if self.converting_since is None:
            return 0
        return math.floor((now - self.converting_since) * self.rate + 1e-9)

    def conversion_time(self, k: int) -> float:
        """When conversion ``k`` (1-based) completes: DRDY falls then."""
        assert self.converting_since is not None
        return self.converting_since + k / self.rate

    # The serial interface ----------------------------------------------------------------

    def transfer(self, mosi: bytes, speed_hz: float, cs_hold_s: float) -> bytes:
        """One CS-low transfer: DIN decoded, DOUT returned."""
        now = self.clock.now
        if cs_hold_s < T_CS_HOLD:
            self.violations.cs_hold += 1
        miso = bytearray(len(mosi))
        if self.rdatac and self.converting_since is not None:
            frame = self._frame(self.conversions_done(now))
            miso[: min(len(frame), len(mosi))] = frame[: len(mosi)]
        i = 0
        while i < len(mosi):
            opcode = mosi[i]
            i += 1
            if opcode == 0x00:
                continue
            if now < T_POR:
                self.violations.before_por += 1
                return bytes(miso)
            if now < self.busy_until:
                self.violations.during_reset += 1
                return bytes(miso)
            if opcode & 0xE0 in (RREG, WREG):
                if i >= len(mosi):
                    return bytes(miso)
                if speed_hz > 8 / T_BYTE:
                    self.violations.command_too_fast += 1
                    return bytes(miso)
                address, count = opcode & 0x1F, mosi[i] + 1
                i += 1
                if opcode & 0xE0 == WREG:
                    if not self.rdatac:
                        for offset, value in enumerate(mosi[i : i + count]):
                            self._write(address + offset, value)
                    i += count
                elif not self.rdatac:
                    for offset in range(count):
                        if i + offset < len(miso):
                            miso[i + offset] = self.read_register(address + offset)
                    i += count
                continue
            self._opcode(opcode)
        return bytes(miso)

    def _opcode(self, opcode: int) -> None:
        if opcode == RESET:
            self.reset()
        elif opcode == SDATAC:
            self.rdatac = False
        elif opcode == RDATAC:
            self.rdatac = True
        elif opcode == START:
            self.start_command = True
            self.converting_since = None  # START restarts the conversion
        elif opcode == STOP:
            self.start_command = False
        self._update()

    def _write(self, address: int, value: int) -> None:
        if address in (ID, LOFF_STATP, LOFF_STATN) or address >= len(RESET_MAP):
            return
        if address == CONFIG1 and value & 0x07 != self.registers[CONFIG1] & 0x07:
            self.converting_since = None  # a new rate restarts the filter
        self.registers[address] = value
        self._update()

    def read_register(self, address: int) -> int:
        """A register as RREG returns it (lead-off status as the comparators see it)."""
        if address == LOFF_STATP:
            return self._status_bits()[0]
        if address == LOFF_STATN:
            return self._status_bits()[1]
        if address == GPIO:
            return self._gpio_byte(self.clock.now)
        return self.registers[address] if address < len(RESET_MAP) else 0

    # DOUT in RDATAC -------------------------------------------------------------------

    def _status_bits(self) -> tuple[int, int]:
        """LOFF_STATP/N. Bits whose SENSP/SENSN bit is clear are not valid: this chip reads 1."""
        if not self.registers[CONFIG4] & 0x02:  # comparators powered down
            return 0xFF, 0xFF
        sensp, sensn = self.registers[LOFF_SENSP], self.registers[LOFF_SENSN]
        statp = ~sensp & 0xFF
        for channel in self.inputs.electrode_off_p:
            statp |= 1 << channel
        statn = ~sensn & 0xFF
        if self.inputs.reference_off and self.registers[0x15] & 0x20:  # SRB1: IN- on REF
            statn |= 0xFF
        return statp, statn

    def _gpio_byte(self, t: float) -> int:
        """GPIO as read at ``t``: GPIOC (1: input) as written; GPIOD of an output as
        written, of an input the pin's level (an outside signal, else the board's 0 V)."""
        register = self.registers[GPIO]
        control = register & 0x0F
        pins = sum(1 << (pin - 1) for pin, level in self.inputs.gpio.items() if level(t))
        data = ((register >> 4) & ~control | pins & control) & 0x0F
        return data << 4 | control

    def _frame(self, k: int) -> bytes:
        statp, statn = self._status_bits()
        gpio = self._gpio_byte(self.conversion_time(k)) >> 4  # latched as conversion k ends
        self.gpio_shifted.append((k, gpio))
        status = 0xC00000 | statp << 12 | statn << 4 | gpio
        out = bytearray(status.to_bytes(3, "big"))
        config2 = self.registers[CONFIG2]
        amplitude, frequency = calibration_signal(config2)
        t = k / self.rate
        loff = self.registers[LOFF]
        excitation = 0.0  # AC lead-off: ±ILEAD_OFF through the electrode, as the filter sees it
        if loff & 0x03 != FLEAD_DC:
            frequency = excitation_frequency(loff & 0x03, self.rate)
            excitation = LEAD_OFF_AMPS[loff >> 2 & 0x03] * filtered_square(t, frequency, self.rate)
        for channel in range(8):
            setting = self.registers[CH1SET + channel]
            gain = GAINS.get((setting >> 4) & 0x07, 1)
            mux = setting & 0x07
            if setting & 0x80:  # powered down: the channel reads 0
                volts = 0.0
            elif mux == MUX_TEST:
                if frequency == 0.0:
                    volts = amplitude
                else:
                    volts = amplitude if (t * frequency) % 1.0 < 0.5 else -amplitude
            elif mux == MUX_SHORTED:
                volts = 0.0
            else:
                volts = self.inputs.dc_volts[channel]
                if self.registers[LOFF_SENSP] >> channel & 1:
                    ohms = self.inputs.electrode_ohms[channel] + self.inputs.series_ohms
                    volts += excitation * ohms
            if self.inputs.noise and mux in (MUX_SHORTED, MUX_NORMAL):
                typical = NOISE_UVRMS[gain][self.rate] * 1e-6 * self.inputs.noise_scale
                volts += self.rng.standard_normal() * typical
            out += (ideal_code(volts, gain) & 0xFFFFFF).to_bytes(3, "big")
        return bytes(out)
