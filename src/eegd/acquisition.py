"""The acquisition loop: reads a source in a worker thread and publishes ``raw_eeg`` packets.

The source blocks (SPI, SDKs, a paced generator), so it runs in its own thread; each packet
is handed to the event loop with ``call_soon_threadsafe``. At most ``max_pending`` packets
wait for the loop: when the loop falls that far behind, the reader thread waits too, and the
source's own buffer (or its sample counter) takes the strain, where a loss shows up as a gap
in sample indices that is published as a ``samples_lost`` event, never hidden.

This is the boundary with the drivers: whatever a source's ``open``, ``read`` or ``close``
raises that is not already an ``EegdError`` becomes a ``SourceError`` naming the source kind
and the original error (``raise ... from exc``), so the supervisor's back-off treats every
driver alike. A failure publishes ``source_lost`` with the kind and the error; the
supervisor's ``task_failed`` that follows says when the source is tried again.

What a source reports at a sample (``SampleBlock.events``: a file's annotations) is published
as ``system`` events, and what it marks (``SampleBlock.markers``: annotations, an LSL marker
stream) as ``marker`` events, just before the packet that carries them, stamped with their
sample's time, so the recorder places a marker at its sample. A finite source that ends
(``SourceEnded``) gets a ``source_ended`` event and the task finishes; the session and
everything downstream stay up.

A stream that comes back after a loss (the same ``Source.stream_id``, its blocks stamped
with ``stream_time``) starts a new session; the samples its clock says went by between the
last sample of the old session and the first of the new one are counted as lost (the
ledger's ``samples_lost``) and published as a ``samples_lost`` event of the new session
(``before_session``: the session they followed).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from types import MappingProxyType
from typing import TypeVar

from eegd.bus import EventBus
from eegd.errors import EegdError, SourceEnded, SourceError
from eegd.events import (
    EegPacket,
    MarkerEvent,
    SystemEvent,
    SystemEventKind,
    sample_timestamps,
    wall_clock_us,
)
from eegd.sources.base import SampleBlock, Source, SourceEvent, SourceMarker

__all__ = ["AcquisitionLoop", "AcquisitionStats", "Session", "SessionLedger"]

logger = logging.getLogger(__name__)

_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class Session:
    """One continuous run of a source: frame ids and sample indices start at 0 in each."""

    id: str
    sample_rate: float
    channel_names: tuple[str, ...]
    time_anchor_us: int
    """Wall-clock µs of sample 0; sample i is stamped ``time_anchor_us + i / sample_rate``."""
    physical_range: tuple[tuple[float, float], ...] | None = None
    """Each channel's (min, max) in volts, for a source that declares it (``Source``)."""
    stream_id: str | None = None
    """The stream the source reads, when it names one (``Source.stream_id``)."""


@dataclass(frozen=True, slots=True)
class _StreamEnd:
    """Where the last session of a named stream stopped: for the gap to the next one."""

    stream_id: str
    session: str
    time: float
    """The stream's time just after its last published sample (seconds, monotonic)."""
    sample_rate: float


@dataclass(frozen=True, slots=True)
class AcquisitionStats:
    """The acquisition part of the sample ledger."""

    frames_published: int
    samples_acquired: int
    samples_lost: int
    sessions: int


@dataclass(frozen=True, slots=True)
class SessionLedger:
    """The running session's part of the ledger: samples the source's clock says are due
    (the end of its last block), and how many of them came or were lost.

    ``consistent`` holds while ``expected == acquired + lost`` within one packet; a source
    that repeats or rewinds samples breaks it.
    """

    expected: int
    acquired: int
    lost: int
    batch_size: int

    @property
    def consistent(self) -> bool:
        return abs(self.expected - (self.acquired + self.lost)) <= self.batch_size


class AcquisitionLoop:
    """Publishes the samples of a source as ``EegPacket``s of ``batch_size`` samples.

    ``run`` opens a fresh source from ``source_factory`` and starts a new session each
    time it is (re)started by the supervisor. ``kind`` names the source in errors and
    events (``source.kind``).
    """

    def __init__(
        self,
        bus: EventBus,
        source_factory: Callable[[], Source],
        batch_size: int,
        max_pending: int = 64,
        kind: str = "source",
    ) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        self._bus = bus
        self._source_factory = source_factory
        self._batch_size = batch_size
        self._max_pending = max_pending
        self.kind = kind
        self.session: Session | None = None
        self._frames = 0
        self._samples = 0
        self._lost = 0
        self._sessions = 0
        self._next_frame_id = 0
        self._expected_sample = 0
        self._session_samples = 0
        self._session_lost = 0
        self._lead_off: frozenset[str] = frozenset()
        self._stream_end: _StreamEnd | None = None
        self._session_started = asyncio.Event()

    def reconfigure(self, batch_size: int, kind: str) -> None:
        """Packets of ``batch_size`` from a source of ``kind`` from the next (re)start on."""
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        self._batch_size = batch_size
        self.kind = kind

    async def next_session(self) -> Session:
        """The next session to start (a source opening), once it has started."""
        started = self._session_started
        await started.wait()
        session = self.session
        if session is None:
            raise RuntimeError("a session started and vanished")
        return session

    def stats(self) -> AcquisitionStats:
        """Counters since the daemon started, over every session."""
        return AcquisitionStats(self._frames, self._samples, self._lost, self._sessions)

    def session_ledger(self) -> SessionLedger:
        """The running session's ledger (all zero before the first session)."""
        return SessionLedger(
            self._expected_sample, self._session_samples, self._session_lost, self._batch_size
        )

    async def run(self) -> None:
        """Read the source until cancelled or until it fails (raising ``SourceError``)."""
        loop = asyncio.get_running_loop()
        source = self._source_factory()
        stop = threading.Event()
        pending = threading.BoundedSemaphore(self._max_pending)
        await asyncio.to_thread(self._call, "open", source.open)
        session = self._start_session(source)
        try:
            reader = asyncio.ensure_future(
                asyncio.to_thread(self._read_forever, source, session, loop, stop, pending)
            )
            try:
                await asyncio.shield(reader)
            except asyncio.CancelledError:
                stop.set()
                source.interrupt()
                with contextlib.suppress(SourceError):  # the read the interrupt cut short
                    await reader
                raise
        except SourceEnded as end:
            self._bus.publish(
                SystemEvent.now(
                    SystemEventKind.SOURCE_ENDED,
                    session=session.id,
                    source=self.kind,
                    samples=self._expected_sample,
                    frames=self._next_frame_id,
                    reason=str(end),
                )
            )
            logger.info("source ended after %d samples: %s", self._expected_sample, end)
        except Exception as exc:
            self._bus.publish(
                SystemEvent.now(
                    SystemEventKind.SOURCE_LOST,
                    session=session.id,
                    source=self.kind,
                    error=str(exc),
                )
            )
            raise
        finally:
            stop.set()
            await asyncio.to_thread(self._call, "close", source.close)

    def _call(self, what: str, action: Callable[[], _T]) -> _T:
        """``action()``, its non-eegd errors translated into a ``SourceError``."""
        try:
            return action()
        except EegdError:
            raise
        except Exception as exc:
            raise SourceError(
                f"{self.kind} source: {what} failed: {type(exc).__name__}: {exc}"
            ) from exc

    def _start_session(self, source: Source) -> Session:
        session = self.session = Session(
            id=uuid.uuid4().hex,
            sample_rate=source.sample_rate,
            channel_names=source.channel_names,
            time_anchor_us=wall_clock_us(),
            physical_range=source.physical_range,
            stream_id=source.stream_id,
        )
        self._sessions += 1
        self._session_started.set()
        self._session_started = asyncio.Event()
        self._next_frame_id = 0
        self._expected_sample = 0
        self._session_samples = 0
        self._session_lost = 0
        self._lead_off = frozenset()
        self._bus.publish(
            SystemEvent.now(
                SystemEventKind.SOURCE_CONNECTED,
                session=session.id,
                sample_rate=session.sample_rate,
                channels=list(session.channel_names),
                time_anchor_us=session.time_anchor_us,
                **(
                    {"physical_range": [list(span) for span in session.physical_range]}
                    if session.physical_range is not None
                    else {}
                ),
            )
        )
        logger.info(
            "source open: %d channels at %g Hz, session %s",
            len(source.channel_names),
            source.sample_rate,
            session.id,
        )
        return session

    def _read_forever(
        self,
        source: Source,
        session: Session,
        loop: asyncio.AbstractEventLoop,
        stop: threading.Event,
        pending: threading.BoundedSemaphore,
    ) -> None:
        """Worker thread: read blocks and hand them to the loop, at most ``max_pending`` ahead."""
        while not stop.is_set():
            block = self._call("read", lambda: source.read(self._batch_size))
            read_ns = time.monotonic_ns()
            while not pending.acquire(timeout=0.1):
                if stop.is_set():
                    return
            loop.call_soon_threadsafe(self._publish, session, block, read_ns, pending)

    def _publish(
        self,
        session: Session,
        block: SampleBlock,
        read_ns: int,
        pending: threading.BoundedSemaphore,
    ) -> None:
        """On the loop: stamp the block and publish it, reporting any gap before it.

        ``read_ns`` is when the worker thread got the block from the source: end-to-end
        latency is measured from there, the hand-off to the loop included.
        """
        pending.release()
        if session is not self.session:
            return
        if self._next_frame_id == 0 and block.stream_time is not None:
            self._count_gap_before(session, block.stream_time)
        if block.first_sample > self._expected_sample:
            missing = block.first_sample - self._expected_sample
            self._lost += missing
            self._session_lost += missing
            self._bus.publish(
                SystemEvent.now(
                    SystemEventKind.SAMPLES_LOST,
                    session=session.id,
                    first_sample=self._expected_sample,
                    count=missing,
                    next_frame_id=self._next_frame_id,
                )
            )
            logger.warning("source lost %d samples before sample %d", missing, block.first_sample)
        if block.lead_off is not None and block.lead_off != self._lead_off:
            self._lead_off = block.lead_off
            self._bus.publish(
                SystemEvent.now(
                    SystemEventKind.LEAD_OFF,
                    session=session.id,
                    electrodes=sorted(block.lead_off),
                    first_sample=block.first_sample,
                )
            )
        for event in block.events:
            self._publish_source_event(session, event)
        for marker in block.markers:
            self._publish_marker(session, marker)
        n_samples = block.n_samples
        packet = EegPacket.create(
            frame_id=self._next_frame_id,
            first_sample=block.first_sample,
            timestamps=sample_timestamps(
                session.time_anchor_us, block.first_sample, n_samples, session.sample_rate
            ),
            raw=block.raw,
            volts=block.volts,
            sample_rate=session.sample_rate,
            channel_names=session.channel_names,
            monotonic_ns=read_ns,
        )
        self._next_frame_id += 1
        self._expected_sample = block.first_sample + n_samples
        self._frames += 1
        self._samples += n_samples
        self._session_samples += n_samples
        if block.stream_time is not None and session.stream_id is not None:
            self._stream_end = _StreamEnd(
                session.stream_id,
                session.id,
                block.stream_time + n_samples / session.sample_rate,
                session.sample_rate,
            )
        self._bus.publish(packet)

    def _count_gap_before(self, session: Session, stream_time: float) -> None:
        """The samples a returning stream's clock says passed since its last session ended."""
        end = self._stream_end
        if end is None or (end.stream_id, end.sample_rate) != (
            session.stream_id,
            session.sample_rate,
        ):
            return
        missing = round((stream_time - end.time) * session.sample_rate)
        if missing <= 0:
            return
        self._lost += missing
        self._bus.publish(
            SystemEvent.now(
                SystemEventKind.SAMPLES_LOST,
                session=session.id,
                first_sample=0,
                count=missing,
                next_frame_id=0,
                before_session=end.session,
            )
        )
        logger.warning(
            "stream %s came back after %d samples (%.3f s)",
            end.stream_id,
            missing,
            missing / session.sample_rate,
        )

    def _stamp(self, session: Session, sample: int) -> int:
        """The wall-clock µs of ``sample`` of ``session``."""
        return int(sample_timestamps(session.time_anchor_us, sample, 1, session.sample_rate)[0])

    def _publish_source_event(self, session: Session, event: SourceEvent) -> None:
        """A source's event as a ``system`` event, stamped with its sample's time."""
        detail = {
            **event.detail,
            "session": session.id,
            "sample": event.sample,
            "frame_id": self._next_frame_id,
        }
        self._bus.publish(
            SystemEvent(
                kind=event.kind,
                detail=MappingProxyType(detail),
                timestamp=self._stamp(session, event.sample),
            )
        )

    def _publish_marker(self, session: Session, marker: SourceMarker) -> None:
        """A source's marker on the ``marker`` topic, stamped with its sample's time, so the
        recorder writes it at that sample and clients see it as one marked by hand."""
        self._bus.publish(
            MarkerEvent(
                label=marker.label,
                timestamp=self._stamp(session, marker.sample),
                duration_s=marker.duration_s,
                sample=marker.sample,
                session=session.id,
            )
        )
