"""The conversions of an open ADS1299 chain, read frame by frame: one SPI transfer per DRDY
(and chip select), each frame placed at its sample index by the DRDY count.

Nothing is passed off as a sample it is not: a status word without its 1100 prefix is a
framing error, and a frame whose transfer ended after the next DRDY fell (from the edge's
timestamp: the read was late, the frame may be torn or newer) is a late read; each is
counted, logged and dropped, and the gap it leaves carries its cause. Several framing
errors in a row end the session with ``SourceError`` so the supervisor reconnects. Missed
DRDYs (the chip overwrote conversions the host was too late for) show as a jump in the
sample index. A chip that lost its configuration (found by the GPIO echo in its status
word, or by a register read-back every ``RESET_CHECK_S``) is set up again in the same
session, and the samples meanwhile are a gap with a ``device_reset`` event.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Final

from eegd.errors import SourceError
from eegd.sources.ads1299.commands import ChipCommands
from eegd.sources.ads1299.frames import FRAME_PER_CHIP
from eegd.sources.ads1299.gpio_inputs import gpio_echo
from eegd.sources.ads1299.interface import Hardware
from eegd.sources.ads1299.registers import STATUS_PREFIX, Opcode
from eegd.sources.ads1299.settings import ADS1299Settings, frame_bytes

__all__ = ["RESET_CHECK_S", "TRIAL_S", "ConversionCounts", "Conversions"]

logger = logging.getLogger(__name__)

_LATE: Final = "late_read"
_DEVICE_RESET: Final = "device_reset"
_FRAMING: Final = "framing_error"
#: Where no GPIO echo is possible, the registers are read back this often (seconds).
RESET_CHECK_S: Final = 0.5
#: A session's first seconds, after which the share of conversions lost is judged...
TRIAL_S: Final = 2.0
#: ...and the share of conversions after which the host fell behind (missed DRDYs or a
#: late read) above which the rate is refused as one this host cannot sustain.
_UNSUSTAINABLE: Final = 0.05


@dataclass
class ConversionCounts:
    """What went wrong reading a source's conversions, over every opening of it."""

    framing_errors: int = 0
    """Frames whose status word lacked the 1100 prefix (each one a lost sample)."""
    late_reads: int = 0
    """Frames whose transfer ended after the next DRDY fell (each one a lost sample)."""
    missed_drdy: int = 0
    """Conversions the chip overwrote before the driver read them."""
    device_resets: int = 0
    """Times a chip was found to have lost its configuration and was set up again."""


def _log_sparingly(count: int, message: str, *args: object) -> None:
    """Warn about the ``count``-th such event: the first ten, then at powers of two."""
    if count <= 10 or not count & (count - 1):
        logger.warning(message, count, *args)


class Conversions:
    """The frames of one opening of a configured chain of ``chips`` at ``rate`` SPS.

    ``collect`` gives the next run of consecutive frames; ``events`` holds the
    ``device_reset`` details of the re-initialisations since the last gap was told.
    """

    def __init__(
        self,
        hw: Hardware,
        commands: ChipCommands,
        settings: ADS1299Settings,
        chips: int,
        rate: int,
        counts: ConversionCounts,
    ) -> None:
        self._hw = hw
        self._commands = commands
        self._settings = settings
        self._rate = rate
        self._period = 1.0 / rate
        self._counts = counts
        self._multiple = settings.readback == "multiple"
        self._frame_len = frame_bytes(chips)
        self._zeros = bytes(self._frame_len)
        self._chip_zeros = bytes(FRAME_PER_CHIP)
        self._status_offsets = range(0, self._frame_len, FRAME_PER_CHIP)
        self._echo_mask, self._echo_pattern = gpio_echo(settings.echo_pins)
        self._next_index: int | None = None
        self._carry: tuple[int, bytes, str | None] | None = None
        self._drop_cause: str | None = None
        self._bad_in_row = 0
        self._silent = 0
        self._resync = False
        self._last_fell = 0.0
        now = hw.clock.monotonic()
        self._next_check = now + RESET_CHECK_S
        self._trial_until: float | None = now + TRIAL_S
        self._falls_behind = 0
        """Times the host fell behind (missed DRDYs or a late read) in this session."""
        self._verified_through = 0
        """The first sample not yet vouched for by a register read-back."""
        self.events: list[dict[str, Any]] = []

    @property
    def echoed(self) -> bool:
        """Whether each status word echoes a GPIO pattern, so that a chip that lost its
        configuration shows in its next frame (otherwise the registers are read back)."""
        return bool(self._echo_mask)

    # A chip that lost its configuration -------------------------------------------------

    def _lost_configuration(self, found_by: str) -> bool:
        """Read every chip's registers back; re-initialise if one lost them (then True).

        In a daisy chain only chip 1 answers RREG; the GPIO echo watches the others.
        """
        commands = self._commands
        commands.command(Opcode.SDATAC)
        lost = [chip for chip in range(len(self._hw.spi)) if commands.wrong_registers(chip)]
        if not lost:
            commands.command(Opcode.RDATAC)
            self._verified_through = self._next_index or 0
            return False
        self._reinitialise(found_by, lost)
        return True

    def _reinitialise(self, found_by: str, chips: list[int]) -> None:
        """Set the chips up again in the same session; the samples meanwhile are a gap."""
        self._counts.device_resets += 1
        numbers = [chip + 1 for chip in chips]
        logger.warning(
            "ADS1299 chip(s) %s lost their configuration (a reset or a power dip, found by "
            "%s): setting them up again",
            ", ".join(map(str, numbers)),
            found_by.replace("_", " "),
        )
        self._commands.configure()
        self._drop_cause, self._resync = _DEVICE_RESET, True
        self._next_check = self._hw.clock.monotonic() + RESET_CHECK_S
        detail: dict[str, Any] = {"chips": numbers, "found_by": found_by}
        if found_by == "register_check":
            # samples read since the last good read-back may come from the reset chip
            detail["suspect_from_sample"] = self._verified_through
        self.events.append(detail | {"count": self._counts.device_resets})

    def _echo_lost(self, frame: bytes) -> list[int]:
        """The chips whose status word lacks the GPIO pattern (they were reset)."""
        mask, pattern = self._echo_mask, self._echo_pattern
        return [
            chip
            for chip, offset in enumerate(self._status_offsets)
            if frame[offset + 2] & mask != pattern
        ]

    # Streaming --------------------------------------------------------------------------

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
                f"{TRIAL_S:g} s (missed DRDYs or frames read late; one DRDY every "
                f"{self._period * 1e6:.1f} µs); set a lower source.sample_rate "
                "(docs/hardware.md, cost per DRDY)"
            )

    def _no_drdy(self, chip: int) -> SourceError:
        timeout = self._settings.drdy_timeout_s
        return SourceError(
            f"ADS1299: no DRDY for {timeout:g} s from chip {chip + 1} (DRDY stuck or not "
            "wired, conversions not started, or the chip lost power or clock)"
        )

    def _frames_of_chips(self) -> tuple[int, float, bytes, bool]:
        """Multiple readback: each chip's DRDY and frame; (edges, fell, frames, read late).

        No DRDY from a chip is 0 edges, and that chip is ``_silent``.
        """
        hw = self._hw
        timeout, clock, period = self._settings.drdy_timeout_s, hw.clock, self._period
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

    def collect(self, n: int) -> tuple[int, bytearray, str | None]:
        """Up to ``n`` consecutive frames: (the first one's sample index, the frames, the
        cause of the gap before them or None). A gap ends the run early; the frame after
        it starts the next one."""
        hw = self._hw
        length = self._frame_len
        offsets = self._status_offsets
        wait, transfer, zeros = hw.lines.wait_drdy, hw.spi[0].transfer, self._zeros
        timeout, now, period = self._settings.drdy_timeout_s, hw.clock.monotonic, self._period
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
                edges, fell, frame, late = self._frames_of_chips()
            else:
                self._silent = 0
                edges, fell = wait(timeout)
                if edges:
                    frame = transfer(zeros)
                    late = now() >= fell + period
            if edges == 0:
                if self._lost_configuration("drdy_stopped"):
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
                    self._counts.missed_drdy += edges - 1
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
                self._reinitialise("gpio_echo", self._echo_lost(frame))
                continue
            if readback and fell >= self._next_check:
                self._next_check = fell + RESET_CHECK_S
                if self._lost_configuration("register_check"):
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
        counts = self._counts
        counts.late_reads += 1
        self._falls_behind += 1
        self._drop_cause = _LATE
        _log_sparingly(
            counts.late_reads,
            "ADS1299 late read %d at sample %d: the next DRDY fell before the frame was "
            "read (host too slow for %d SPS); the sample is dropped",
            index,
            self._rate,
        )

    def _framing_error(self, frame: bytes, index: int) -> None:
        counts = self._counts
        counts.framing_errors += 1
        self._bad_in_row += 1
        self._drop_cause = _FRAMING
        statuses = " ".join(frame[o : o + 3].hex() for o in self._status_offsets)
        _log_sparingly(
            counts.framing_errors,
            "ADS1299 framing error %d at sample %d: status %s lacks the 1100 prefix (%d in a row)",
            index,
            statuses,
            self._bad_in_row,
        )
        if self._bad_in_row >= self._settings.max_framing_errors:
            raise SourceError(
                f"ADS1299: {self._bad_in_row} frames in a row without the 1100 status prefix "
                f"(last status {statuses}): SPI clock too fast, wiring, or the chip reset"
            )
