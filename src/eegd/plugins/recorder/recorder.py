"""The recorder plugin: ``raw_eeg`` to BDF+ (default), EDF+ or CSV files, every sample or a
gap that says so.

It idles until a recording starts (``POST /api/recordings``). Its subscription is lossless
in practice: deep (``queue_s`` seconds of packets) and ``DROP_NEWEST``, so if even that
overflows, the recorder sees an unbroken prefix, then a jump in frame ids that it records as
a gap. File I/O runs in one writer thread; the loop awaits each packet's write, so the
subscription is the bounded hand-off queue.

A recording is one or more parts, each a data file and a ``NAME.json`` sidecar. A part ends,
and the next one (``NAME.part2``, ...) starts with the very next packet, when it reaches
``max_duration_s``, when the source starts a new session (another rate or channels), and
at a gap (samples lost at the source or by the recorder): EDF+C/BDF+C files are continuous,
so a gap is the end of one part and the start of the next, each annotated with its length.
A write error (a full disk) ends the recording with a ``recording_stopped`` event saying
why; the stream goes on. A directory that cannot be used when the recorder starts (a full
disk, a path that cannot be made) is no crash: the recorder runs degraded (``problem``),
refuses recordings with 503 saying why, and tries the directory again at each request.
A recording is refused (409) while a self-test has the source.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import errno
import logging
import math
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import eegd
from eegd.acquisition.clock_model import ClockModel
from eegd.bus import DropPolicy, Subscription
from eegd.errors import ConfigError, RequestRefused
from eegd.events import (
    EegPacket,
    Event,
    MarkerEvent,
    SystemEvent,
    SystemEventKind,
    Topic,
    wall_clock_us,
)
from eegd.plugin import PluginContext
from eegd.plugins.recorder.files import Opener, create_empty, write_sidecar
from eegd.plugins.recorder.library import (
    CONTENT_TYPES,
    SUFFIXES,
    exists,
    list_recordings,
    read_sidecar,
    recover_all,
)
from eegd.plugins.recorder.markers import marker_from_body
from eegd.plugins.recorder.part import Part, SessionInfo, check_labels
from eegd.plugins.recorder.settings import RecordingSettings, check_name
from eegd.validation import convert

__all__ = ["Recorder"]

logger = logging.getLogger(__name__)

_T = TypeVar("_T")
#: Subscription room for the events that are not packets (system events, markers).
_OTHER_EVENTS = 256
_START_KEYS = ("name", "notes")
#: Checks that hold the source (no recording meanwhile): the two starts, then the two ends.
_CHECKS = (
    SystemEventKind.SELFTEST_STARTED,
    SystemEventKind.IMPEDANCE_STARTED,
    SystemEventKind.SELFTEST_FINISHED,
    SystemEventKind.IMPEDANCE_FINISHED,
)
#: Seconds Stop waits for the packet that holds the sample of its moment (it is read, or
#: on its way through the bus); past that the file ends with what came.
STOP_WAIT_S = 2.0


@dataclass
class _Recording:
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


class Recorder:
    """Records ``raw_eeg`` to files on request; see the module docstring."""

    name: ClassVar[str] = "recorder"
    consumes: ClassVar[tuple[Topic, ...]] = (Topic.RAW_EEG, Topic.SYSTEM, Topic.MARKER)
    produces: ClassVar[tuple[Topic, ...]] = (Topic.SYSTEM, Topic.MARKER)

    def __init__(self, settings: RecordingSettings | None = None, opener: Opener | None = None):
        self.settings = settings or RecordingSettings()
        self.directory = Path(self.settings.directory)
        self._opener = opener
        self._ctx: PluginContext | None = None
        self._subscription: Subscription | None = None
        self._executor: ThreadPoolExecutor | None = None
        self._lock = asyncio.Lock()
        self._session = SessionInfo()
        self._filter: Mapping[str, Any] = {}
        self._current: _Recording | None = None
        self._expected_sample: int | None = None
        self._expected_frame: int | None = None
        self._ready = asyncio.Event()
        self._problem: str | None = None
        self._selftest = False
        self._impedance: dict[str, Any] | None = None
        """The last impedance check's result, for the sidecars of recordings after it."""
        self._written = asyncio.Event()
        """Set each time a packet has been handled (for Stop waiting on its sample)."""
        self._counters = {
            "recordings": 0,
            "parts": 0,
            "samples_written": 0,
            "gaps": 0,
            "frames_overflowed": 0,
            "write_errors": 0,
            "recovered": 0,
        }

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> Recorder:
        """A recorder configured by the ``[recording]`` table."""
        return cls(convert(dict(options), RecordingSettings, "recording"))

    @classmethod
    def routes(cls) -> list[Any]:
        """The recordings API (``eegd.plugins.recorder.api``)."""
        from eegd.plugins.recorder.api import recording_routes

        return recording_routes()

    def stats(self) -> Mapping[str, int]:
        """Counters since the recorder started."""
        return dict(self._counters)

    @property
    def ready(self) -> bool:
        """Whether the recorder runs and takes requests (recovery done, subscribed)."""
        return self._ready.is_set()

    @property
    def selftest_running(self) -> bool:
        """Whether a self-test has the source (between its started and finished events)."""
        return self._selftest

    @property
    def impedance(self) -> dict[str, Any] | None:
        """The last impedance check's result, which the next recordings' sidecars carry."""
        return self._impedance

    def problem(self) -> str | None:
        """Why the recorder cannot record now (its directory cannot be used), or None."""
        return self._problem

    @property
    def recording(self) -> str | None:
        """The name of the part being written, if a recording is in progress."""
        current = self._current
        if current is None:
            return None
        return current.part.name if current.part is not None else current.part_name()

    # ------------------------------------------------------------------ the task

    async def run(self, ctx: PluginContext) -> None:
        """Recover unfinished recordings, then record on request until cancelled."""
        self._ctx = ctx
        self._filter = dict(ctx.config.get("filter", {}))
        source = ctx.config.get("source", {})
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="eegd-recorder")
        rate = float(source.get("sample_rate", 250))
        batch = int(source.get("batch_size", 32))
        # Subscribed before anything is awaited, so the session's source_connected is seen.
        subscription = ctx.bus.subscribe(
            self.consumes,
            maxsize=self._queue_size(rate, batch),
            policy=DropPolicy.DROP_NEWEST,
            consumer=self.name,
        )
        try:
            with subscription:
                self._subscription = subscription
                await self._prepare()
                self._ready.set()
                try:
                    async for event in subscription:
                        await self._handle(event)
                finally:
                    await self._stop("shutdown")
        finally:
            self._ready.clear()
            self._executor.shutdown(wait=True)

    async def _prepare(self) -> bool:
        """Make the directory and recover unfinished recordings; whether that worked. If it
        did not, ``problem`` says why (logged once, not a crash: no restart would help)."""
        try:
            await self._io(self.directory.mkdir, parents=True, exist_ok=True)
            recovered = await self._io(recover_all, self.directory)
        except OSError as exc:
            reason = exc.strerror or str(exc)
            problem = f"the recording directory {self.directory} cannot be used: {reason}"
            if problem != self._problem:
                logger.error("%s; recordings are refused until it can", problem)
            self._problem = problem
            return False
        if self._problem is not None:
            logger.info("the recording directory %s can be used again", self.directory)
        self._problem = None
        for name, seconds in recovered:
            self._counters["recovered"] += 1
            logger.warning("recovered the unfinished recording %s (%.1f s)", name, seconds)
        return True

    def _queue_size(self, rate: float, batch: int) -> int:
        return math.ceil(self.settings.queue_s * rate / max(batch, 1)) + _OTHER_EVENTS

    async def _io(self, function: Callable[..., _T], *args: Any, **kwargs: Any) -> _T:
        """``function`` run in the writer thread, awaited."""
        if self._executor is None:
            raise RuntimeError("the recorder is not running")
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, lambda: function(*args, **kwargs))

    async def _handle(self, event: Event) -> None:
        if isinstance(event, EegPacket):
            await self._packet(event)
        elif isinstance(event, MarkerEvent):
            await self._marker(event)
        elif isinstance(event, SystemEvent):
            if event.kind in _CHECKS:
                self._selftest = event.kind in _CHECKS[:2]
            if event.kind is SystemEventKind.IMPEDANCE_FINISHED and "electrodes" in event.detail:
                self._impedance = dict(event.detail)
            if event.kind is SystemEventKind.SOURCE_CONNECTED:
                await self._new_session(event.detail)
            elif event.kind is SystemEventKind.CLOCK_STEPPED:
                current = self._current
                if current is not None and current.part is not None:
                    current.part.clock_steps.append(dict(event.detail))
            elif event.kind is SystemEventKind.CONFIG_CHANGED and "filter" in event.detail:
                self._filter = dict(event.detail["filter"])
                current = self._current
                if current is not None and current.part is not None:
                    change = {"timestamp_us": event.timestamp, "filter": self._filter}
                    current.part.filter_changes.append(change)

    async def _new_session(self, detail: Mapping[str, Any]) -> None:
        span = detail.get("physical_range")
        self._session = SessionInfo(
            id=detail.get("session"),
            sample_rate=detail.get("sample_rate"),
            channels=tuple(detail.get("channels", ())),
            time_anchor_us=detail.get("time_anchor_us"),
            utc_offset_us=detail.get("utc_offset_us"),
            physical_range=tuple((float(a), float(b)) for a, b in span) if span else None,
        )
        self._expected_sample = self._expected_frame = None
        if self._subscription is not None and self._ctx is not None:
            batch = int(self._ctx.config.get("source", {}).get("batch_size", 32))
            rate = float(detail.get("sample_rate") or 250)
            self._subscription.maxsize = max(
                self._subscription.maxsize, self._queue_size(rate, batch)
            )
        async with self._lock:
            current = self._current
            if current is not None and current.part is not None:
                logger.info("recording %s: a new source session starts a new part", current.name)
                await self._end_part(current)

    async def _marker(self, marker: MarkerEvent) -> None:
        """A marker as an annotation of the part being written (or the next one to open)."""
        async with self._lock:
            current = self._current
            if current is None:
                return
            if current.part is None:
                current.waiting.append(marker)
                return
            try:
                await self._io(current.part.mark, marker)
            except OSError as exc:
                await self._fail(current, exc)

    def mark(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """Publish a marker (``label``, optional ``duration_s`` and ``timestamp_us``)."""
        current = self._current
        since = None
        if current is not None:
            first = current.parts[0].start_us if current.parts else current.started_us
            since = None if first is None else (current.name, first)
        marker = marker_from_body(body, self._clock(), self._session.id, since)
        if current is not None and marker.sample is not None:
            current.last_marked = max(current.last_marked, marker.sample)
        if self._ctx is not None:
            self._ctx.bus.publish(marker)
        logger.info("marker %r at %d µs (sample %s)", marker.label, marker.timestamp, marker.sample)
        return {
            "type": "marker",
            "label": marker.label,
            "timestamp_us": marker.timestamp,
            "duration_s": marker.duration_s,
            "sample": marker.sample,
            "session": marker.session,
        }

    def _clock(self) -> ClockModel | None:
        return self._ctx.clock() if self._ctx is not None else None

    async def _packet(self, packet: EegPacket) -> None:
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
        if self._current is None:
            return
        if restarted:  # a new session whose source_connected this instance did not see
            async with self._lock:
                if self._current is not None:
                    await self._end_part(self._current)
        async with self._lock:
            current = self._current
            if current is None or (
                current.stop_at is not None and packet.first_sample > current.stop_at
            ):
                return
            try:
                await self._write(current, packet, gap)
            except (OSError, RequestRefused) as exc:
                await self._fail(current, exc)

    async def _write(
        self, current: _Recording, packet: EegPacket, gap: dict[str, Any] | None
    ) -> None:
        part = current.part
        if part is not None and gap is not None:
            self._counters["gaps"] += 1
            current.gaps += 1
            text = _gap_text(gap, "after this sample")
            last = part.first.first_sample + part.samples - 1
            part.gaps.append({**gap, "where": "after the last sample"})
            await self._io(part.annotate, last, text)
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
                session=self._session,
                first=packet,
                provenance=self._provenance(current),
                opener=self._opener,
            )
            current.parts.append(part)
            current.part = part
            self._counters["parts"] += 1
            await self._io(part.open)
            for marker in current.waiting:
                await self._io(part.mark, marker)
            current.waiting.clear()
            if gap is not None:
                part.gaps.append({**gap, "where": "before the first sample"})
                await self._io(
                    part.annotate, packet.first_sample, _gap_text(gap, "before this sample")
                )
        await self._io(part.append, packet)
        current.samples_written += packet.n_samples
        self._counters["samples_written"] += packet.n_samples
        if part.samples >= self.settings.max_duration_s * part.sample_rate:
            await self._end_part(current)

    async def _end_part(self, current: _Recording, status: str = "complete") -> None:
        part = current.part
        if part is None:
            return
        current.part = None
        await self._io(part.finish, status)

    async def _fail(self, current: _Recording, exc: Exception) -> None:
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
            await self._io(part.abandon, "failed")
        self._current = None
        self._publish_stopped(current, reason=f"write error: {reason}")

    def _provenance(self, current: _Recording) -> dict[str, Any]:
        config = dict(self._ctx.config) if self._ctx is not None else {}
        source = config.get("source", {})
        return {
            "eegd_version": eegd.__version__,
            "notes": current.notes,
            "config": config,
            "source": {"kind": source.get("kind"), "batch_size": source.get("batch_size")},
            "filter": dict(self._filter),
            "impedance": self._impedance,
        }

    # ------------------------------------------------------------------ the API

    async def start(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """Start a recording (``name`` and ``notes`` optional); 409 if one is in progress."""
        unknown = sorted(str(key) for key in body if key not in _START_KEYS)
        if unknown:
            raise ConfigError(f"{unknown[0][:40]}: unknown key (allowed: {', '.join(_START_KEYS)})")
        await self._wait_ready()
        notes = body.get("notes", "")
        if not isinstance(notes, str):
            raise ConfigError("notes: expected a string")
        name = check_name(_default_name() if body.get("name") is None else body["name"])
        if self._selftest:
            raise RequestRefused(
                409, "selftest_running", "a source check has it; record once it is done"
            )
        if self._problem is not None and not await self._prepare():
            raise RequestRefused(503, "directory_unusable", self._problem)
        check_labels(self._session.channels, self.settings.format)
        async with self._lock:
            if self._current is not None:
                running = self._current.name
                raise RequestRefused(
                    409, "recording", f"recording {running} is in progress; stop it first"
                )
            if await self._io(exists, self.directory, name):
                raise RequestRefused(409, "exists", f"a recording named {name} exists already")
            file_format = self.settings.format
            clock = self._clock()
            self._current = _Recording(
                name=name,
                notes=notes,
                file_format=file_format,
                started_us=None if clock is None else clock.now_us(),
            )
        path = self.directory / (name + SUFFIXES[file_format])
        try:
            await self._io(self._create, self._current, path)
        except OSError as exc:
            self._current = None
            reason = exc.strerror or str(exc)
            problem = f"the recording directory {self.directory} cannot be used: {reason}"
            raise RequestRefused(503, "directory_unusable", problem) from exc
        self._counters["recordings"] += 1
        logger.info("recording %s started: %s", name, path)
        self._publish(
            SystemEventKind.RECORDING_STARTED, name=name, path=str(path), format=file_format
        )
        return {"name": name, "path": str(path), "format": file_format, "status": "recording"}

    def _create(self, current: _Recording, path: Path) -> None:
        """The recording's data file (empty) and its sidecar, before any packet: its name
        is taken, and a crash from now on leaves a listed, recoverable recording."""
        create_empty(path)
        started = current.started_us if current.started_us is not None else wall_clock_us()
        try:
            self._write_first_sidecar(current, path, started)
        except OSError:
            path.unlink(missing_ok=True)
            raise

    def _write_first_sidecar(self, current: _Recording, path: Path, started: int) -> None:
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

    def _finish_empty(self, current: _Recording) -> None:
        """A recording stopped before its first packet: complete, and empty."""
        content = read_sidecar(self.directory, current.name)
        if content is not None and content.get("status") == "recording":
            write_sidecar(
                self.directory / (current.name + ".json"), {**content, "status": "complete"}
            )

    async def stop(self) -> dict[str, Any]:
        """Stop the recording in progress and finalise its file; 409 if there is none.

        The file ends with the packet that holds the sample of this moment: Stop waits for
        it (at most ``STOP_WAIT_S``), so what was marked up to now has its samples.
        """
        await self._wait_ready()
        current = self._current
        if current is None:
            raise RequestRefused(409, "not_recording", "no recording is in progress")
        clock = self._clock()
        if clock is not None and current.stop_at is None:
            current.stop_at = max(clock.sample_at_us(clock.now_us()), current.last_marked)
            await self._reach(current, current.stop_at)
        return await self._stop("stopped")

    async def _reach(self, current: _Recording, sample: int) -> None:
        """Wait until the packet with ``sample`` is written (or the session changed)."""
        session = self._session.id
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(STOP_WAIT_S):
                while (
                    self._current is current
                    and self._session.id == session
                    and (self._expected_sample is None or self._expected_sample <= sample)
                ):
                    self._written.clear()
                    await self._written.wait()

    async def _stop(self, reason: str) -> dict[str, Any]:
        async with self._lock:
            current = self._current
            if current is None:
                return {}
            self._current = None
            try:
                await self._end_part(current)
                if not current.parts:
                    await self._io(self._finish_empty, current)
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

    def _publish_stopped(self, current: _Recording, reason: str) -> dict[str, Any]:
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
        self._publish(SystemEventKind.RECORDING_STOPPED, **detail)
        return {**detail, "status": "complete"}

    def _publish(self, kind: SystemEventKind, **detail: Any) -> None:
        if self._ctx is not None:
            self._ctx.bus.publish(SystemEvent(kind, detail, wall_clock_us()))

    async def _wait_ready(self) -> None:
        if not self._ready.is_set():
            raise RequestRefused(503, "not_ready", "the recorder is starting; try again")

    async def list_recordings(self) -> list[dict[str, Any]]:
        """Every recording part in the directory, oldest first."""
        await self._wait_ready()
        try:
            entries = await self._io(_listing, self.directory)
        except OSError as exc:
            reason = f"the recording directory {self.directory} cannot be read: {exc.strerror}"
            raise RequestRefused(503, "directory_unusable", reason) from exc
        current = self.recording
        for entry in entries:
            if entry["name"] == current:
                entry["status"] = "recording"
        return entries

    async def download(self, name: str) -> tuple[Path, str, str]:
        """The file of recording part ``name``: (path, content type, file name)."""
        sidecar = await self._sidecar(name)
        if sidecar.get("status") == "recording" or name == self.recording:
            raise RequestRefused(409, "recording", f"recording {name} is in progress")
        file_format = str(sidecar.get("format", "bdf"))
        path = self.directory / str(sidecar.get("file", name + SUFFIXES[file_format]))
        return path, CONTENT_TYPES.get(file_format, "application/octet-stream"), path.name

    async def delete(self, name: str) -> dict[str, Any]:
        """Delete recording part ``name`` (its data file and sidecar); 409 while recording."""
        sidecar = await self._sidecar(name)
        if name == self.recording:
            raise RequestRefused(409, "recording", f"recording {name} is in progress")
        data = self.directory / str(sidecar.get("file", ""))
        await self._io(data.unlink, missing_ok=True)
        await self._io((self.directory / (name + ".json")).unlink, missing_ok=True)
        logger.info("recording %s deleted", name)
        return {"name": name, "deleted": True}

    async def _sidecar(self, name: str) -> dict[str, Any]:
        check_name(name)
        await self._wait_ready()
        content = await self._io(read_sidecar, self.directory, name)
        if content is None:
            raise RequestRefused(404, "not_found", f"no recording named {name}")
        return content


def _listing(directory: Path) -> list[dict[str, Any]]:
    """``list_recordings``, an error if ``directory`` is not one (never an empty list)."""
    if not directory.is_dir():
        raise NotADirectoryError(errno.ENOTDIR, "not a directory", str(directory))
    return list_recordings(directory)


def _default_name() -> str:
    return "eegd-" + dt.datetime.now(dt.UTC).strftime("%Y%m%d-%H%M%S")


def _gap_text(gap: Mapping[str, Any], where: str) -> str:
    return (
        f"eegd: gap {where}: {gap['samples']} samples ({gap['seconds']:g} s) lost, {gap['cause']}"
    )
