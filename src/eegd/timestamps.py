"""Sample timestamps in µs since the epoch: a packet's per-sample stamps from its anchor, and
the wall clock events are stamped with. Pure arithmetic, at the bottom of the layers."""

from __future__ import annotations

import time

import numpy as np
import numpy.typing as npt

__all__ = ["packet_timestamps", "sample_offset_us", "sample_timestamps", "wall_clock_us"]


def wall_clock_us() -> int:
    """Microseconds since the Unix epoch, for event timestamps."""
    return time.time_ns() // 1000


def sample_timestamps(
    anchor_us: int, first_sample: int, n_samples: int, sample_rate: float
) -> npt.NDArray[np.uint64]:
    """Per-sample timestamps in µs: ``anchor_us`` plus each sample's index times the period.

    The clock model (``eegd.acquisition.clock_model``) lays out each packet's stamps this way from a
    per-packet anchor, and the wire decoder finds them again (``packet_timestamps``), so
    their timestamps agree to the microsecond.
    """
    index = np.arange(first_sample, first_sample + n_samples, dtype=np.float64)
    offsets = np.rint(index * (1e6 / sample_rate)).astype(np.uint64)
    return offsets + np.uint64(anchor_us)


def packet_timestamps(
    first_stamp_us: int, first_sample: int, n_samples: int, sample_rate: float
) -> npt.NDArray[np.uint64]:
    """The per-sample stamps of a packet from the stamp of its first sample (the wire's
    ``timestamp_us``): exactly the ``timestamps`` the acquisition gave it."""
    offset = sample_offset_us(first_sample, sample_rate)
    return sample_timestamps(first_stamp_us - offset, first_sample, n_samples, sample_rate)


def sample_offset_us(sample: int, sample_rate: float) -> int:
    """``sample``'s µs after sample 0 as ``sample_timestamps`` rounds it."""
    return int(np.rint(np.float64(sample) * (1e6 / sample_rate)))
