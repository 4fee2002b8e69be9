"""``ADS1299Source``: the ADS1299 (or a chain of up to four) as an eegd source.

Start-up follows SBAS499's "Initial Flow at Power-Up": wait tPOR, reset (the RESET pin or,
on boards that do not wire it, the RESET opcode), SDATAC, check every chip's ID, write the
configuration and read every register back, forget stale DRDY edges, then START (pin or
opcode) and RDATAC. In a daisy chain each DRDY is one SPI transfer of (3 + 3 × 8) × chips
bytes; in multiple readback (one CS and one DRDY per chip) one transfer per chip. A block
of frames is decoded at once.

Nothing is passed off as a sample it is not (``conversions``: framing errors, late reads
and a chip that lost its configuration are counted and dropped, and the gap they leave
carries its cause). Missed DRDYs (the chip overwrote conversions the host was too late
for) show as a jump in ``first_sample``: the acquisition loop reports it as
``samples_lost``. With lead-off
detection on, each block carries the electrodes now off (``lead_off``), read only from the
STATP/STATN bits that LOFF_SENSP/LOFF_SENSN select; with SRB1 on, the reference electrode
is watched too and reported as ``REF``. With ``gpio_inputs``, each block's aux samples are
those pins' levels in the same frames' status words (``gpio_inputs``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any, ClassVar

import msgspec
import numpy as np

from eegd.aux_stream import AuxStream
from eegd.errors import ConfigError, SourceError
from eegd.events import SystemEventKind
from eegd.sources.adc import ADS1299_SAMPLE_RATES, Ads1299Scale
from eegd.sources.ads1299 import checks
from eegd.sources.ads1299.commands import POWER_UP_S, ChipCommands
from eegd.sources.ads1299.conversions import ConversionCounts, Conversions
from eegd.sources.ads1299.frames import decode_counts, lead_off_electrodes
from eegd.sources.ads1299.gpio_inputs import gpio_aux_stream, gpio_levels
from eegd.sources.ads1299.interface import Hardware
from eegd.sources.ads1299.opening import default_hardware
from eegd.sources.ads1299.registers import CHANNELS_PER_CHIP, Register, describe_id
from eegd.sources.ads1299.settings import MAX_CHIPS, ADS1299Settings, register_values
from eegd.sources.ads1299.wiring import held_lines
from eegd.sources.base import (
    AuxSamples,
    OptionalDependency,
    SampleBlock,
    SharedSourceOptions,
    Source,
    SourceChoices,
    SourceEvent,
)
from eegd.sources.checks import ImpedanceCheck, SelfTest
from eegd.sources.montage import standard_channel_names

__all__ = ["ADS1299Source"]

logger = logging.getLogger(__name__)


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
        self._aux = gpio_aux_stream(settings.gpio_inputs, sample_rate)
        electrodes = settings.emulated_impedance_ohms(channels)
        self._open_hardware = hardware or (
            lambda: default_hardware(settings, self._chips, electrodes)
        )
        self._hw: Hardware | None = None
        self._commands: ChipCommands | None = None
        self._conversions: Conversions | None = None
        self._sensp = self._registers[Register.LOFF_SENSP]
        self._sensn = self._registers[Register.LOFF_SENSN]
        self.counts = ConversionCounts()
        """Framing errors, late reads, missed DRDYs and device resets, over every opening."""
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

    @property
    def aux(self) -> AuxStream | None:
        """The levels of the chip's GPIO pins in ``gpio_inputs``, at the EEG rate; None
        without input pins."""
        return self._aux

    @property
    def framing_errors(self) -> int:
        """Frames whose status word lacked the 1100 prefix (each one a lost sample)."""
        return self.counts.framing_errors

    @property
    def late_reads(self) -> int:
        """Frames whose transfer ended after the next DRDY fell (each one a lost sample)."""
        return self.counts.late_reads

    @property
    def missed_drdy(self) -> int:
        """Conversions the chip overwrote before the driver read them."""
        return self.counts.missed_drdy

    @property
    def device_resets(self) -> int:
        """Times a chip was found to have lost its configuration and was set up again."""
        return self.counts.device_resets

    # Start-up ---------------------------------------------------------------------------

    def gpio_lines(self) -> dict[tuple[str, int], str]:
        """The GPIO lines (chip, line) this source holds, each with the key that names it;
        none when it reads the emulator."""
        settings = self.settings
        if settings.emulate:
            return {}
        return {
            (settings.gpio_chip, line): f"source.ads1299.{key}"
            for line, key in held_lines(msgspec.structs.asdict(settings)).items()
        }

    def open(self) -> None:
        """Power up, reset, check, configure and start the chips; raises ``SourceError``."""
        if self._hw is not None:
            raise SourceError("ADS1299 source is already open")
        hw = self._hw = self._open_hardware()
        self._commands = ChipCommands(hw, self.settings, self._registers)
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
        commands = self._io()
        chip_ids = commands.configure()
        conversions = Conversions(hw, commands, settings, self._chips, self._rate, self.counts)
        self._conversions = conversions
        logger.info(
            "ADS1299 %s on board %s: %d chip(s) (%s readback), %d channels at %d SPS; a lost "
            "configuration is found by %s",
            describe_id(chip_ids[0]),
            settings.board,
            self._chips,
            settings.readback,
            self._channels,
            self._rate,
            "the GPIO echo in every status word" if conversions.echoed else "register read-back",
        )

    def _reader(self) -> Conversions:
        if self._conversions is None:
            raise SourceError("ADS1299 source is not open")
        return self._conversions

    def _io(self) -> ChipCommands:
        if self._commands is None:
            raise SourceError("ADS1299 source is not open")
        return self._commands

    # Streaming --------------------------------------------------------------------------

    def read(self, n_samples: int) -> SampleBlock:
        """The next ``n_samples`` conversions, one SPI transfer per DRDY and chip select.

        A block holds consecutive samples only: a gap (missed DRDYs, a framing error, a
        late read) ends it early, and the next block starts after the gap.
        """
        if not isinstance(n_samples, int) or n_samples < 1:
            raise ValueError(f"n_samples: {n_samples!r} must be a positive integer")
        conversions = self._reader()
        try:
            first, data, cause = conversions.collect(n_samples)
        except OSError as exc:
            if isinstance(exc, SourceError):
                raise
            raise SourceError(f"ADS1299 SPI or GPIO error while streaming: {exc}") from exc
        return self._decode(first, data, cause, conversions.events)

    def _decode(
        self, first: int, data: bytearray, cause: str | None, resets: list[dict[str, Any]]
    ) -> SampleBlock:
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
                for detail in resets
            )
            resets.clear()
        return SampleBlock(
            first_sample=first,
            raw=raw,
            volts=volts,
            lead_off=lead_off,
            events=events,
            gap_cause=cause,
            aux=None
            if self._aux is None
            else AuxSamples(first, gpio_levels(status, self.settings.gpio_inputs)),
        )

    def close(self) -> None:
        """Stop conversions (SDATAC, START low or STOP) and release the hardware; safe twice."""
        hw, commands = self._hw, self._commands
        self._hw, self._commands, self._conversions = None, None, None
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
