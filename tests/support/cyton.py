"""An OpenBCI Cyton on a pty, written from OpenBCI's "Cyton Board SDK" serial protocol.

Nothing here comes from eegd: the protocol, the scale and the lead-off figures are retyped
from the SDK page (docs.openbci.com, Cyton/CytonSDK), the ADS1299 datasheet (SBAS499) and
OpenBCI's published board facts, so that BrainFlow's own Cyton driver can talk to it and
eegd's impedance check has an outside truth.

What the board does, as the SDK describes it (firmware v3):

- ``v`` soft-resets the board and answers a banner ending in ``$$$``; ``d`` restores the
  default channel settings; ``x (CHANNEL, POWER_DOWN, GAIN_SET, INPUT_TYPE_SET, BIAS_SET,
  SRB2_SET, SRB1_SET) X`` sets a channel (GAIN_SET 0..6: ×1, 2, 4, 6, 8, 12, 24) and
  answers ``Success: Channel set for N$$$``; ``z (CHANNEL, PCHAN, NCHAN) Z`` turns the
  lead-off current of a channel's P and N inputs on (1) or off (0) and answers ``Success:
  Lead off set for N$$$``. Channels are ``1``..``8``. While streaming, a command is obeyed
  without an answer (text would break the stream of packets).
- ``b`` starts streaming, ``s`` stops it. Each sample is a 33-byte packet: 0xA0, a sample
  number (0..255, wrapping), eight 24-bit two's complement big-endian channel values, six
  auxiliary bytes (the accelerometer, here zero) and 0xC0. One count is
  4.5 V / gain / (2^23 − 1).
- The firmware runs the ADS1299 at 250 SPS with its lead-off current at 6 nA and
  31.2 Hz (fCLK / 2^16). With a channel's P side on, the current flows through its
  electrode (impedance Z) and the board's 2.2 kΩ series resistor, so the input sees a
  ±6 nA × (Z + 2.2 kΩ) square wave, after the chip's sinc³ filter (SBAS499: |H(f)| =
  |sin(πfN/fMOD) / (N sin(πf/fMOD))|³, fMOD = 1.024 MHz, N = 4096 at 250 SPS). An
  electrode that is off (None) leaves the input to float to the rail.

The board streams as fast as the reader takes the packets (un-paced), or ``speed`` times
real time.
"""

from __future__ import annotations

import contextlib
import math
import os
import pty
import select
import threading
import time
from collections.abc import Iterator, Sequence

import numpy as np

CHANNELS = 8
RATE = 250
GAINS = (1, 2, 4, 6, 8, 12, 24)
DEFAULT_GAIN_CODE = 6
SERIES_OHMS = 2200.0
LEAD_OFF_AMPS = 6e-9
EXCITATION_HZ = 2.048e6 / 2**16
F_MOD = 1.024e6
FULL_SCALE = 2**23 - 1
BANNER = (
    b"OpenBCI V3 8-16 channel\nOn Board ADS1299 Device ID: 0x3E\n"
    b"LIS3DH Device ID: 0x33\nFirmware: v3.1.2\n$$$"
)


def _sinc3(f: float, n: int) -> float:
    return abs(math.sin(math.pi * f * n / F_MOD) / (n * math.sin(math.pi * f / F_MOD))) ** 3


def lead_off_wave() -> np.ndarray:
    """One period (8 samples at 250 SPS) of the ±1 square at 31.25 Hz after the sinc³ filter,
    summed over its odd harmonics up to fMOD / 2 (those above 125 Hz alias, as sampled)."""
    period = round(RATE / EXCITATION_HZ)
    t = (np.arange(period) + 0.5) / RATE  # the square's edges fall between conversions
    decimation = round(F_MOD / RATE)
    wave = np.zeros(period)
    for harmonic in range(1, int(F_MOD / 2 / EXCITATION_HZ), 2):
        f = harmonic * EXCITATION_HZ
        if f % RATE == 0:
            continue  # a null of the filter: no contribution
        gain = _sinc3(f, decimation)
        wave += 4 / (math.pi * harmonic) * gain * np.sin(2 * math.pi * f * t)
    return wave


class CytonEmulator:
    """A Cyton whose eight electrodes have ``electrodes_ohms`` (None: off), on a pty.

    ``port`` is the device BrainFlow opens; ``commands`` keeps every command received.
    """

    def __init__(
        self, electrodes_ohms: Sequence[float | None], speed: float | None = None, seed: int = 1
    ) -> None:
        if len(electrodes_ohms) != CHANNELS:
            raise ValueError(f"{len(electrodes_ohms)} electrodes for {CHANNELS} channels")
        self.electrodes = list(electrodes_ohms)
        self.speed = speed
        self.commands: list[str] = []
        self._received = threading.Condition()
        self.gain_codes = [DEFAULT_GAIN_CODE] * CHANNELS
        self.lead_off_p = [False] * CHANNELS
        self.streaming = False
        self.sample = 0
        self._rng = np.random.default_rng(seed)
        self._wave = lead_off_wave()
        self._master, self._slave = pty.openpty()
        self.port = os.ttyname(self._slave)
        self._pending = b""
        self._out = b""
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="cyton-emulator", daemon=True)
        self._started_at = 0.0

    def __enter__(self) -> CytonEmulator:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        os.close(self._master)
        os.close(self._slave)

    # Commands ---------------------------------------------------------------------------

    def wait_for(self, command: str, timeout: float = 10.0) -> list[str]:
        """Every command received, once ``command`` is among them (``TimeoutError`` if not)."""
        with self._received:
            if not self._received.wait_for(lambda: command in self.commands, timeout):
                raise TimeoutError(f"{command!r} never came; received {self.commands}")
            return list(self.commands)

    def _command(self, data: bytes) -> None:
        with self._received:
            self._commands(data)
            self._received.notify_all()

    def _commands(self, data: bytes) -> None:
        self._pending += data
        while self._pending:
            first = self._pending[:1]
            if first in (b"x", b"z"):
                size = 9 if first == b"x" else 5
                if len(self._pending) < size:
                    return  # the rest of the command is still on its way
                text, self._pending = self._pending[:size].decode(), self._pending[size:]
                self._setting(text)
                continue
            self._pending = self._pending[1:]
            self.commands.append(first.decode(errors="replace"))
            if first == b"v":
                self.streaming = False
                self.gain_codes = [DEFAULT_GAIN_CODE] * CHANNELS
                self.lead_off_p = [False] * CHANNELS
                self._out += BANNER
            elif first == b"d":
                self.gain_codes = [DEFAULT_GAIN_CODE] * CHANNELS
                self._answer(b"updating channel settings to default$$$")
            elif first == b"b":
                self.streaming = True
                self._started_at = time.monotonic() - self.sample / (self.speed or 1) / RATE
            elif first == b"s":
                self.streaming = False

    def _setting(self, text: str) -> None:
        self.commands.append(text)
        channel = "12345678".find(text[1])
        closing = "X" if text[0] == "x" else "Z"
        if channel < 0 or text[-1] != closing:
            self._answer(b"Failure: invalid command$$$")
            return
        if text[0] == "x":
            self.gain_codes[channel] = int(text[3])
            self._answer(f"Success: Channel set for {channel + 1}$$$".encode())
        else:
            self.lead_off_p[channel] = text[2] == "1"
            self._answer(f"Success: Lead off set for {channel + 1}$$$".encode())

    def _answer(self, text: bytes) -> None:
        if not self.streaming:
            self._out += text

    # Samples ----------------------------------------------------------------------------

    def _packet(self) -> bytes:
        k = self.sample
        volts = self._rng.standard_normal(CHANNELS) * 2e-6
        counts = []
        for channel in range(CHANNELS):
            gain = GAINS[self.gain_codes[channel]]
            ohms = self.electrodes[channel]
            if ohms is None:
                code = FULL_SCALE
            else:
                if self.lead_off_p[channel]:
                    amplitude = LEAD_OFF_AMPS * (ohms + SERIES_OHMS)
                    volts[channel] += amplitude * self._wave[k % len(self._wave)]
                code = round(volts[channel] * gain / 4.5 * FULL_SCALE)
                code = max(-FULL_SCALE - 1, min(FULL_SCALE, code))
            counts.append(code)
        body = b"".join((code & 0xFFFFFF).to_bytes(3, "big") for code in counts)
        self.sample += 1
        return bytes((0xA0, k % 256)) + body + bytes(6) + b"\xc0"

    def _due(self) -> bool:
        if self.speed is None:
            return True
        elapsed = (time.monotonic() - self._started_at) * self.speed
        return self.sample < elapsed * RATE

    def _run(self) -> None:
        while not self._stop.is_set():
            if self.streaming and not self._out and self._due():
                self._out = self._packet()
            wants_write = bool(self._out)
            ready, writable, _ = select.select(
                [self._master], [self._master] if wants_write else [], [], 0.002
            )
            if ready:
                with contextlib.suppress(OSError):
                    self._command(os.read(self._master, 1024))
            if writable and self._out:
                written = os.write(self._master, self._out)
                self._out = self._out[written:]


@contextlib.contextmanager
def cyton(
    electrodes_ohms: Sequence[float | None], speed: float | None = None
) -> Iterator[CytonEmulator]:
    """A running ``CytonEmulator`` for the block."""
    with CytonEmulator(electrodes_ohms, speed) as board:
        yield board
