"""What the ADS1299 shifts out in RDATAC, decoded: pure functions on bytes, no I/O.

Per chip a frame is a 24-bit status word (1100, LOFF_STATP[7:0], LOFF_STATN[7:0],
GPIO[4:1]) then 24 bits per channel; a daisy chain (or the chips of a multiple readback,
read one after the other) gives chip 1's frame, then chip 2's, ...
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

import numpy as np
import numpy.typing as npt

from eegd.sources.adc import decode_24bit
from eegd.sources.ads1299.registers import CHANNELS_PER_CHIP

__all__ = ["FRAME_PER_CHIP", "REFERENCE_ELECTRODE", "decode_counts", "lead_off_electrodes"]

#: Bytes per chip per DRDY: the status word and eight 24-bit channels.
FRAME_PER_CHIP: Final = 3 + 3 * CHANNELS_PER_CHIP
#: The name lead-off gives the reference electrode (SRB1, watched through channel 1's IN-).
REFERENCE_ELECTRODE: Final = "REF"


def decode_counts(
    data: bytes | bytearray, chips: int, channels: int
) -> tuple[npt.NDArray[np.int32], npt.NDArray[np.uint8]]:
    """(counts of the first ``channels`` channels × frames, status words frames × chips × 3)."""
    frames = np.frombuffer(data, dtype=np.uint8).reshape(-1, chips, FRAME_PER_CHIP)
    counts = decode_24bit(frames[:, :, 3:].tobytes(), chips * CHANNELS_PER_CHIP)
    return np.ascontiguousarray(counts[:channels]), frames[:, :, :3]


def lead_off_electrodes(
    status: npt.NDArray[np.uint8], sensp: int, sensn: int, names: Sequence[str]
) -> frozenset[str]:
    """Electrodes off by one frame's status words (chips × 3), reading only selected bits.

    SBAS499: LOFF_STATP/N bits whose LOFF_SENSP/N bit is clear are not valid. A tripped N
    side names the reference electrode (SENSN selects channel 1's IN-, which SRB1 ties to
    it); a tripped P side names its channel, if that channel is read at all.
    """
    statp = ((status[:, 0].astype(np.int32) & 0x0F) << 4 | status[:, 1] >> 4) & sensp
    statn = ((status[:, 1].astype(np.int32) & 0x0F) << 4 | status[:, 2] >> 4) & sensn
    off = set()
    for chip in range(status.shape[0]):
        for position in range(CHANNELS_PER_CHIP):
            channel = chip * CHANNELS_PER_CHIP + position
            if statp[chip] >> position & 1 and channel < len(names):
                off.add(names[channel])
        if statn[chip]:
            off.add(REFERENCE_ELECTRODE)
    return frozenset(off)
