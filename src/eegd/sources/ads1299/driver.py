"""``ADS1299Source``: the ADS1299 (or a daisy chain of up to four) as an eegd source.

Start-up follows SBAS499's "Initial Flow at Power-Up": wait tPOR, pulse RESET, SDATAC, check
the ID, write the configuration and read every register back, then START and RDATAC. Each
DRDY is one SPI transfer of (3 + 3 × 8) × chips bytes; a block of frames is decoded at
once. A status word without its 1100 prefix is a framing error (counted, logged, the
sample dropped); several in a row end the session with ``SourceError`` so the supervisor
reconnects. Missed DRDYs (the chip overwrote conversions the host was too late for) show
as a jump in ``first_sample``: the acquisition loop reports it as ``samples_lost``.
With lead-off detection on, each block carries the electrodes now off (``lead_off``); the
acquisition loop publishes a ``lead_off`` system event when that set changes.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt

from eegd.errors import ConfigError, SourceError
from eegd.sources.adc import ADS1299_SAMPLE_RATES, Ads1299Scale, decode_24bit
from eegd.sources.ads1299.emulator import POWER_ON_RESET_S, ADS1299Emulator
from eegd.sources.ads1299.interface import Hardware, VirtualClock
from eegd.sources.ads1299.registers import (
    CHANNELS_PER_CHIP,
    READ_ONLY_MASKS,
    STATUS_PREFIX,
    TCLK_S,
    Opcode,
    Register,
    describe_id,
    id_is_supported,
    rreg,
    wreg,
)
from eegd.sources.ads1299.settings import (
    MAX_CHIPS,
    ADS1299Settings,
    frame_bytes,
    register_values,
)
from eegd.sources.base import (
    OptionalDependency,
    SampleBlock,
    SharedSourceOptions,
    Source,
    SourceChoices,
)
from eegd.sources.montage import standard_channel_names

__all__ = ["COMMAND_SPEED_HZ", "ADS1299Source"]

logger = logging.getLogger(__name__)

#: SCLK for commands: a byte must take at least 4 tCLK (~1.95 µs) for the chip to decode.
COMMAND_SPEED_HZ = 2_000_000
_POWER_UP_S = POWER_ON_RESET_S * 1.2
_RESET_PULSE_S = 4 * TCLK_S
_AFTER_RESET_S = 24 * TCLK_S  # the datasheet asks for 18 tCLK
_REFERENCE_SETTLE_S = 0.15  # internal reference start-up (SBAS499: ~150 ms)
_FRAME_PER_CHIP = 3 + 3 * CHANNELS_PER_CHIP
_WRITTEN = (
    (Register.CONFIG1, Register.LOFF_FLIP),
    (Register.MISC1, Register.CONFIG4),
)


class ADS1299Source(Source):
    """Reads ``channels`` channels at ``sample_rate`` from a chain of ADS1299s.

    ``hardware`` opens what the driver talks to; by default spidev and gpiod as the
    settings say, or a fresh emulator with ``emulate`` on.
    """

    kind = "ads1299"
    requires = OptionalDependency(extra="ads1299", module="spidev")
    choices: ClassVar[SourceChoices] = SourceChoices(
        ADS1299_SAMPLE_RATES, (1, CHANNELS_PER_CHIP * MAX_CHIPS)
    )

    @classmethod
    def from_options(cls, shared: SharedSourceOptions, options: Mapping[str, Any]) -> ADS1299Source:
        """The chain ``[source]`` and ``[source.ads1299]`` describe; errors name the key.

        ``chips`` set and ``source.channels`` left at its default reads every channel of
        the chain (8 per chip); both set must agree.
        """
        settings = ADS1299Settings.from_mapping(options)
        channels = shared.channels
        if settings.chips is not None and "channels" not in shared.explicit:
            channels = CHANNELS_PER_CHIP * settings.chips
        rate = shared.sample_rate
        if isinstance(rate, bool) or rate not in ADS1299_SAMPLE_RATES:
            allowed = ", ".join(map(str, ADS1299_SAMPLE_RATES))
            raise ConfigError(
                f"source.sample_rate: {rate!r} is not an ADS1299 rate (allowed: {allowed})"
            )
        return cls(settings, channels, int(rate), shared.channel_names)

    def __init__(
        self,
        settings: ADS1299Settings,
        channels: int = 8,
        sample_rate: int = 250,
        channel_names: tuple[str, ...] | None = None,
        hardware: Callable[[], Hardware] | None = None,
    ) -> None:
        self.settings = settings
        self._chips = settings.resolved_chips(channels)
        settings.check_throughput(channels, sample_rate)
        self._registers = register_values(settings, channels, sample_rate)
        per_channel = settings.channel_settings(channels)[:channels]
        self._lsb = np.array([Ads1299Scale(gain=s.gain or 24).lsb_volts for s in per_channel])
        if channel_names is not None and len(channel_names) != channels:
            raise ConfigError(
                f"source.channel_names: {len(channel_names)} names for {channels} channels"
            )
        self._names = channel_names or standard_channel_names(channels)
        self._channels = channels
        self._rate = sample_rate
        self._open_hardware = hardware or self._default_hardware
        self._hw: Hardware | None = None
        self._frame_len = frame_bytes(self._chips)
        self._zeros = bytes(self._frame_len)
        self._status_offsets = range(0, self._frame_len, _FRAME_PER_CHIP)
        self._next_index: int | None = None
        self._carry: tuple[int, bytes] | None = None
        self._bad_in_row = 0
        self.framing_errors = 0
        """Frames whose status word lacked the 1100 prefix (each one a lost sample)."""
        self.missed_drdy = 0
        """Conversions the chip overwrote before the driver read them."""
        self.lead_off: frozenset[str] = frozenset()
        """Electrodes whose lead-off comparator trips now (names of their channels)."""
        self.lead_off_changes = 0

    def _default_hardware(self) -> Hardware:
        if self.settings.emulate:
            clock = VirtualClock(realtime=self.settings.paced)
            return ADS1299Emulator(self._chips, clock, seed=self.settings.seed).hardware()
        from eegd.sources.ads1299.hardware import open_hardware

        return open_hardware(self.settings)

    @property
    def sample_rate(self) -> float:
        """Samples per second per channel."""
        return float(self._rate)

    @property
    def channel_names(self) -> tuple[str, ...]:
        """One label per channel: chip 1's eight, then chip 2's, ..."""
        return self._names

    # Start-up ---------------------------------------------------------------------------

    def open(self) -> None:
        """Power up, reset, check, configure and start the chain; raises ``SourceError``."""
        if self._hw is not None:
            raise SourceError("ADS1299 source is already open")
        hw = self._hw = self._open_hardware()
        self._next_index, self._carry, self._bad_in_row = None, None, 0
        try:
            self._start_up(hw)
        except OSError as exc:
            self.close()
            if isinstance(exc, SourceError):
                raise
            raise SourceError(f"ADS1299 start-up failed: SPI or GPIO error: {exc}") from exc
        except BaseException:
            self.close()
            raise

    def _start_up(self, hw: Hardware) -> None:
        lines, clock = hw.lines, hw.clock
        lines.set_start(False)
        lines.set_pwdn(True)
        lines.set_reset(True)
        clock.sleep(_POWER_UP_S)
        lines.set_reset(False)
        clock.sleep(_RESET_PULSE_S)
        lines.set_reset(True)
        clock.sleep(_AFTER_RESET_S)
        self._command(Opcode.SDATAC)
        chip_id = self._read_registers(Register.ID, 1)[0]
        if not id_is_supported(chip_id):
            raise SourceError(f"ADS1299 ID register reads {describe_id(chip_id)}")
        self._write_registers(Register.CONFIG3, bytes((self._registers[Register.CONFIG3],)))
        clock.sleep(_REFERENCE_SETTLE_S)
        for first, last in _WRITTEN:
            values = bytes(self._registers[Register(r)] for r in range(first, last + 1))
            self._write_registers(first, values)
        self._verify_registers()
        lines.set_start(True)
        self._command(Opcode.RDATAC)
        logger.info(
            "ADS1299 %s: %d chip(s), %d channels at %d SPS",
            describe_id(chip_id),
            self._chips,
            self._channels,
            self._rate,
        )

    def _spi(self) -> Hardware:
        if self._hw is None:
            raise SourceError("ADS1299 source is not open")
        return self._hw

    def _command(self, *data: int) -> bytes:
        return self._spi().spi.transfer(bytes(data), COMMAND_SPEED_HZ)

    def _read_registers(self, first: Register, count: int) -> bytes:
        reply = self._spi().spi.transfer(rreg(first, count) + bytes(count), COMMAND_SPEED_HZ)
        return reply[2:]

    def _write_registers(self, first: Register, values: bytes) -> None:
        self._spi().spi.transfer(wreg(first, values), COMMAND_SPEED_HZ)

    def _verify_registers(self) -> None:
        """Read the whole map back; every written bit must be there."""
        readback = self._read_registers(Register.ID, len(Register))
        wrong = []
        for register, wanted in self._registers.items():
            mask = ~READ_ONLY_MASKS.get(register, 0) & 0xFF
            got = readback[register]
            if got & mask != wanted & mask:
                wrong.append(f"{register.name} wrote 0x{wanted:02X}, read 0x{got:02X}")
        if wrong:
            raise SourceError("ADS1299 register read-back mismatch: " + "; ".join(wrong))

    # Streaming --------------------------------------------------------------------------

    def read(self, n_samples: int) -> SampleBlock:
        """The next ``n_samples`` conversions, one SPI transfer per DRDY.

        A block holds consecutive samples only: a gap (missed DRDYs or a framing error)
        ends it early, and the next block starts after the gap.
        """
        if not isinstance(n_samples, int) or n_samples < 1:
            raise ValueError(f"n_samples: {n_samples!r} must be a positive integer")
        hw = self._spi()
        try:
            first, data = self._collect(hw, n_samples)
        except OSError as exc:
            if isinstance(exc, SourceError):
                raise
            raise SourceError(f"ADS1299 SPI or GPIO error while streaming: {exc}") from exc
        return self._decode(first, data)

    def _collect(self, hw: Hardware, n: int) -> tuple[int, bytearray]:
        length = self._frame_len
        wait, transfer, zeros = hw.lines.wait_drdy, hw.spi.transfer, self._zeros
        timeout = self.settings.drdy_timeout_s
        offsets = self._status_offsets
        data = bytearray()
        first = -1
        if self._carry is not None:
            first, frame = self._carry
            data += frame
            self._carry = None
        while len(data) < n * length:
            edges = wait(timeout)
            if edges == 0:
                raise SourceError(
                    f"ADS1299: no DRDY for {timeout:g} s (DRDY stuck or not wired, START "
                    "low, or the chip lost power or clock)"
                )
            frame = transfer(zeros)
            if self._next_index is None:
                index = 0
            else:
                index = self._next_index + edges - 1
                self.missed_drdy += edges - 1
            self._next_index = index + 1
            if any(frame[offset] >> 4 != STATUS_PREFIX for offset in offsets):
                self._framing_error(frame, index)
                continue
            self._bad_in_row = 0
            if first < 0:
                first = index
            elif index != first + len(data) // length:
                self._carry = (index, frame)
                break
            data += frame
        return first, data

    def _framing_error(self, frame: bytes, index: int) -> None:
        self.framing_errors += 1
        self._bad_in_row += 1
        statuses = " ".join(frame[o : o + 3].hex() for o in self._status_offsets)
        count = self.framing_errors
        if count <= 10 or not count & (count - 1):  # the first ten, then at powers of two
            logger.warning(
                "ADS1299 framing error %d at sample %d: status %s lacks the 1100 prefix "
                "(%d in a row)",
                count,
                index,
                statuses,
                self._bad_in_row,
            )
        if self._bad_in_row >= self.settings.max_framing_errors:
            raise SourceError(
                f"ADS1299: {self._bad_in_row} frames in a row without the 1100 status prefix "
                f"(last status {statuses}): SPI clock too fast, wiring, or the chip reset"
            )

    def _decode(self, first: int, data: bytearray) -> SampleBlock:
        frames = np.frombuffer(data, dtype=np.uint8).reshape(-1, self._chips, _FRAME_PER_CHIP)
        counts = decode_24bit(frames[:, :, 3:].tobytes(), self._chips * CHANNELS_PER_CHIP)
        raw = np.ascontiguousarray(counts[: self._channels])
        volts = (raw * self._lsb[:, np.newaxis]).astype(np.float32)
        if not self.settings.lead_off:
            return SampleBlock(first_sample=first, raw=raw, volts=volts)
        self._track_lead_off(frames[-1, :, :3])
        return SampleBlock(first_sample=first, raw=raw, volts=volts, lead_off=self.lead_off)

    def _track_lead_off(self, status: npt.NDArray[np.uint8]) -> None:
        """Lead-off flags of the block's last frame: P and N bits per channel position."""
        statp = (status[:, 0].astype(np.int32) & 0x0F) << 4 | status[:, 1] >> 4
        statn = (status[:, 1].astype(np.int32) & 0x0F) << 4 | status[:, 2] >> 4
        off = set()
        for chip in range(self._chips):
            flags = int(statp[chip] | statn[chip])
            for position in range(CHANNELS_PER_CHIP):
                channel = chip * CHANNELS_PER_CHIP + position
                if flags >> position & 1 and channel < self._channels:
                    off.add(self._names[channel])
        current = frozenset(off)
        if current != self.lead_off:
            self.lead_off_changes += 1
            logger.info("ADS1299 lead-off: %s", ", ".join(sorted(current)) or "all electrodes on")
            self.lead_off = current

    def close(self) -> None:
        """Stop conversions (SDATAC, START low) and release the hardware; safe twice."""
        hw, self._hw = self._hw, None
        if hw is None:
            return
        try:
            hw.spi.transfer(bytes((Opcode.SDATAC,)), COMMAND_SPEED_HZ)
            hw.lines.set_start(False)
        except OSError as exc:
            logger.warning("ADS1299: could not stop conversions while closing: %s", exc)
        finally:
            hw.spi.close()
            hw.lines.close()
