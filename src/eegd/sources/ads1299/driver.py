"""``ADS1299Source``: the ADS1299 (or a chain of up to four) as an eegd source.

Start-up follows SBAS499's "Initial Flow at Power-Up": wait tPOR, reset (the RESET pin or,
on boards that do not wire it, the RESET opcode), SDATAC, check every chip's ID, write the
configuration and read every register back, forget stale DRDY edges, then START (pin or
opcode) and RDATAC. In a daisy chain each DRDY is one SPI transfer of (3 + 3 × 8) × chips
bytes; in multiple readback (one CS and one DRDY per chip) one transfer per chip. A block
of frames is decoded at once.

Nothing is passed off as a sample it is not: a status word without its 1100 prefix is a
framing error, and a frame whose transfer ended after the next DRDY fell (from the edge's
timestamp: the read was late, the frame may be torn or newer) is a late read; each is
counted, logged and dropped, and the gap it leaves carries its cause. Several framing
errors in a row end the session with ``SourceError`` so the supervisor reconnects. Missed
DRDYs (the chip overwrote conversions the host was too late for) show as a jump in
``first_sample``: the acquisition loop reports it as ``samples_lost``. With lead-off
detection on, each block carries the electrodes now off (``lead_off``), read only from the
STATP/STATN bits that LOFF_SENSP/LOFF_SENSN select; with SRB1 on, the reference electrode
is watched too and reported as ``REF``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any, ClassVar

import numpy as np

from eegd.errors import ConfigError, SourceError
from eegd.sources.adc import ADS1299_SAMPLE_RATES, Ads1299Scale
from eegd.sources.ads1299.frames import (
    FRAME_PER_CHIP,
    decode_counts,
    lead_off_electrodes,
)
from eegd.sources.ads1299.interface import Hardware
from eegd.sources.ads1299.opening import default_hardware
from eegd.sources.ads1299.registers import (
    CHANNELS_PER_CHIP,
    POWER_ON_RESET_S,
    READ_ONLY_MASKS,
    STATUS_PREFIX,
    TCLK_S,
    Opcode,
    Register,
    describe_id,
    id_refusal,
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
_WRITTEN = (
    (Register.CONFIG1, Register.LOFF_FLIP),
    (Register.MISC1, Register.CONFIG4),
)
_LATE = "late_read"
_FRAMING = "framing_error"


def _log_sparingly(count: int, message: str, *args: object) -> None:
    """Warn about the ``count``-th such event: the first ten, then at powers of two."""
    if count <= 10 or not count & (count - 1):
        logger.warning(message, count, *args)


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
        self._lsb = np.array(
            [Ads1299Scale(vref=settings.vref, gain=s.gain or 24).lsb_volts for s in per_channel]
        )
        if channel_names is not None and len(channel_names) != channels:
            raise ConfigError(
                f"source.channel_names: {len(channel_names)} names for {channels} channels"
            )
        self._names = channel_names or standard_channel_names(channels)
        self._channels = channels
        self._rate = sample_rate
        self._period = 1.0 / sample_rate
        self._multiple = settings.readback == "multiple"
        self._open_hardware = hardware or (lambda: default_hardware(settings, self._chips))
        self._hw: Hardware | None = None
        self._frame_len = frame_bytes(self._chips)
        self._zeros = bytes(self._frame_len)
        self._chip_zeros = bytes(FRAME_PER_CHIP)
        self._status_offsets = range(0, self._frame_len, FRAME_PER_CHIP)
        self._sensp = self._registers[Register.LOFF_SENSP]
        self._sensn = self._registers[Register.LOFF_SENSN]
        self._next_index: int | None = None
        self._carry: tuple[int, bytes, str | None] | None = None
        self._drop_cause: str | None = None
        self._bad_in_row = 0
        self.framing_errors = 0
        """Frames whose status word lacked the 1100 prefix (each one a lost sample)."""
        self.late_reads = 0
        """Frames whose transfer ended after the next DRDY fell (each one a lost sample)."""
        self.missed_drdy = 0
        """Conversions the chip overwrote before the driver read them."""
        self.lead_off: frozenset[str] = frozenset()
        """Electrodes whose lead-off comparator trips now (names of their channels, REF)."""
        self.lead_off_changes = 0

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
        """Power up, reset, check, configure and start the chips; raises ``SourceError``."""
        if self._hw is not None:
            raise SourceError("ADS1299 source is already open")
        hw = self._hw = self._open_hardware()
        self._next_index, self._carry, self._drop_cause = None, None, None
        self._bad_in_row = 0
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
        settings, lines, clock = self.settings, hw.lines, hw.clock
        if settings.start_gpio is not None:
            lines.set_start(False)
        if settings.pwdn_gpio is not None:
            lines.set_pwdn(True)
        if settings.reset_gpio is not None:
            lines.set_reset(True)
        clock.sleep(_POWER_UP_S)
        if settings.reset_gpio is not None:
            lines.set_reset(False)
            clock.sleep(_RESET_PULSE_S)
            lines.set_reset(True)
        else:
            self._command(Opcode.RESET)
        clock.sleep(_AFTER_RESET_S)
        self._command(Opcode.SDATAC)
        if settings.start_gpio is None:
            self._command(Opcode.STOP)
        chip_ids = [self._read_registers(Register.ID, 1, chip)[0] for chip in range(len(hw.spi))]
        for chip, chip_id in enumerate(chip_ids):
            refusal = id_refusal(chip_id)
            if refusal is not None:
                raise SourceError(f"ADS1299 chip {chip + 1}: the ID register reads {refusal}")
        self._write_registers(Register.CONFIG3, bytes((self._registers[Register.CONFIG3],)))
        clock.sleep(_REFERENCE_SETTLE_S)
        for first, last in _WRITTEN:
            values = bytes(self._registers[Register(r)] for r in range(first, last + 1))
            self._write_registers(first, values)
        for chip in range(len(hw.spi)):
            self._verify_registers(chip)
        lines.drain()
        if settings.start_gpio is not None:
            lines.set_start(True)
        else:
            self._command(Opcode.START)
        self._command(Opcode.RDATAC)
        logger.info(
            "ADS1299 %s on board %s: %d chip(s) (%s readback), %d channels at %d SPS",
            describe_id(chip_ids[0]),
            settings.board,
            self._chips,
            settings.readback,
            self._channels,
            self._rate,
        )

    def _spi(self) -> Hardware:
        if self._hw is None:
            raise SourceError("ADS1299 source is not open")
        return self._hw

    def _command(self, *data: int) -> None:
        """Send a command to every chip: one transfer per chip select."""
        for spi in self._spi().spi:
            spi.transfer(bytes(data), COMMAND_SPEED_HZ)

    def _read_registers(self, first: Register, count: int, chip: int = 0) -> bytes:
        spi = self._spi().spi[chip]
        return spi.transfer(rreg(first, count) + bytes(count), COMMAND_SPEED_HZ)[2:]

    def _write_registers(self, first: Register, values: bytes) -> None:
        self._command(*wreg(first, values))

    def _verify_registers(self, chip: int) -> None:
        """Read the chip's whole map back; every written bit must be there."""
        readback = self._read_registers(Register.ID, len(Register), chip)
        wrong = []
        for register, wanted in self._registers.items():
            mask = ~READ_ONLY_MASKS.get(register, 0) & 0xFF
            got = readback[register]
            if got & mask != wanted & mask:
                wrong.append(f"{register.name} wrote 0x{wanted:02X}, read 0x{got:02X}")
        if wrong:
            raise SourceError(
                f"ADS1299 chip {chip + 1} register read-back mismatch: " + "; ".join(wrong)
            )

    # Streaming --------------------------------------------------------------------------

    def read(self, n_samples: int) -> SampleBlock:
        """The next ``n_samples`` conversions, one SPI transfer per DRDY and chip select.

        A block holds consecutive samples only: a gap (missed DRDYs, a framing error, a
        late read) ends it early, and the next block starts after the gap.
        """
        if not isinstance(n_samples, int) or n_samples < 1:
            raise ValueError(f"n_samples: {n_samples!r} must be a positive integer")
        hw = self._spi()
        try:
            first, data, cause = self._collect(hw, n_samples)
        except OSError as exc:
            if isinstance(exc, SourceError):
                raise
            raise SourceError(f"ADS1299 SPI or GPIO error while streaming: {exc}") from exc
        return self._decode(first, data, cause)

    def _no_drdy(self, chip: int) -> SourceError:
        timeout = self.settings.drdy_timeout_s
        return SourceError(
            f"ADS1299: no DRDY for {timeout:g} s from chip {chip + 1} (DRDY stuck or not "
            "wired, conversions not started, or the chip lost power or clock)"
        )

    def _frames_of_chips(self, hw: Hardware) -> tuple[int, bytes, bool]:
        """Multiple readback: each chip's DRDY and frame; (edges, frames, read late)."""
        timeout, clock, period = self.settings.drdy_timeout_s, hw.clock, self._period
        parts = []
        late = False
        count = 0
        for chip, spi in enumerate(hw.spi):
            edges, fell = hw.lines.wait_drdy(timeout, chip)
            if edges == 0:
                raise self._no_drdy(chip)
            parts.append(spi.transfer(self._chip_zeros))
            # a chip that counted other conversions than chip 1 did is out of step
            late = late or clock.monotonic() >= fell + period or (chip > 0 and edges != count)
            count = count or edges
        return count, b"".join(parts), late

    def _collect(self, hw: Hardware, n: int) -> tuple[int, bytearray, str | None]:
        length = self._frame_len
        offsets = self._status_offsets
        wait, transfer, zeros = hw.lines.wait_drdy, hw.spi[0].transfer, self._zeros
        timeout, now, period = self.settings.drdy_timeout_s, hw.clock.monotonic, self._period
        multiple = self._multiple
        data = bytearray()
        first = -1
        cause: str | None = None
        if self._carry is not None:
            first, frame, cause = self._carry
            data += frame
            self._carry = None
        while len(data) < n * length:
            if multiple:
                edges, frame, late = self._frames_of_chips(hw)
            else:
                edges, fell = wait(timeout)
                if edges == 0:
                    raise self._no_drdy(0)
                frame = transfer(zeros)
                late = now() >= fell + period
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
            if late:
                self._late_read(index)
                continue
            if first < 0:
                first, cause, self._drop_cause = index, self._drop_cause, None
            elif index != first + len(data) // length:
                self._carry = (index, frame, self._drop_cause)
                self._drop_cause = None
                break
            data += frame
        return first, data, cause

    def _late_read(self, index: int) -> None:
        self.late_reads += 1
        self._drop_cause = _LATE
        _log_sparingly(
            self.late_reads,
            "ADS1299 late read %d at sample %d: the next DRDY fell before the frame was "
            "read (host too slow for %d SPS); the sample is dropped",
            index,
            self._rate,
        )

    def _framing_error(self, frame: bytes, index: int) -> None:
        self.framing_errors += 1
        self._bad_in_row += 1
        self._drop_cause = _FRAMING
        statuses = " ".join(frame[o : o + 3].hex() for o in self._status_offsets)
        _log_sparingly(
            self.framing_errors,
            "ADS1299 framing error %d at sample %d: status %s lacks the 1100 prefix (%d in a row)",
            index,
            statuses,
            self._bad_in_row,
        )
        if self._bad_in_row >= self.settings.max_framing_errors:
            raise SourceError(
                f"ADS1299: {self._bad_in_row} frames in a row without the 1100 status prefix "
                f"(last status {statuses}): SPI clock too fast, wiring, or the chip reset"
            )

    def _decode(self, first: int, data: bytearray, cause: str | None) -> SampleBlock:
        raw, status = decode_counts(data, self._chips, self._channels)
        volts = (raw * self._lsb[:, np.newaxis]).astype(np.float32)
        lead_off = None
        if self.settings.lead_off:
            current = lead_off_electrodes(status[-1], self._sensp, self._sensn, self._names)
            if current != self.lead_off:
                self.lead_off_changes += 1
                logger.info(
                    "ADS1299 lead-off: %s", ", ".join(sorted(current)) or "all electrodes on"
                )
                self.lead_off = current
            lead_off = current
        return SampleBlock(
            first_sample=first, raw=raw, volts=volts, lead_off=lead_off, gap_cause=cause
        )

    def close(self) -> None:
        """Stop conversions (SDATAC, START low or STOP) and release the hardware; safe twice."""
        hw, self._hw = self._hw, None
        if hw is None:
            return
        try:
            for spi in hw.spi:
                spi.transfer(bytes((Opcode.SDATAC,)), COMMAND_SPEED_HZ)
                if self.settings.start_gpio is None:
                    spi.transfer(bytes((Opcode.STOP,)), COMMAND_SPEED_HZ)
            if self.settings.start_gpio is not None:
                hw.lines.set_start(False)
        except OSError as exc:
            logger.warning("ADS1299: could not stop conversions while closing: %s", exc)
        finally:
            for spi in hw.spi:
                spi.close()
            hw.lines.close()
