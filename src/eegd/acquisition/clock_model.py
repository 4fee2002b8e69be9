"""One session's clock: sample index → monotonic time, fitted online to the source's arrivals.

A source delivers blocks; the moment a block arrives is the moment its last sample was taken
plus a delay that is never negative and only sometimes small (the read, the scheduler, a
busy CPU). The model therefore fits the *lower envelope* of the arrivals, not their mean:
with ``d`` the arrival minus the nominal time ``origin + n / rate`` of the sample just past
the block, it keeps the earliest ``d`` of each ``bucket_s`` of samples over the last
``buckets`` of them, takes the slope of those minima (Theil-Sen: the median of the slopes
between every two, which a minority of late minima cannot move) and lays the line with that
slope under all of them. A late read only raises one bucket's minimum, if that, so it
moves nothing; the slope follows the source clock's drift against the host's, bounded by
``max_drift`` and held at the nominal rate until ``settle_s`` of samples give it a baseline.
LSL's dejittering fits a line to the same points offline; this one runs as the blocks come.

An arrival earlier than its sample could have been taken (beyond ``ahead_tolerance_s`` plus
the largest drift) is not a clock reading at all: the source replays data faster than real
time (a file, a test, a backlog). It is counted as rejected and the model keeps its line,
so an un-paced source is stamped at its nominal rate from the session's start.

Stamps (µs since the epoch) are the model's monotonic times plus the session's UTC offset,
taken once when the session starts: a wall-clock step later never moves them. Each
packet's stamps are ``base + round(i × 1e6 / rate)`` (``eegd.timestamps.sample_timestamps``),
so one packet's stamps follow from its first; ``stamps`` never issues a stamp before the
last one issued, slewing a line that moved back by at most half a period per sample.

Sans-I/O: the fit and the maps take the times the caller read. ``monotonic`` is the clock
the model is fitted on (the source's; a fake in tests), kept so that whoever maps "now" to
a sample (a marker) reads the same clock.
"""

from __future__ import annotations

import bisect
import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt

from eegd.events import EegPacket, FilteredEegPacket
from eegd.timestamps import packet_timestamps, sample_offset_us

__all__ = [
    "CLOCK_STEP_US",
    "ClockFit",
    "ClockModel",
    "ClockStep",
    "ClockWindow",
    "WallClockWatch",
    "sample_stamps_us",
]

#: A change of the wall clock against the monotonic one between two readings beyond this
#: many µs is a step (NTP steps beyond 128 ms; slewing moves it by µs per packet).
CLOCK_STEP_US: Final = 20_000
#: Issued packets remembered so a marker on a recent sample gets that sample's very stamp.
_ISSUED: Final = 4096


@dataclass(frozen=True, slots=True)
class ClockFit:
    """The model's state for ``/metrics`` and the logs."""

    residual_s: float
    """How late the last block arrived after the time the model gives its end (≥ 0 when
    the model sits under the arrivals, as it should)."""
    drift_ppm: float
    """The source clock's rate against the host's, minus one, in parts per million."""
    observations: int
    rejected: int
    """Arrivals earlier than their samples could have been taken (an un-paced source)."""


@dataclass(frozen=True, slots=True)
class ClockWindow:
    """The stamps (µs since the epoch) a marker may name: from ``start_us`` to ``end_us``."""

    start_us: int
    end_us: int

    def __contains__(self, stamp_us: object) -> bool:
        return isinstance(stamp_us, int) and self.start_us <= stamp_us <= self.end_us


class ClockModel:
    """Maps a session's sample indices to monotonic seconds and to µs since the epoch.

    ``origin_s`` is the monotonic time the session started (where sample 0 is assumed to be
    until arrivals say otherwise); ``utc_offset_us`` is the epoch µs minus the monotonic µs
    at that moment. ``observe`` feeds it arrivals; ``stamps`` issues a packet's stamps.
    ``monotonic`` is the clock ``origin_s`` and the arrivals are read on.
    """

    def __init__(
        self,
        sample_rate: float,
        origin_s: float,
        utc_offset_us: int,
        *,
        bucket_s: float = 1.0,
        buckets: int = 64,
        settle_s: float = 10.0,
        max_drift: float = 5e-4,
        ahead_tolerance_s: float = 0.002,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if not (sample_rate > 0 and math.isfinite(sample_rate)):
            raise ValueError(f"sample_rate must be positive, got {sample_rate}")
        self.sample_rate = float(sample_rate)
        self.origin_s = float(origin_s)
        self.utc_offset_us = int(utc_offset_us)
        self.monotonic = monotonic
        self._period = 1.0 / self.sample_rate
        self._bucket = max(1, round(bucket_s * self.sample_rate))
        self._settle = settle_s * self.sample_rate
        self._max_slope = max_drift * self._period
        self._ahead = ahead_tolerance_s
        self._max_drift = max_drift
        self._minima: deque[tuple[int, int, float]] = deque(maxlen=buckets)
        """(bucket number, end sample, d) of the earliest arrival in each bucket."""
        self._intercept = 0.0
        self._slope = 0.0
        """Seconds added to the nominal time of sample n: ``intercept + slope × n``."""
        self._observations = self._rejected = 0
        self._residual = 0.0
        self._period_us = 1e6 / self.sample_rate
        self._half_period_us = self._period_us / 2
        self._issued: deque[tuple[int, int, int]] = deque(maxlen=_ISSUED)
        """(first sample, samples, stamp of the first) of the packets issued last."""
        self._first_stamp: int | None = None
        self._next_sample = 0
        """One past the last sample issued."""
        self._last_stamp = 0
        """The last stamp issued (meaningless while nothing is)."""

    # ----------------------------------------------------------------- fitting

    def observe(self, end_sample: int, arrival_s: float) -> None:
        """Samples up to ``end_sample`` (excluded) had arrived at monotonic ``arrival_s``."""
        if not math.isfinite(arrival_s):
            return
        self._observations += 1
        d = arrival_s - self.origin_s - end_sample * self._period
        if d < -(self._ahead + self._max_drift * max(end_sample, 0) * self._period):
            self._rejected += 1
            return
        bucket = end_sample // self._bucket
        minima = self._minima
        if minima and minima[-1][0] == bucket:
            if d < minima[-1][2]:
                minima[-1] = (bucket, end_sample, d)
                self._fit()
        elif not minima or bucket > minima[-1][0]:
            minima.append((bucket, end_sample, d))
            self._fit()
        self._residual = d - self._intercept - self._slope * end_sample

    def _fit(self) -> None:
        """The line under the bucket minima (see the module docstring)."""
        xs = np.fromiter((n for _, n, _ in self._minima), np.float64)
        ys = np.fromiter((d for _, _, d in self._minima), np.float64)
        slope = 0.0
        if xs[-1] - xs[0] >= self._settle:
            i, j = np.triu_indices(xs.size, 1)
            slope = float(np.median((ys[j] - ys[i]) / (xs[j] - xs[i])))  # Theil-Sen
            slope = min(max(slope, -self._max_slope), self._max_slope)
        self._slope = slope
        lowest = float(np.min(ys - slope * xs))
        # Within the first bucket the session's start bounds the line: a first read that
        # came late would otherwise set stamps late, to be slewed back half a period a packet.
        self._intercept = min(lowest, 0.0) if len(xs) == 1 else lowest

    @property
    def fit(self) -> ClockFit:
        """The residual of the last arrival, the drift and the counts."""
        return ClockFit(
            residual_s=self._residual,
            drift_ppm=(self._period / (self._period + self._slope) - 1) * 1e6,
            observations=self._observations,
            rejected=self._rejected,
        )

    # ----------------------------------------------------------------- mapping

    def time_s(self, sample: float) -> float:
        """The monotonic time of ``sample`` on the current line."""
        return self.origin_s + sample * (self._period + self._slope) + self._intercept

    def sample_at(self, monotonic_s: float) -> int:
        """The sample nearest the monotonic time ``monotonic_s`` (the line inverted)."""
        position = (monotonic_s - self.origin_s - self._intercept) / (self._period + self._slope)
        return math.floor(position + 0.5)

    def utc_us(self, monotonic_s: float) -> int:
        """µs since the epoch of the monotonic time ``monotonic_s``, on the session's map."""
        return round(monotonic_s * 1e6) + self.utc_offset_us

    def monotonic_s(self, stamp_us: int) -> float:
        """The monotonic (and LSL, ``local_clock``) seconds of a stamp of this session."""
        return (stamp_us - self.utc_offset_us) / 1e6

    def sample_at_us(self, stamp_us: int) -> int:
        """The sample whose stamp is nearest ``stamp_us`` (µs since the epoch): among the
        samples issued, or those to come as things stand."""
        issued = self._issued
        if issued and stamp_us <= self._last_stamp + self._half_period_us:
            at = max(0, bisect.bisect_right(issued, stamp_us, key=lambda packet: packet[2]) - 1)
            first, n_samples, first_stamp = issued[at]
            candidates = [
                first
                + min(n_samples - 1, max(0, round((stamp_us - first_stamp) / self._period_us)))
            ]
            if at + 1 < len(issued):
                candidates.append(issued[at + 1][0])
            return min(candidates, key=lambda sample: abs(self.stamp_us(sample) - stamp_us))
        on_line = self.sample_at(self.monotonic_s(stamp_us))
        if not issued:
            return on_line
        slewed = self._next_sample - 1 + (stamp_us - self._last_stamp) / self._half_period_us
        return max(self._next_sample, min(on_line, math.floor(slewed + 0.5)))

    # ----------------------------------------------------------------- issuing

    def stamps(self, first: int, n_samples: int) -> npt.NDArray[np.uint64]:
        """The stamps of samples ``first`` .. ``first + n_samples - 1``, never before one
        already issued; remembered, so ``stamp_us`` gives them back exactly."""
        stamp = self._next_stamp(first)
        stamps = packet_timestamps(stamp, first, n_samples, self.sample_rate)
        if n_samples < 1:
            return stamps
        if first < self._next_sample:  # a sample again (a source that restarted its count)
            self._issued.clear()
        self._issued.append((first, n_samples, stamp))
        if self._first_stamp is None:
            self._first_stamp = stamp
        self._next_sample = first + n_samples
        self._last_stamp = int(stamps[-1])
        return stamps

    def stamp_us(self, sample: int) -> int:
        """The stamp of ``sample``: the one issued for it, or the one it will get as things
        stand (a sample not yet arrived), never before the last one issued."""
        if sample >= self._next_sample:
            return self._next_stamp(sample)
        at = bisect.bisect_right(self._issued, sample, key=lambda packet: packet[0]) - 1
        if at < 0:
            return self._model_us(sample)
        first, _, first_stamp = self._issued[at]
        rate = self.sample_rate
        return first_stamp + sample_offset_us(sample, rate) - sample_offset_us(first, rate)

    def now_us(self) -> int:
        """The stamp of this moment on the session's map."""
        return self.utc_us(self.monotonic())

    def window(self, lead_s: float = 1.0) -> ClockWindow:
        """The stamps that name a sample of the session: from sample 0's to ``lead_s`` past
        now."""
        start = self._first_stamp if self._first_stamp is not None else self._model_us(0)
        return ClockWindow(start, self.utc_us(self.monotonic() + lead_s))

    def _model_us(self, sample: int) -> int:
        return self.utc_us(self.time_s(sample))

    def _next_stamp(self, sample: int) -> int:
        """The model's stamp of ``sample``, slewed to stay after the last one issued."""
        stamp = self._model_us(sample)
        if not self._issued:
            return stamp
        half_periods = (sample - self._next_sample + 1) * self._half_period_us
        return max(stamp, self._last_stamp + max(1, math.ceil(half_periods)))


def sample_stamps_us(packet: EegPacket | FilteredEegPacket) -> npt.NDArray[np.uint64]:
    """Each sample's stamp, µs since the epoch, as the session's clock model issued it: what
    every output that writes a time per sample (the ``/ws/data`` stream, CSV) writes."""
    return packet.timestamps


@dataclass(frozen=True, slots=True)
class ClockStep:
    """The wall clock stepped by ``step_us``: ``monotonic_us`` read ``before_us`` on it (µs
    since the epoch) before the step and ``after_us`` after."""

    step_us: int
    monotonic_us: int
    before_us: int
    after_us: int

    def detail(self) -> dict[str, int]:
        """The UTC map before and after, for a ``clock_stepped`` event and a sidecar."""
        return {
            "step_us": self.step_us,
            "monotonic_us": self.monotonic_us,
            "before_us": self.before_us,
            "after_us": self.after_us,
        }


class WallClockWatch:
    """Sees the wall clock step against the monotonic one (NTP setting a Pi's time minutes
    after boot): ``check`` is given both readings, and says when their difference moved by
    ``CLOCK_STEP_US`` or more and stayed there for a second reading. One reading off alone
    is no step: a thread preempted between its two reads makes one. Stamps never follow a
    step (``ClockModel`` keeps the map it started with); it is only announced."""

    def __init__(self, offset_us: int, threshold_us: int = CLOCK_STEP_US) -> None:
        self.offset_us = offset_us
        """The epoch µs minus the monotonic µs, as last confirmed."""
        self._threshold = threshold_us
        self._suspect: int | None = None

    def check(self, monotonic_s: float, wall_us: int) -> ClockStep | None:
        """The step this reading confirms, if the wall clock stepped."""
        moment = round(monotonic_s * 1e6)
        offset = wall_us - moment
        suspect, self._suspect = self._suspect, None
        if abs(offset - self.offset_us) < self._threshold:
            self.offset_us = offset  # slewing, or nothing: follow it
            return None
        if suspect is None or abs(offset - suspect) >= self._threshold:
            self._suspect = offset  # to be confirmed by the next reading
            return None
        before = self.offset_us
        self.offset_us = offset
        return ClockStep(offset - before, moment, moment + before, moment + offset)
