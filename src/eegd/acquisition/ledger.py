"""The sample ledger of a session: every sample the source's clock said was due, acquired or lost.

Pure bookkeeping, no I/O: the acquisition loop tells a ``SessionAccount`` each packet it
publishes and each gap it finds before one; ``snapshot()`` gives the frozen figures that
``/api/status`` and ``/metrics`` show. A session's sample indices come from the source's
clock (a device's counter, or rate × elapsed when a source is reopened after an outage), so
``expected`` is the index just past the last sample delivered, and every sample below it was
either acquired or lost: ``expected == acquired + lost`` within one packet (a packet in
flight) at any moment, which ``SessionLedger.consistent`` checks.

Gaps are kept as a list with their first sample, length and cause, at most ``MAX_GAPS`` per
session: when it is full the oldest gap is forgotten and counted in ``gaps_dropped`` (the
totals stay exact; only the detail of old gaps goes).
"""

from __future__ import annotations

import enum
from collections import deque
from dataclasses import dataclass
from typing import Any, Final

__all__ = ["MAX_GAPS", "Gap", "GapCause", "SessionAccount", "SessionLedger"]

#: Gaps whose detail a session keeps; older ones are only counted (``gaps_dropped``).
MAX_GAPS: Final = 100


class GapCause(enum.StrEnum):
    """Why samples are missing."""

    SOURCE = "source"
    """The source's own sample indices jumped (a device that dropped samples)."""
    OUTAGE = "outage"
    """The source failed or stalled and was reopened; its clock says how long it was away."""
    REJECTED = "rejected"
    """A block the source delivered was malformed (wrong shape, not finite) and discarded."""
    LATE_READ = "late_read"
    """The source read a sample after the next one was due (a torn or newer frame): dropped."""
    FRAMING_ERROR = "framing_error"
    """The device's framing was wrong (an ADS1299 status word without its prefix): dropped."""
    DEVICE_RESET = "device_reset"
    """The device lost its configuration (a spontaneous reset) and was set up again."""


@dataclass(frozen=True, slots=True)
class Gap:
    """``count`` samples missing from sample index ``first_sample`` of a session on."""

    first_sample: int
    count: int
    cause: GapCause
    sample_rate: float

    @property
    def duration_s(self) -> float:
        """The gap's length in seconds of the source's clock."""
        return self.count / self.sample_rate

    def as_json(self) -> dict[str, Any]:
        """``{"first_sample", "count", "duration_s", "cause"}``."""
        return {
            "first_sample": self.first_sample,
            "count": self.count,
            "duration_s": round(self.duration_s, 6),
            "cause": self.cause.value,
        }


@dataclass(frozen=True, slots=True)
class SessionLedger:
    """One session's ledger at one moment.

    ``expected`` counts the samples the source's clock says were due (the index past the
    last one delivered); ``acquired`` those that came and were published; ``lost`` those in
    gaps. ``consistent`` holds while ``expected == acquired + lost`` within one packet; a
    source that repeats or rewinds samples breaks it.
    """

    session: str
    sample_rate: float
    expected: int
    acquired: int
    lost: int
    frames: int
    batch_size: int
    gaps: tuple[Gap, ...] = ()
    gaps_dropped: int = 0
    blocks_rejected: int = 0
    outages: int = 0
    """How many times the source was reopened inside this session after a failure."""

    @property
    def consistent(self) -> bool:
        return abs(self.expected - (self.acquired + self.lost)) <= self.batch_size

    def as_json(self) -> dict[str, Any]:
        """The ledger as ``/api/status`` shows it (``ledger.sessions[]``)."""
        return {
            "id": self.session,
            "sample_rate": self.sample_rate,
            "expected": self.expected,
            "acquired": self.acquired,
            "lost": self.lost,
            "frames": self.frames,
            "consistent": self.consistent,
            "gaps": [gap.as_json() for gap in self.gaps],
            "gap_count": len(self.gaps) + self.gaps_dropped,
            "gaps_dropped": self.gaps_dropped,
            "lost_s": round(self.lost / self.sample_rate, 6),
            "blocks_rejected": self.blocks_rejected,
            "outages": self.outages,
        }


class SessionAccount:
    """The running counts of one session, fed by the acquisition loop."""

    __slots__ = (
        "_gaps",
        "_gaps_dropped",
        "acquired",
        "batch_size",
        "blocks_rejected",
        "expected",
        "frames",
        "lost",
        "outages",
        "sample_rate",
        "session",
    )

    def __init__(self, session: str, sample_rate: float, batch_size: int) -> None:
        self.session = session
        self.sample_rate = sample_rate
        self.batch_size = batch_size
        self.expected = 0
        self.acquired = 0
        self.lost = 0
        self.frames = 0
        self.blocks_rejected = 0
        self.outages = 0
        self._gaps: deque[Gap] = deque(maxlen=MAX_GAPS)
        self._gaps_dropped = 0

    def gap_before(self, first_sample: int, cause: GapCause) -> Gap | None:
        """Account for the samples missing before a packet that starts at ``first_sample``."""
        missing = first_sample - self.expected
        if missing <= 0:
            return None
        gap = Gap(self.expected, missing, cause, self.sample_rate)
        if len(self._gaps) == self._gaps.maxlen:
            self._gaps_dropped += 1
        self._gaps.append(gap)
        self.lost += missing
        self.expected = first_sample
        return gap

    def packet(self, first_sample: int, n_samples: int) -> None:
        """A packet of ``n_samples`` from ``first_sample`` on was published."""
        self.frames += 1
        self.acquired += n_samples
        self.expected = max(self.expected, first_sample + n_samples)

    def snapshot(self) -> SessionLedger:
        """The figures now, frozen."""
        return SessionLedger(
            session=self.session,
            sample_rate=self.sample_rate,
            expected=self.expected,
            acquired=self.acquired,
            lost=self.lost,
            frames=self.frames,
            batch_size=self.batch_size,
            gaps=tuple(self._gaps),
            gaps_dropped=self._gaps_dropped,
            blocks_rejected=self.blocks_rejected,
            outages=self.outages,
        )
