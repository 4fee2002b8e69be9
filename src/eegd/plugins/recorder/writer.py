"""The recording in progress, written to files: its parts, packets, gaps and markers.

A part ends, and the next one (``NAME.part2``, ...) starts with the very next packet, when
it reaches ``max_duration_s``, when the source starts a new session (another rate or
channels), and at a gap (samples lost at the source or by the recorder): EDF+C/BDF+C files
are continuous, so a gap is the end of one part and the start of the next, each annotated
with its length. The aux packets read with each packet (``aux``) go into its record. A write
error (a full disk) ends the recording with a
``recording_stopped`` event saying why; the stream goes on. File I/O runs in one writer
thread (``io``), which the recorder's directory work shares.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from collections import deque
from collections.abc import Callable, Iterator, Mapping, MutableMapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, TypeVar

from eegd.errors import RequestRefused
from eegd.events import AuxPacket, EegPacket, Event, MarkerEvent, SystemEvent, SystemEventKind
from eegd.plugins.recorder.files import Opener, create_empty, write_sidecar
from eegd.plugins.recorder.library import exists, read_sidecar
from eegd.plugins.recorder.part import Part, SessionInfo
from eegd.timestamps import wall_clock_us

__all__ = ["STOP_WAIT_S", "Recording", "RecordingWriter"]

logger = logging.getLogger(__name__)

_T = TypeVar("_T")
#: Seconds Stop waits for the packet that holds the sample of its moment (it is read, or
#: on its way through the bus); past that the file ends with what came.
STOP_WAIT_S: Final = 2.0
#: Aux packets kept for the packet they were read with (each comes just before it; older
#: ones, whose packet was lost, are dropped).
_AUX_KEPT: Final = 4


@dataclass
class Recording:
    """The recording in progress: its parts so far and the one being written."""

    name: str
    notes: str
    file_format: str
    parts: list[Part] = field(default_factory=list)
    part: Part | None = None
    waiting: list[MarkerEvent] = field(default_factory=list)
    """Markers that came before the first packet of a part, for the next part to open."""
    samples_written: int = 0
    gaps: int = 0
    started_us: int | None = None
    """The stamp of the moment the recording was asked to start (by the clock model)."""
    stop_at: int | None = None
    """The sample of the moment Stop was asked: the last packet written is the one with it."""
    last_marked: int = -1
    """The latest sample a marker put during the recording names: Stop waits for it too
    (the clock model may have moved a little between the marker and Stop)."""

    def part_name(self) -> str:
        number = len(self.parts) + 1
        return self.name if number == 1 else f"{self.name}.part{number}"


class RecordingWriter:
    """Writes the recording in progress (``current``) part by part in one writer thread.

    ``provenance`` gives the sidecar fields of a recording (its configuration and notes) as a
    part starts, ``closing`` those a part's sidecar gets as it ends (the signal quality then),
    ``publish`` puts the ``recording_stopped`` events on the bus, and ``counters`` are the
    recorder's, which this counts parts, samples, gaps and write errors into.
    """

    def __init__(
        self,
        directory: Path,
        max_duration_s: float,
        counters: MutableMapping[str, int],
        provenance: Callable[[Recording], dict[str, Any]],
        publish: Callable[[Event], None],
        opener: Opener | None = None,
        closing: Callable[[], dict[str, Any]] = dict,
    ) -> None:
        self.directory = directory
        self.max_duration_s = max_duration_s
        self.current: Recording | None = None
        self.session = SessionInfo()
        self.lock = asyncio.Lock()
        self._counters = counters
        self._provenance = provenance
        self._publish = publish
        self._opener = opener
        self._closing = closing
        self._executor: ThreadPoolExecutor | None = None
        self._expected_sample: int | None = None
        self._expected_frame: int | None = None
        self._written = asyncio.Event()
        """Set each time a packet has been handled (for Stop waiting on its sample)."""
        self._aux: deque[AuxPacket] = deque(maxlen=_AUX_KEPT)

    # ------------------------------------------------------------------ the thread

    @contextlib.contextmanager
    def thread(self) -> Iterator[None]:
        """The writer thread, from entering to leaving (which waits for its last write)."""
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="eegd-recorder")
        try:
            yield
        finally:
            self._executor.shutdown(wait=True)

    async def io(self, function: Callable[..., _T], *args: Any, **kwargs: Any) -> _T:
        """``function`` run in the writer thread, awaited."""
        if self._executor is None:
            raise RuntimeError("the recorder is not running")
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, lambda: function(*args, **kwargs))

    # ------------------------------------------------------------------ starting

    async def claim(
        self, name: str, notes: str, file_format: str, started_us: int | None
    ) -> Recording:
        """The new recording in progress; 409 if one is, or a recording ``name`` exists."""
        async with self.lock:
            if self.current is not None:
                running = self.current.name
                raise RequestRefused(
                    409, "recording", f"recording {running} is in progress; stop it first"
                )
            if await self.io(exists, self.directory, name):
                raise RequestRefused(409, "exists", f"a recording named {name} exists already")
            self.current = Recording(
                name=name, notes=notes, file_format=file_format, started_us=started_us
            )
            return self.current

    def create(self, current: Recording, path: Path) -> None:
        """The recording's data file (empty) and its sidecar, before any packet: its name
        is taken, and a crash from now on leaves a listed, recoverable recording."""
        create_empty(path)
        started = current.started_us if current.started_us is not None else wall_clock_us()
        try:
            write_sidecar(
                self.directory / (current.name + ".json"),
                {
                    **self._provenance(current),
                    "name": current.name,
                    "recording": current.name,
                    "part": 1,
                    "format": current.file_format,
                    "file": path.name,
                    "status": "recording",
                    "start": dt.datetime.fromtimestamp(started / 1e6, tz=dt.UTC).isoformat(),
                    "start_us": started,
                    "samples": 0,
                    "duration_s": 0.0,
                },
            )
        except OSError:
            path.unlink(missing_ok=True)
            raise

    # ------------------------------------------------------------------ events

    async def new_session(self, session: SessionInfo) -> None:
        """A new source session: its packets start a new part."""
        self.session = session
        self._expected_sample = self._expected_frame = None
        self._aux.clear()
        async with self.lock:
            current = self.current
            if current is not None and current.part is not None:
                logger.info("recording %s: a new source session starts a new part", current.name)
                await self._end_part(current)

    async def marker(self, marker: MarkerEvent) -> None:
        """A marker as an annotation of the part being written (or the next one to open)."""
        async with self.lock:
            current = self.current
            if current is None:
                return
            if current.part is None:
                current.waiting.append(marker)
                return
            try:
                await self.io(current.part.mark, marker)
            except OSError as exc:
                await self._fail(current, exc)

    def aux(self, packet: AuxPacket) -> None:
        """Keep ``packet`` for the EEG packet it was read with, which comes next."""
        self._aux.append(packet)

    async def packet(self, packet: EegPacket) -> None:
        """``packet`` written to the recording in progress, if there is one."""
        try:
            await self._record(packet)
        finally:
            self._written.set()

    async def _record(self, packet: EegPacket) -> None:
        gap: dict[str, Any] | None = None
        if self._expected_sample is not None and packet.first_sample > self._expected_sample:
            lost = packet.first_sample - self._expected_sample
            overflowed = packet.frame_id - (self._expected_frame or packet.frame_id)
            gap = {
                "after_sample": self._expected_sample - 1,
                "samples": lost,
                "seconds": lost / packet.sample_rate,
                "cause": "recorder queue overflow" if overflowed > 0 else "samples lost at source",
                "frames_dropped": max(overflowed, 0),
                "time_us": int(packet.timestamps[0]) - round(lost * 1e6 / packet.sample_rate),
            }
            self._counters["frames_overflowed"] += max(overflowed, 0)
        expected = self._expected_sample
        restarted = expected is not None and packet.first_sample < expected
        self._expected_sample = packet.first_sample + packet.n_samples
        self._expected_frame = packet.frame_id + 1
        if self.current is None:
            return
        if restarted:  # a new session whose source_connected this instance did not see
            async with self.lock:
                if self.current is not None:
                    await self._end_part(self.current)
        async with self.lock:
            current = self.current
            if current is None or (
                current.stop_at is not None and packet.first_sample > current.stop_at
            ):
                return
            try:
                await self._write(current, packet, gap)
            except (OSError, RequestRefused) as exc:
                await self._fail(current, exc)

    async def _write(
        self, current: Recording, packet: EegPacket, gap: dict[str, Any] | None
    ) -> None:
        part = current.part
        if part is not None and gap is not None:
            self._counters["gaps"] += 1
            current.gaps += 1
            text = _gap_text(gap, "after this sample")
            last = part.first.first_sample + part.samples - 1
            part.gaps.append({**gap, "where": "after the last sample"})
            await self.io(part.annotate, last, text)
            logger.warning("recording %s: %s; a new part starts", current.name, text)
            await self._end_part(current)
            part = None
        if part is not None and (
            packet.sample_rate != part.sample_rate
            or packet.channel_names != part.first.channel_names
            or packet.n_samples > part.first.n_samples
        ):
            await self._end_part(current)
            part = None
        if part is None:
            part = Part(
                directory=self.directory,
                name=current.part_name(),
                recording=current.name,
                number=len(current.parts) + 1,
                file_format=current.file_format,
                session=self.session,
                first=packet,
                provenance=self._provenance(current),
                opener=self._opener,
            )
            current.parts.append(part)
            current.part = part
            self._counters["parts"] += 1
            await self.io(part.open)
            for marker in current.waiting:
                await self.io(part.mark, marker)
            current.waiting.clear()
            if gap is not None:
                part.gaps.append({**gap, "where": "before the first sample"})
                await self.io(
                    part.annotate, packet.first_sample, _gap_text(gap, "before this sample")
                )
        aux = [held for held in self._aux if held.frame_id == packet.frame_id]
        self._aux.clear()
        await self.io(part.append, packet, aux)
        current.samples_written += packet.n_samples
        self._counters["samples_written"] += packet.n_samples
        if part.samples >= self.max_duration_s * part.sample_rate:
            await self._end_part(current)

    async def _end_part(self, current: Recording, status: str = "complete") -> None:
        part = current.part
        if part is None:
            return
        current.part = None
        part.provenance.update(self._closing())
        await self.io(part.finish, status)

    async def _fail(self, current: Recording, exc: Exception) -> None:
        """End ``current`` after a write error, keeping what is on disk."""
        self._counters["write_errors"] += 1
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        logger.error(
            "recording %s stopped: cannot write %s: %s; the stream goes on",
            current.name,
            current.part.path if current.part is not None else self.directory,
            reason,
        )
        if current.part is not None:
            part, current.part = current.part, None
            await self.io(part.abandon, "failed")
        self.current = None
        self._publish_stopped(current, reason=f"write error: {reason}")

    # ------------------------------------------------------------------ stopping

    async def reach(self, current: Recording, sample: int) -> None:
        """Wait until the packet with ``sample`` is written (or the session changed)."""
        session = self.session.id
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(STOP_WAIT_S):
                while (
                    self.current is current
                    and self.session.id == session
                    and (self._expected_sample is None or self._expected_sample <= sample)
                ):
                    self._written.clear()
                    await self._written.wait()

    async def finish(self, reason: str) -> dict[str, Any]:
        """End the recording in progress (if any): its last part finalised, the
        ``recording_stopped`` event published; what it was (empty if there was none)."""
        async with self.lock:
            current = self.current
            if current is None:
                return {}
            self.current = None
            try:
                await self._end_part(current)
                if not current.parts:
                    await self.io(self._finish_empty, current)
            except OSError as exc:
                logger.error("recording %s: cannot finish its file: %s", current.name, exc)
        reply = self._publish_stopped(current, reason=reason)
        logger.info(
            "recording %s %s: %d samples in %d part(s)",
            current.name,
            reason,
            current.samples_written,
            len(current.parts),
        )
        return reply

    def _finish_empty(self, current: Recording) -> None:
        """A recording stopped before its first packet: complete, and empty."""
        content = read_sidecar(self.directory, current.name)
        if content is not None and content.get("status") == "recording":
            write_sidecar(
                self.directory / (current.name + ".json"),
                {**content, **self._closing(), "status": "complete"},
            )

    def _publish_stopped(self, current: Recording, reason: str) -> dict[str, Any]:
        parts = [part.name for part in current.parts]
        first = current.parts[0] if current.parts else None
        path = str(first.path) if first is not None else ""
        detail = {
            "name": current.name,
            "path": path,
            "parts": parts,
            "samples_written": current.samples_written,
            "gaps": current.gaps,
            "reason": reason,
        }
        self._publish(SystemEvent(SystemEventKind.RECORDING_STOPPED, detail, wall_clock_us()))
        return {**detail, "status": "complete"}


def _gap_text(gap: Mapping[str, Any], where: str) -> str:
    return (
        f"eegd: gap {where}: {gap['samples']} samples ({gap['seconds']:g} s) lost, {gap['cause']}"
    )
