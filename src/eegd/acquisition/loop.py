"""The acquisition loop: reads a source in a worker thread and publishes ``raw_eeg`` packets.

The source blocks (SPI, SDKs, a paced generator), so it runs in its own thread; each packet
is handed to the event loop with ``call_soon_threadsafe``. At most ``max_pending`` packets
wait for the loop: when the loop falls that far behind, the reader thread waits too, and the
source's own buffer (or its sample counter) takes the strain, where a loss shows up as a gap
in sample indices that is published as a ``samples_lost`` event, never hidden.

The thread, its hand-off and its stall watch are ``eegd.acquisition.reader``'s (which also turns
a driver's own exceptions into ``SourceError``s naming the kind). A block that is malformed
(wrong shape, NaN) is rejected, counted and announced (``block_rejected``); it never
reaches a consumer, and its samples are a gap.

Riding out faults: a source that raises, or whose read delivers nothing for more than
``stall_timeout_s`` (beyond the block's own duration), is closed and ``source_lost`` is
published; the run fails, and when the supervisor runs it again (after its back-off) the
same source is reopened *in the same session*, placed where its clock says
(``eegd.acquisition.placement``), so the outage is a gap of missing sample indices,
announced with its length (``samples_lost``) and kept in the ledger
(``eegd.acquisition.ledger``). A run that is cancelled (a new source, a self-test,
shutdown) ends the session: the next run opens a fresh source in a new session.

Time: each session has one ``ClockModel`` (``eegd.acquisition.clock_model``), fitted to the
blocks' arrivals on the source's clock; every stamp of the session comes from it (packets,
the source's events and markers, ``stamp_us`` for everything else). A wall-clock step
(``placement``) is announced (``clock_stepped``) and moves no stamp.

What a source reports at a sample (``SampleBlock.events``: a file's annotations) is published
as ``system`` events, and what it marks (``SampleBlock.markers``: annotations, an LSL marker
stream) as ``marker`` events, just before the packet that carries them, stamped with their
sample's time, so the recorder places a marker at its sample. A finite source that ends
(``SourceEnded``) gets a ``source_ended`` event and the task finishes; the session and
everything downstream stay up.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from eegd.acquisition.clock_model import ClockFit, ClockModel
from eegd.acquisition.ledger import GapCause, SessionLedger
from eegd.acquisition.placement import Session, SessionPlacement, source_connected
from eegd.acquisition.reader import Arrival, SourceReader, translated
from eegd.acquisition.stamped_events import (
    aux_packet,
    clock_stepped,
    source_event,
    source_marker,
)
from eegd.bus import EventBus
from eegd.errors import SourceEnded
from eegd.events import EegPacket, SystemEvent, SystemEventKind
from eegd.sources.base import SampleBlock, Source
from eegd.timestamps import wall_clock_us

__all__ = ["DEFAULT_STALL_TIMEOUT_S", "AcquisitionLoop", "AcquisitionStats"]

_CAUSES: Final = frozenset(GapCause)
logger = logging.getLogger(__name__)

#: Seconds a read may deliver nothing (beyond its block's duration) before the source is
#: declared stalled, closed and reopened (``[source] stall_timeout_s``).
DEFAULT_STALL_TIMEOUT_S: Final = 1.0
#: Rejected blocks are logged once, then every this many.
_LOG_EVERY_REJECTED: Final = 100


@dataclass(frozen=True, slots=True)
class AcquisitionStats:
    """The acquisition part of the sample ledger, over every session."""

    frames_published: int
    samples_acquired: int
    samples_lost: int
    sessions: int
    samples_expected: int = 0
    """Samples the sources' clocks said were due, over every session."""
    gaps: int = 0
    """Runs of lost samples, over every session."""
    blocks_rejected: int = 0
    outages: int = 0
    """Times a source was closed after a failure or a stall (and reopened, or to be)."""
    clock: ClockFit | None = None
    """The session's clock model: residual of the last arrival, drift."""
    clock_steps: int = 0
    """Wall-clock steps seen (none moved a stamp)."""


class AcquisitionLoop:
    """Publishes the samples of a source as ``EegPacket``s of ``batch_size`` samples.

    ``run`` opens a fresh source from ``source_factory`` and starts a new session, or, after
    a failed run, reopens the failed source in the same session. ``kind`` names the source
    in errors and events (``source.kind``). ``monotonic`` is the clock the source paces by
    (its reads, stalls and outages are measured on it, and the clock model fitted to it);
    ``wall_clock`` gives µs since the epoch; both injectable for tests.
    """

    def __init__(
        self,
        bus: EventBus,
        source_factory: Callable[[], Source],
        batch_size: int,
        max_pending: int = 64,
        kind: str = "source",
        stall_timeout_s: float = DEFAULT_STALL_TIMEOUT_S,
        monotonic: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], int] = wall_clock_us,
    ) -> None:
        self._bus = bus
        self._source_factory = source_factory
        self._max_pending = max_pending
        self._monotonic = monotonic
        self._wall_clock = wall_clock
        self._placement = SessionPlacement(monotonic, wall_clock)
        self._clock_steps = 0
        self.reconfigure(batch_size, kind, stall_timeout_s)
        self._frames = self._samples = self._lost = 0
        self._rejected = self._outages = self._gaps = 0
        self._lead_off: frozenset[str] = frozenset()
        self._source: Source | None = None
        self._resumable = False
        self._reader: SourceReader | None = None
        self._gap_cause = GapCause.SOURCE

    def reconfigure(
        self, batch_size: int, kind: str, stall_timeout_s: float = DEFAULT_STALL_TIMEOUT_S
    ) -> None:
        """Packets of ``batch_size`` from a source of ``kind`` from the next (re)start on,
        which opens a fresh source in a new session."""
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        if not stall_timeout_s > 0:
            raise ValueError(f"stall_timeout_s must be positive, got {stall_timeout_s}")
        self._batch_size = batch_size
        self.kind = kind
        self._stall_timeout = stall_timeout_s
        self._resumable = False

    def end_session(self) -> None:
        """The next run opens a fresh source in a new session, even after a failure (a
        self-test paused the acquisition: what comes after it is not the same stretch)."""
        self._resumable = False

    @property
    def session(self) -> Session | None:
        """The running (or last) session; None before the first."""
        return self._placement.session

    @property
    def clock(self) -> ClockModel | None:
        """The running (or last) session's clock model."""
        return self._placement.clock

    async def next_session(self) -> Session:
        """The next session to start (a source opening), once it has started."""
        return await self._placement.next_session()

    def stats(self) -> AcquisitionStats:
        """Counters since the daemon started, over every session."""
        return AcquisitionStats(
            frames_published=self._frames,
            samples_acquired=self._samples,
            samples_lost=self._lost,
            sessions=self._placement.sessions,
            samples_expected=self._placement.samples_expected,
            gaps=self._gaps,
            blocks_rejected=self._rejected,
            outages=self._outages,
            clock=self.clock.fit if self.clock is not None else None,
            clock_steps=self._clock_steps,
        )

    def session_ledger(self) -> SessionLedger | None:
        """The running (or last) session's ledger; None before the first session."""
        account = self._placement.account
        return None if account is None else account.snapshot()

    def ledgers(self) -> list[SessionLedger]:
        """The ledgers of the last ``placement.PAST_SESSIONS`` ended sessions and the
        current one."""
        return self._placement.ledgers()

    async def run(self) -> None:
        """Read the source until cancelled or until it fails (raising ``SourceError``)."""
        resuming = self._resumable and self._source is not None
        self._resumable = False
        source = self._source if resuming and self._source is not None else None
        if source is None:  # building one may read a file (playback): off the event loop
            source = await asyncio.to_thread(self._source_factory)
        self._source = source
        asked = self._monotonic()  # no sample of a fresh source is older than this
        opening = asyncio.ensure_future(
            asyncio.to_thread(translated, self.kind, "open", source.open)
        )
        try:
            await asyncio.shield(opening)
        except asyncio.CancelledError:
            await self._close_once_opened(opening, source)
            raise
        except Exception:
            self._resumable = resuming  # still away: the session waits for it
            raise
        self._connect(source, resuming, asked)
        reader = self._reader = SourceReader(
            source,
            kind=self.kind,
            batch_size=self._batch_size,
            max_pending=self._max_pending,
            stall_timeout_s=self._stall_timeout,
            monotonic=self._monotonic,
            wall_clock=self._wall_clock,
            on_block=self._publish,
            on_rejected=self._reject,
        )
        reader.start()
        stalled = False
        try:
            await reader.watch()
        except SourceEnded as end:
            self._ended(end)
        except Exception as exc:
            stalled = reader.running
            self._lost_source(exc)
            raise
        finally:
            await reader.finish(stalled)

    async def _close_once_opened(self, opening: asyncio.Future[None], source: Source) -> None:
        """Cancelled while ``source`` was opening: its thread goes on, so wait for it and
        close what it opened; otherwise the next run finds the source already open and
        fails to reopen it forever."""
        with contextlib.suppress(Exception):
            await opening
            await asyncio.to_thread(translated, self.kind, "close", source.close)

    def _connect(self, source: Source, resuming: bool, asked: float) -> None:
        """Place the opening (``placement``) and announce it (``source_connected``)."""
        placement = self._placement
        resumed = placement.place(source, resuming, asked, self._batch_size)
        session = placement.session
        if session is None:
            raise RuntimeError("a source was placed in no session")
        if resumed:
            self._gap_cause = GapCause.OUTAGE
        else:
            self._lead_off = frozenset()
            self._gap_cause = GapCause.SOURCE
        first = placement.offset if resumed else None
        self._bus.publish(source_connected(session, self._batch_size, first))

    def _ended(self, end: SourceEnded) -> None:
        account = self._placement.account
        session = self.session
        expected = account.expected if account else 0
        self._bus.publish(
            SystemEvent.now(
                SystemEventKind.SOURCE_ENDED,
                session=session.id if session else None,
                source=self.kind,
                samples=expected,
                frames=account.frames if account else 0,
                reason=str(end),
            )
        )
        logger.info("source ended after %d samples: %s", expected, end)

    def _lost_source(self, error: Exception) -> None:
        """Announce the failure; the next run reopens the source in this session."""
        session, account = self.session, self._placement.account
        self._outages += 1
        if account is not None:
            account.outages += 1
        self._resumable = True
        self._bus.publish(
            SystemEvent.now(
                SystemEventKind.SOURCE_LOST,
                session=session.id if session else None,
                source=self.kind,
                error=str(error),
                first_sample=account.expected if account else 0,
            )
        )

    def _reject(self, reader: SourceReader, block: SampleBlock, problem: str) -> None:
        """On the loop: count and announce a malformed block; its samples become a gap."""
        reader.release()
        session, account = self.session, self._placement.account
        if reader is not self._reader or session is None or account is None:
            return
        self._rejected += 1
        account.blocks_rejected += 1
        self._gap_cause = GapCause.REJECTED
        first = self._placement.offset + int(block.first_sample)
        self._bus.publish(
            SystemEvent.now(
                SystemEventKind.BLOCK_REJECTED,
                session=session.id,
                source=self.kind,
                first_sample=first,
                error=problem,
                rejected=account.blocks_rejected,
            )
        )
        if self._rejected % _LOG_EVERY_REJECTED == 1:
            logger.warning(
                "rejected a block at sample %d (%d so far): %s", first, self._rejected, problem
            )

    def _publish(
        self, reader: SourceReader, block: SampleBlock, read_ns: int, arrived: Arrival
    ) -> None:
        """On the loop: stamp the block and publish it, reporting any gap before it.

        ``read_ns`` is when the worker thread got the block from the source: end-to-end
        latency is measured from there, the hand-off to the loop included. ``arrived`` is
        the same moment on the source's clock, which the clock model is fitted to.
        """
        reader.release()
        placement = self._placement
        session, account, clock = placement.session, placement.account, placement.clock
        if reader is not self._reader or session is None or account is None or clock is None:
            return
        first = placement.first_sample(block, account.expected)
        clock.observe(first + block.n_samples, arrived.monotonic_s)
        timestamps = clock.stamps(first, block.n_samples)  # before the markers that use them
        step = placement.wall_clock_step(arrived.monotonic_s, arrived.wall_us, first)
        if step is not None:
            self._clock_steps += 1
            self._bus.publish(clock_stepped(session.id, clock, step, first))
        cause = GapCause(block.gap_cause) if block.gap_cause in _CAUSES else self._gap_cause
        gap = account.gap_before(first, cause)
        self._gap_cause = GapCause.SOURCE
        if gap is not None:
            self._lost += gap.count
            self._gaps += 1
            self._bus.publish(
                SystemEvent.now(
                    SystemEventKind.SAMPLES_LOST,
                    session=session.id,
                    first_sample=gap.first_sample,
                    count=gap.count,
                    duration_s=gap.duration_s,
                    cause=gap.cause.value,
                    next_frame_id=account.frames,
                )
            )
            logger.warning(
                "lost %d samples (%.3f s, %s) before sample %d",
                gap.count,
                gap.duration_s,
                gap.cause.value,
                first,
            )
        if block.lead_off is not None and block.lead_off != self._lead_off:
            self._lead_off = block.lead_off
            self._bus.publish(
                SystemEvent.now(
                    SystemEventKind.LEAD_OFF,
                    session=session.id,
                    electrodes=sorted(block.lead_off),
                    first_sample=first,
                )
            )
        for event in block.events:
            self._bus.publish(
                source_event(session.id, clock, event, placement.offset, account.frames)
            )
        for marker in block.markers:
            self._bus.publish(source_marker(session.id, clock, marker, placement.offset))
        aux = block.aux
        if aux is not None and session.aux is not None and aux.values.shape[1]:
            at = session.aux_offset(placement.offset) + aux.first_sample
            stamp = int(timestamps[0])
            self._bus.publish(aux_packet(session.aux, aux, at, stamp, account.frames, read_ns))
        n_samples = block.n_samples
        packet = EegPacket.create(
            frame_id=account.frames,
            first_sample=first,
            timestamps=timestamps,
            raw=block.raw,
            volts=block.volts,
            sample_rate=session.sample_rate,
            channel_names=session.channel_names,
            monotonic_ns=read_ns,
        )
        account.packet(first, n_samples)
        self._frames += 1
        self._samples += n_samples
        placement.published(block, session.sample_rate)
        self._bus.publish(packet)
