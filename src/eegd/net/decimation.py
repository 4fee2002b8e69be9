"""Display decimation: a min/max envelope of an EEG stream at a rate a browser can draw.

A trace drawn on a screen needs, per pixel column, the lowest and highest value of the
samples that fall there: the min/max envelope keeps every spike visible while a 16 kHz
stream shrinks to a few hundred pairs per second. Pure numpy, no I/O.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from eegd.events import EegPacket, FilteredEegPacket

__all__ = ["Envelope", "EnvelopeDecimator"]


@dataclass(frozen=True, slots=True)
class Envelope:
    """Consecutive (min, max) pairs per channel, each over ``factor`` source samples.

    ``frame_id`` is the last source frame covered; ``first_sample`` and ``timestamp_us``
    belong to the first source sample of the first pair.
    """

    frame_id: int
    first_sample: int
    timestamp_us: int
    monotonic_ns: int
    pair_rate: float
    factor: int
    minima: npt.NDArray[np.float32]
    maxima: npt.NDArray[np.float32]


class EnvelopeDecimator:
    """Turns EEG packets into envelopes of about ``max_rate`` pairs per second per channel.

    Samples that do not fill a whole pair wait for the next packet; a gap in the sample
    indices (lost data, a new session) discards them, so no pair spans a gap.
    """

    def __init__(self, max_rate: float) -> None:
        if not max_rate > 0:
            raise ValueError(f"max_rate must be positive, got {max_rate}")
        self.max_rate = max_rate
        self._sample_rate = 0.0
        self._factor = 1
        self._pending: npt.NDArray[np.float32] | None = None
        self._pending_first = 0
        self._pending_timestamp = 0
        self._next_sample = -1

    @staticmethod
    def factor_for(sample_rate: float, max_rate: float) -> int:
        """Source samples per pair so that pairs/s does not exceed ``max_rate``."""
        return max(1, math.ceil(sample_rate / max_rate - 1e-9))

    def push(self, packet: EegPacket | FilteredEegPacket) -> Envelope | None:
        """The envelope of the whole pairs completed by ``packet``, if any."""
        samples = packet.volts if isinstance(packet, EegPacket) else packet.samples
        if packet.sample_rate != self._sample_rate:
            self._sample_rate = packet.sample_rate
            self._factor = self.factor_for(packet.sample_rate, self.max_rate)
            self._pending = None
        if packet.first_sample != self._next_sample:
            self._pending = None
        self._next_sample = packet.first_sample + samples.shape[1]
        pending = self._pending
        if pending is None:
            data, first, timestamp = samples, packet.first_sample, int(packet.timestamps[0])
        else:
            data = np.concatenate((pending, samples), axis=1)
            first, timestamp = self._pending_first, self._pending_timestamp
        factor = self._factor
        pairs = data.shape[1] // factor
        used = pairs * factor
        if used < data.shape[1]:
            offset = used - (0 if pending is None else pending.shape[1])
            self._pending = np.array(data[:, used:])
            self._pending_first = first + used
            self._pending_timestamp = int(packet.timestamps[offset])
        else:
            self._pending = None
        if pairs == 0:
            return None
        groups = data[:, :used].reshape(data.shape[0], pairs, factor)
        return Envelope(
            frame_id=packet.frame_id,
            first_sample=first,
            timestamp_us=timestamp,
            monotonic_ns=packet.monotonic_ns,
            pair_rate=self._sample_rate / factor,
            factor=factor,
            minima=groups.min(axis=2),
            maxima=groups.max(axis=2),
        )
