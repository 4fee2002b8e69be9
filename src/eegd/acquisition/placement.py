"""Session placement: where each opening of a source starts in its session's sample indices.

A fresh source starts a new session: a new id, frame ids and sample indices from 0, and a
new clock model whose map to the epoch is taken now. A source reopened after a failure
resumes its session when it streams the same shape (rate, channels, stream): its sample 0
is placed at the session's index the loop's clock says (rate × time since the session
began), or, for a source with a clock of its own (``SampleBlock.stream_time``), where its
stream time says, counted from the end of the last block before the outage. Another shape
starts a new session. What consumers learn of a session is ``source_connected``'s detail.

A session's clock model takes its map to the epoch once, as the session starts; a step of
the wall clock later (NTP setting the time of a Pi without a real-time clock) is seen
(``wall_clock_step``) and moves no stamp.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from eegd.acquisition.clock_model import ClockModel, ClockStep, WallClockWatch
from eegd.acquisition.ledger import SessionAccount, SessionLedger
from eegd.aux_stream import AuxStream
from eegd.events import SourceSession, SystemEvent
from eegd.sources.base import SampleBlock, Source

__all__ = ["PAST_SESSIONS", "Session", "SessionPlacement", "source_connected"]

logger = logging.getLogger(__name__)

#: Ended sessions whose ledger is kept for ``/api/status`` (older ones are forgotten).
PAST_SESSIONS: Final = 8


@dataclass(frozen=True, slots=True)
class Session:
    """One continuous run of a source: frame ids and sample indices start at 0 in each."""

    id: str
    sample_rate: float
    channel_names: tuple[str, ...]
    time_anchor_us: int
    """Wall-clock µs of sample 0 as the session started (the clock model refines it)."""
    utc_offset_us: int = 0
    """The epoch µs minus the monotonic µs, taken as the session started: a stamp minus it
    is the sample's monotonic (LSL ``local_clock``) time."""
    physical_range: tuple[tuple[float, float], ...] | None = None
    """Each channel's (min, max) in volts, for a source that declares it (``Source``)."""
    stream_id: str | None = None
    """The stream the source reads, when it names one (``Source.stream_id``)."""
    aux: AuxStream | None = None
    """The source's aux stream (``Source.aux``), when it has one."""

    def aux_offset(self, offset: int) -> int:
        """The aux stream's index of the EEG sample ``offset`` (where an opening starts)."""
        return 0 if self.aux is None else round(offset * self.aux.sample_rate / self.sample_rate)


def source_connected(
    session: Session, batch_size: int, first_sample: int | None = None
) -> SystemEvent:
    """The ``source_connected`` event of ``session`` (``SourceSession``): a new session, or
    with ``first_sample`` the same one resumed after an outage from that sample."""
    return SourceSession(
        id=session.id,
        sample_rate=session.sample_rate,
        channels=session.channel_names,
        time_anchor_us=session.time_anchor_us,
        utc_offset_us=session.utc_offset_us,
        batch_size=batch_size,
        physical_range=session.physical_range,
        resumed=first_sample is not None,
        first_sample=first_sample,
        aux=session.aux,
    ).event()


class SessionPlacement:
    """The running session of an acquisition, its clock model and ledger, and where the
    current opening of its source is placed in it (``offset``).

    ``monotonic`` is the clock the source paces by, ``wall_clock`` gives µs since the
    epoch (the session's map to the epoch is taken from both as it starts).
    """

    def __init__(self, monotonic: Callable[[], float], wall_clock: Callable[[], int]) -> None:
        self._monotonic = monotonic
        self._wall_clock = wall_clock
        self.session: Session | None = None
        self.account: SessionAccount | None = None
        """The running (or last) session's ledger in the making."""
        self.clock: ClockModel | None = None
        """The running (or last) session's clock model."""
        self._wall_watch = WallClockWatch(0)
        self.sessions = 0
        """Sessions started since the daemon started."""
        self.offset = 0
        """The session's index of the current opening's sample 0."""
        self._past: deque[SessionLedger] = deque(maxlen=PAST_SESSIONS)
        self._past_expected = 0
        self._started = asyncio.Event()
        self._resumed = False
        """The current opening is a reopen whose first block has not come yet."""
        self._stream_end: float | None = None
        """The source's own time just past the last sample published (``stream_time``)."""

    async def next_session(self) -> Session:
        """The next session to start (a source opening), once it has started."""
        started = self._started
        await started.wait()
        session = self.session
        if session is None:
            raise RuntimeError("a session started and vanished")
        return session

    @property
    def samples_expected(self) -> int:
        """Samples the sources' clocks said were due, over every session."""
        account = self.account
        return self._past_expected + (account.expected if account else 0)

    def ledgers(self) -> list[SessionLedger]:
        """The ledgers of the last ``PAST_SESSIONS`` ended sessions and the current one."""
        account = self.account
        return [*self._past, *([account.snapshot()] if account is not None else [])]

    def place(self, source: Source, resuming: bool, asked: float, batch_size: int) -> bool:
        """Place an opening of ``source``: resume the session at the index the clock says
        (True), or start a new one at 0 (False: not ``resuming``, or the reopened source
        streams another shape or another stream). ``asked`` is when it was asked to open,
        on the ``monotonic`` clock: no sample of a fresh source is older."""
        session, account = self.session, self.account
        resumed = (
            resuming
            and session is not None
            and account is not None
            and source.sample_rate == session.sample_rate
            and source.channel_names == session.channel_names
            and source.stream_id == session.stream_id
            and source.aux == session.aux
        )
        offset = 0
        if resumed and session is not None and account is not None and self.clock is not None:
            offset = max(account.expected, self.clock.sample_at(self._monotonic()))
            logger.info(
                "source reopened in session %s at sample %d by the loop's clock",
                session.id,
                offset,
            )
        else:
            session = self._start(source, asked, batch_size)
            logger.info(
                "source open: %d channels at %g Hz, session %s",
                len(source.channel_names),
                source.sample_rate,
                session.id,
            )
        self.offset, self._resumed = offset, resumed
        return resumed

    def _start(self, source: Source, origin: float, batch_size: int) -> Session:
        """A new session whose sample 0 is placed at ``origin`` (when the source was asked
        to open) until its arrivals say where it is."""
        if self.account is not None:
            self._past.append(self.account.snapshot())
            self._past_expected += self.account.expected
        self._wall_watch = WallClockWatch(self._wall_clock() - round(self._monotonic() * 1e6))
        clock = self.clock = ClockModel(
            source.sample_rate, origin, self._wall_watch.offset_us, monotonic=self._monotonic
        )
        session = self.session = Session(
            id=uuid.uuid4().hex,
            sample_rate=source.sample_rate,
            channel_names=source.channel_names,
            time_anchor_us=clock.stamp_us(0),
            utc_offset_us=clock.utc_offset_us,
            physical_range=source.physical_range,
            stream_id=source.stream_id,
            aux=source.aux,
        )
        self._stream_end = None
        self.account = SessionAccount(session.id, session.sample_rate, batch_size)
        self.sessions += 1
        self._started.set()
        self._started = asyncio.Event()
        return session

    def first_sample(self, block: SampleBlock, expected: int) -> int:
        """The session's index of ``block``'s first sample. The first block of a reopened
        source with a clock of its own (``stream_time``) places it by that clock: the
        outage is then the stream time between the end of the last block published and
        this block's first sample, rather than the loop's clock at the reopen."""
        if self._resumed:
            self._resumed = False
            end, now, session = self._stream_end, block.stream_time, self.session
            if end is not None and now is not None and session is not None:
                missing = max(0, round((now - end) * session.sample_rate))
                offset = expected + missing - block.first_sample
                if offset != self.offset:
                    logger.info(
                        "the source's own clock places it at sample %d",
                        offset + block.first_sample,
                    )
                self.offset = offset
        return self.offset + block.first_sample

    def published(self, block: SampleBlock, sample_rate: float) -> None:
        """``block`` was published: a reopen continues from its end on the stream's clock."""
        if block.stream_time is not None:
            self._stream_end = block.stream_time + block.n_samples / sample_rate

    def wall_clock_step(self, monotonic_s: float, wall_us: int, sample: int) -> ClockStep | None:
        """The step of the wall clock these readings (at ``sample``) confirm, if any."""
        step = self._wall_watch.check(monotonic_s, wall_us)
        if step is not None:
            logger.warning(
                "the wall clock stepped by %+.3f s at sample %d; stamps keep the session's map",
                step.step_us / 1e6,
                sample,
            )
        return step
