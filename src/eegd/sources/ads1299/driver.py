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
from dataclasses import fields
from types import MappingProxyType
from typing import Any, ClassVar

import numpy as np

from eegd.errors import ConfigError, SourceError
from eegd.events import SystemEventKind
from eegd.sources.adc import ADS1299_SAMPLE_RATES, Ads1299Scale
from eegd.sources.ads1299 import checks
from eegd.sources.ads1299.commands import POWER_UP_S, ChipCommands
from eegd.sources.ads1299.frames import (
    FRAME_PER_CHIP,
    decode_counts,
    lead_off_electrodes,
)
from eegd.sources.ads1299.interface import Hardware
from eegd.sources.ads1299.opening import default_hardware
from eegd.sources.ads1299.registers import (
    CHANNELS_PER_CHIP,
    STATUS_PREFIX,
    Opcode,
    Register,
    describe_id,
)
from eegd.sources.ads1299.settings import (
    MAX_CHIPS,
    ADS1299Settings,
    frame_bytes,
    gpio_echo,
    register_values,
)
from eegd.sources.ads1299.wiring import held_lines
from eegd.sources.base import (
    ImpedanceCheck,
    OptionalDependency,
    SampleBlock,
    SelfTest,
    SharedSourceOptions,
    Source,
    SourceChoices,
    SourceEvent,
)
from eegd.sources.montage import standard_channel_names

__all__ = ["ADS1299Source"]

logger = logging.getLogger(__name__)

_LATE = "late_read"
_DEVICE_RESET = "device_reset"
#: Where no GPIO echo is possible, the registers are read back this often (seconds).
_RESET_CHECK_S = 0.5
_FRAMING = "framing_error"
#: A session's first seconds, after which the share of conversions lost is judged...
_TRIAL_S = 2.0
#: ...and the share of conversions after which the host fell behind (missed DRDYs or a
#: late read) above which the rate is refused as one this host cannot sustain.
_UNSUSTAINABLE = 0.05


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
    selftest: ClassVar[SelfTest | None] = checks.selftest
    impedance_check: ClassVar[ImpedanceCheck | None] = checks.impedance_check

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
        self._commands: ChipCommands | None = None
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
        self._echo_mask, self._echo_pattern = gpio_echo(settings.free_chip_gpios)
        self._next_check = 0.0
        self._trial_until: float | None = None
        self._falls_behind = 0
        """Times the host fell behind (missed DRDYs or a late read) in this session."""
        self._verified_through = 0
        """The first sample not yet vouched for by a register read-back."""
        self._last_fell = 0.0
        self._resync = False
        self._events: list[dict[str, Any]] = []
        self.device_resets = 0
        """Times a chip was found to have lost its configuration and was set up again."""

    @property
    def sample_rate(self) -> float:
        """Samples per second per channel."""
        return float(self._rate)

    @property
    def channel_names(self) -> tuple[str, ...]:
        """One label per channel: chip 1's eight, then chip 2's, ..."""
        return self._names

    # Start-up ---------------------------------------------------------------------------

    def gpio_lines(self) -> dict[tuple[str, int], str]:
        """The GPIO lines (chip, line) this source holds, each with the key that names it;
        none when it reads the emulator."""
        settings = self.settings
        if settings.emulate:
            return {}
        values = {field.name: getattr(settings, field.name) for field in fields(settings)}
        return {
            (settings.gpio_chip, line): f"source.ads1299.{key}"
            for line, key in held_lines(values).items()
        }

    def open(self) -> None:
        """Power up, reset, check, configure and start the chips; raises ``SourceError``."""
        if self._hw is not None:
            raise SourceError("ADS1299 source is already open")
        hw = self._hw = self._open_hardware()
        self._commands = ChipCommands(hw, self.settings, self._registers)
        self._next_index, self._carry, self._drop_cause = None, None, None
        self._bad_in_row, self._resync, self._silent = 0, False, 0
        self._verified_through = 0
        self._events.clear()
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
        settings, lines = self.settings, hw.lines
        if settings.pwdn_gpio is not None:
            lines.set_pwdn(True)
        if settings.reset_gpio is not None:
            lines.set_reset(True)
        hw.clock.sleep(POWER_UP_S)
        chip_ids = self._io().configure()
        self._next_check = hw.clock.monotonic() + _RESET_CHECK_S
        self._trial_until = hw.clock.monotonic() + _TRIAL_S
        self._falls_behind = 0
        logger.info(
            "ADS1299 %s on board %s: %d chip(s) (%s readback), %d channels at %d SPS; a lost "
            "configuration is found by %s",
            describe_id(chip_ids[0]),
            settings.board,
            self._chips,
            settings.readback,
            self._channels,
            self._rate,
            "the GPIO echo in every status word" if self._echo_mask else "register read-back",
        )

    def _spi(self) -> Hardware:
        if self._hw is None:
            raise SourceError("ADS1299 source is not open")
        return self._hw

    def _io(self) -> ChipCommands:
        if self._commands is None:
            raise SourceError("ADS1299 source is not open")
        return self._commands

    # A chip that lost its configuration -------------------------------------------------

    def _lost_configuration(self, hw: Hardware, found_by: str) -> bool:
        """Read every chip's registers back; re-initialise if one lost them (then True).

        In a daisy chain only chip 1 answers RREG; the GPIO echo watches the others.
        """
        self._io().command(Opcode.SDATAC)
        lost = [chip for chip in range(len(hw.spi)) if self._io().wrong_registers(chip)]
        if not lost:
            self._io().command(Opcode.RDATAC)
            self._verified_through = self._next_index or 0
            return False
        self._reinitialise(hw, found_by, lost)
        return True

    def _reinitialise(self, hw: Hardware, found_by: str, chips: list[int]) -> None:
        """Set the chips up again in the same session; the samples meanwhile are a gap."""
        self.device_resets += 1
        numbers = [chip + 1 for chip in chips]
        logger.warning(
            "ADS1299 chip(s) %s lost their configuration (a reset or a power dip, found by "
            "%s): setting them up again",
            ", ".join(map(str, numbers)),
            found_by.replace("_", " "),
        )
        self._io().configure()
        self._drop_cause, self._resync = _DEVICE_RESET, True
        self._next_check = hw.clock.monotonic() + _RESET_CHECK_S
        detail: dict[str, Any] = {"chips": numbers, "found_by": found_by}
        if found_by == "register_check":
            # samples read since the last good read-back may come from the reset chip
            detail["suspect_from_sample"] = self._verified_through
        self._events.append(detail | {"count": self.device_resets})

    def _echo_lost(self, frame: bytes) -> list[int]:
        """The chips whose status word lacks the GPIO pattern (they were reset)."""
        mask, pattern = self._echo_mask, self._echo_pattern
        return [
            chip
            for chip, offset in enumerate(self._status_offsets)
            if frame[offset + 2] & mask != pattern
        ]

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

    def _judge_the_rate(self) -> None:
        """After the first seconds: refuse a rate this host keeps falling behind at.

        What counts is how often the host fell behind, not how many samples it lost: one
        long stall (the daemon starting up) loses many samples once, a rate the host
        cannot sustain loses a few again and again.
        """
        self._trial_until = None
        converted = self._next_index or 0
        if converted and self._falls_behind > _UNSUSTAINABLE * converted:
            raise SourceError(
                f"ADS1299: {self._rate} SPS is more than this host sustains: it fell behind "
                f"{self._falls_behind} times in {converted} conversions in the first "
                f"{_TRIAL_S:g} s (missed DRDYs or frames read late; one DRDY every "
                f"{self._period * 1e6:.1f} µs); set a lower source.sample_rate "
                "(docs/hardware.md, cost per DRDY)"
            )

    def _no_drdy(self, chip: int) -> SourceError:
        timeout = self.settings.drdy_timeout_s
        return SourceError(
            f"ADS1299: no DRDY for {timeout:g} s from chip {chip + 1} (DRDY stuck or not "
            "wired, conversions not started, or the chip lost power or clock)"
        )

    def _frames_of_chips(self, hw: Hardware) -> tuple[int, float, bytes, bool]:
        """Multiple readback: each chip's DRDY and frame; (edges, fell, frames, read late).

        No DRDY from a chip is 0 edges, and that chip is ``_silent``.
        """
        timeout, clock, period = self.settings.drdy_timeout_s, hw.clock, self._period
        parts = []
        late = False
        count, first_fell = 0, 0.0
        for chip, spi in enumerate(hw.spi):
            edges, fell = hw.lines.wait_drdy(timeout, chip)
            if edges == 0:
                self._silent = chip
                return 0, 0.0, b"", False
            parts.append(spi.transfer(self._chip_zeros))
            # a chip that counted other conversions than chip 1 did is out of step
            late = late or clock.monotonic() >= fell + period or (chip > 0 and edges != count)
            if chip == 0:
                count, first_fell = edges, fell
        return count, first_fell, b"".join(parts), late

    def _collect(self, hw: Hardware, n: int) -> tuple[int, bytearray, str | None]:
        length = self._frame_len
        offsets = self._status_offsets
        wait, transfer, zeros = hw.lines.wait_drdy, hw.spi[0].transfer, self._zeros
        timeout, now, period = self.settings.drdy_timeout_s, hw.clock.monotonic, self._period
        multiple, echo, readback = self._multiple, self._echo_mask, not self._echo_mask
        trial = self._trial_until
        data = bytearray()
        first = -1
        cause: str | None = None
        if self._carry is not None:
            first, frame, cause = self._carry
            data += frame
            self._carry = None
        while len(data) < n * length:
            if multiple:
                edges, fell, frame, late = self._frames_of_chips(hw)
            else:
                self._silent = 0
                edges, fell = wait(timeout)
                if edges:
                    frame = transfer(zeros)
                    late = now() >= fell + period
            if edges == 0:
                if self._lost_configuration(hw, "drdy_stopped"):
                    continue
                raise self._no_drdy(self._silent)
            if self._next_index is None:
                index = 0
            elif self._resync:  # after a re-initialisation: place the sample by its time
                index = self._next_index - 1 + max(1, round((fell - self._last_fell) / period))
                self._resync, self._verified_through = False, index
            else:
                index = self._next_index + edges - 1
                if edges > 1:
                    self.missed_drdy += edges - 1
                    self._falls_behind += 1
            self._next_index, self._last_fell = index + 1, fell
            if trial is not None and fell >= trial:
                self._judge_the_rate()
                trial = None
            if any(frame[offset] >> 4 != STATUS_PREFIX for offset in offsets):
                self._framing_error(frame, index)
                continue
            self._bad_in_row = 0
            if echo and any(frame[o + 2] & echo != self._echo_pattern for o in offsets):
                self._reinitialise(hw, "gpio_echo", self._echo_lost(frame))
                continue
            if readback and fell >= self._next_check:
                self._next_check = fell + _RESET_CHECK_S
                if self._lost_configuration(hw, "register_check"):
                    continue  # this frame may already come from the reset chip
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
        self._falls_behind += 1
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
        events: tuple[SourceEvent, ...] = ()
        if cause is not None:  # a re-initialisation always leaves a gap: its block tells
            events = tuple(
                SourceEvent(SystemEventKind.DEVICE_RESET, first, MappingProxyType(detail))
                for detail in self._events
            )
            self._events.clear()
        return SampleBlock(
            first_sample=first,
            raw=raw,
            volts=volts,
            lead_off=lead_off,
            events=events,
            gap_cause=cause,
        )

    def close(self) -> None:
        """Stop conversions (SDATAC, START low or STOP) and release the hardware; safe twice."""
        hw, commands = self._hw, self._commands
        self._hw, self._commands = None, None
        if hw is None or commands is None:
            return
        try:
            commands.stop()
        except OSError as exc:
            logger.warning("ADS1299: could not stop conversions while closing: %s", exc)
        finally:
            for spi in hw.spi:
                spi.close()
            hw.lines.close()
