"""What an emulated ADS1299 chain shifts out in RDATAC: each conversion's frame, made from
the analog inputs (as the registers configure them) a chunk at a time, and the status
words in front of it.

Per chip a frame is the status word (1100, LOFF_STATP, LOFF_STATN, GPIO[7:4]) then a 24-bit
word a channel, chip after chip as the daisy chain shifts them out (SBAS499, "Data Output
Pin (DOUT)"). The emulator (``emulator``) applies its frame faults on top.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Final

import numpy as np
import numpy.typing as npt

from eegd.sources.ads1299.excitation import LeadOffDrive
from eegd.sources.ads1299.fields import decode_chnset, decode_config2, lead_off_comparators_on
from eegd.sources.ads1299.registers import CHANNELS_PER_CHIP, Register, channel_register
from eegd.sources.ads1299.settings import frame_bytes
from eegd.sources.ads1299.signals import AnalogInputs, TestSignal

__all__ = ["FRAME_PER_CHIP", "Dout", "lead_off_status", "status_words"]

#: Bytes per chip per conversion: the status word and eight 24-bit channels.
FRAME_PER_CHIP: Final = 3 + 3 * CHANNELS_PER_CHIP


class Dout:
    """The frames of a chain of ``chips`` whose channels read ``inputs``.

    Conversion ``k`` (since START) is the analog inputs' sample ``k`` plus a base that
    keeps the signals running on without a jump across a restart of the conversions.
    """

    CHUNK = 1024
    """Conversions generated at a time."""

    def __init__(self, chips: int, inputs: AnalogInputs) -> None:
        self.chips = chips
        self.inputs = inputs
        self._frame_len = frame_bytes(chips)
        self._analog_next = 0
        self._analog_base = 0
        self._counts = np.zeros((inputs.channels, 0), dtype=np.int32)
        self._counts_first = 0
        self._chunk: bytes | None = None
        self._status = bytes(3 * chips)

    def frame(self, k: int) -> bytes:
        """The frame of conversion ``k``."""
        if not self._counts_first <= k < self._counts_first + self._counts.shape[1]:
            self._generate(k)
        if self._chunk is None:
            self._chunk = _encode_frames(self._counts, self.chips, self._status)
        start = (k - self._counts_first) * self._frame_len
        return self._chunk[start : start + self._frame_len]

    def configure(self, registers: Sequence[Sequence[int]], rate: int) -> None:
        """The inputs as the chips' ``registers`` set them (the test signal, each channel's
        gain and input, the lead-off current), converted at ``rate``; the frames made so
        far are forgotten."""
        amplitude, frequency, internal = decode_config2(registers[0][Register.CONFIG2])
        settings = [
            decode_chnset(values[channel_register(position)])
            for values in registers
            for position in range(CHANNELS_PER_CHIP)
        ]
        test = TestSignal(amplitude, frequency, internal)
        self.inputs.configure(rate, settings, test, LeadOffDrive.from_registers(registers, rate))
        self.drop()

    def set_status(self, status: bytes) -> None:
        """The status words (3 bytes a chip) the frames carry from now on."""
        if status != self._status:
            self._status = bytes(status)
            self._chunk = None

    def drop(self) -> None:
        """Forget the frames made (the inputs or the conversions changed)."""
        self._counts = np.zeros((self.inputs.channels, 0), dtype=np.int32)
        self._counts_first = 0
        self._chunk = None

    def _generate(self, k: int) -> None:
        """Counts from conversion ``k`` on; the analog signals run on without a jump."""
        analog_k = self._analog_base + k
        skipped = analog_k - self._analog_next
        if skipped < 0 or skipped > 16 * self.CHUNK:  # after a reconfiguration or a long stall
            self._analog_base = self._analog_next - k
        elif skipped:  # overwritten conversions still pass through the signal model
            self.inputs.counts(self._analog_next, skipped)
        first = self._analog_base + k
        self._counts = self.inputs.counts(first, self.CHUNK)
        self._counts_first = k
        self._analog_next = first + self.CHUNK
        self._chunk = None


def lead_off_status(
    registers: Sequence[int],
    off_p: npt.NDArray[np.bool_],
    off_n: npt.NDArray[np.bool_],
    chip: int,
) -> tuple[int, int]:
    """(LOFF_STATP, LOFF_STATN) of chip ``chip``, with ``registers``, of a chain whose
    electrodes ``off_p`` and ``off_n`` (a flag a channel) are off: where CONFIG4 and
    LOFF_SENSP/N enable it."""
    if not lead_off_comparators_on(registers[Register.CONFIG4]):
        return 0, 0
    span = slice(chip * CHANNELS_PER_CHIP, (chip + 1) * CHANNELS_PER_CHIP)
    return (
        _bits(off_p[span]) & registers[Register.LOFF_SENSP],
        _bits(off_n[span]) & registers[Register.LOFF_SENSN],
    )


def status_words(
    registers: Iterable[Sequence[int]], off_p: npt.NDArray[np.bool_], off_n: npt.NDArray[np.bool_]
) -> bytes:
    """Every chip's status word: 1100, its lead-off status bits and GPIOD[4:1] with no
    outside signal (outputs as written, inputs low; the emulator samples its ``gpio``)."""
    status = bytearray()
    for chip, values in enumerate(registers):
        statp, statn = lead_off_status(values, off_p, off_n, chip)
        gpio = values[Register.GPIO] >> 4 & ~values[Register.GPIO] & 0x0F
        status += bytes(
            (0xC0 | statp >> 4, (statp & 0x0F) << 4 | statn >> 4, (statn & 0x0F) << 4 | gpio)
        )
    return bytes(status)


def _bits(flags: npt.NDArray[np.bool_]) -> int:
    return sum(1 << i for i, flag in enumerate(flags) if flag)


def _encode_frames(counts: npt.NDArray[np.int32], chips: int, status: bytes) -> bytes:
    """Counts (channels × n) to n frames: per chip its status word then 24-bit words."""
    n = counts.shape[1]
    words = np.ascontiguousarray(counts.T, dtype=">i4").view(np.uint8).reshape(n, -1, 4)
    frames = np.empty((n, chips, FRAME_PER_CHIP), dtype=np.uint8)
    frames[:, :, :3] = np.frombuffer(status, dtype=np.uint8).reshape(chips, 3)
    frames[:, :, 3:] = words[:, :, 1:].reshape(n, chips, 3 * CHANNELS_PER_CHIP)
    return frames.tobytes()
