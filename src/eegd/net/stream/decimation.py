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
from eegd.net.protocol.messages import MAX_RATE_MAX, MAX_RATE_MIN

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


@dataclass(slots=True)
class _PartialPair:
    """The pair in progress: how many samples it has, their extremes, where it starts."""

    count: int
    minimum: npt.NDArray[np.float32]
    maximum: npt.NDArray[np.float32]
    first_sample: int
    timestamp_us: int


class EnvelopeDecimator:
    """Turns EEG packets into envelopes of at most ``max_rate`` pairs per second per channel.

    A pair covers ``factor`` consecutive source samples and may span any number of packets.
    The samples of the pair in progress are kept only as their running minimum and maximum
    per channel, with the index and timestamp of its first sample, so the state stays small
    however many packets a pair spans. A gap in the sample indices (lost data, a new session),
    a change of rate or of channel count discards them, so no pair spans a gap.

    ``max_rate`` must lie in the range a ``subscribe`` accepts (``MAX_RATE_MIN`` to
    ``MAX_RATE_MAX``); anything else, NaN and infinities included, is a ``ValueError``.
    """

    def __init__(self, max_rate: float) -> None:
        if not MAX_RATE_MIN <= max_rate <= MAX_RATE_MAX:
            raise ValueError(
                f"max_rate must be from {MAX_RATE_MIN:g} to {MAX_RATE_MAX:g} pairs per second "
                f"per channel, got {max_rate!r}"
            )
        self.max_rate = max_rate
        self._sample_rate = 0.0
        self._factor = 1
        self._next_sample = -1
        self._partial: _PartialPair | None = None

    @staticmethod
    def factor_for(sample_rate: float, max_rate: float) -> int:
        """Source samples per pair so that pairs/s does not exceed ``max_rate``."""
        return max(1, math.ceil(sample_rate / max_rate - 1e-9))

    def push(self, packet: EegPacket | FilteredEegPacket) -> Envelope | None:
        """The envelope of the whole pairs completed by ``packet``, if any."""
        samples = packet.samples
        if packet.sample_rate != self._sample_rate:
            self._sample_rate = packet.sample_rate
            self._factor = self.factor_for(packet.sample_rate, self.max_rate)
            self._partial = None
        partial = self._partial
        if packet.first_sample != self._next_sample or (
            partial is not None and partial.minimum.shape[0] != samples.shape[0]
        ):
            partial = self._partial = None
        self._next_sample = packet.first_sample + samples.shape[1]
        factor, size = self._factor, samples.shape[1]
        if size == 0:
            return None

        minima: list[npt.NDArray[np.float32]] = []
        maxima: list[npt.NDArray[np.float32]] = []
        start = 0  # index in ``samples`` of the first sample not yet in a pair
        if partial is None:
            first, timestamp = packet.first_sample, int(packet.timestamps[0])
        else:
            need = factor - partial.count
            head = samples[:, : min(need, size)]
            partial.minimum = np.minimum(partial.minimum, head.min(axis=1))
            partial.maximum = np.maximum(partial.maximum, head.max(axis=1))
            if size < need:
                partial.count += size
                return None
            minima.append(partial.minimum[:, np.newaxis])
            maxima.append(partial.maximum[:, np.newaxis])
            first, timestamp = partial.first_sample, partial.timestamp_us
            start = need

        whole = (size - start) // factor
        end = start + whole * factor
        if whole:
            groups = samples[:, start:end].reshape(samples.shape[0], whole, factor)
            minima.append(groups.min(axis=2))
            maxima.append(groups.max(axis=2))

        if end < size:
            rest = samples[:, end:]
            self._partial = _PartialPair(
                count=size - end,
                minimum=rest.min(axis=1),
                maximum=rest.max(axis=1),
                first_sample=packet.first_sample + end,
                timestamp_us=int(packet.timestamps[end]),
            )
        else:
            self._partial = None

        if not minima:
            return None
        return Envelope(
            frame_id=packet.frame_id,
            first_sample=first,
            timestamp_us=timestamp,
            monotonic_ns=packet.monotonic_ns,
            pair_rate=self._sample_rate / factor,
            factor=factor,
            minima=np.concatenate(minima, axis=1) if len(minima) > 1 else minima[0],
            maxima=np.concatenate(maxima, axis=1) if len(maxima) > 1 else maxima[0],
        )
