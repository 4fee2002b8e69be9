"""The recorder plugin: ``raw_eeg`` to BDF+ (default), EDF+ or CSV files, every sample or a
gap that says so.

It idles until a recording starts (``POST /api/recordings``). Its subscription is lossless
in practice: deep (``queue_s`` seconds of packets) and ``DROP_NEWEST``, so if even that
overflows, the recorder sees an unbroken prefix, then a jump in frame ids that it records as
a gap. File I/O runs in one writer thread; the loop awaits each packet's write, so the
subscription is the bounded hand-off queue.

A recording is one or more parts, each a data file and a ``NAME.json`` sidecar;
``writer`` writes them (and says when a part ends). A directory that cannot be used when
the recorder starts (a full disk, a path that cannot be made) is no crash: the recorder
runs degraded (``problem``), refuses recordings with 503 saying why, and tries the
directory again at each request. A recording is refused (409) while a self-test has the
source. Each part's sidecar says the signal quality (the ``quality`` topic's latest verdicts)
as it starts and as it ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

import eegd
from eegd.acquisition.clock_model import ClockModel
from eegd.bus import DropPolicy, Subscription
from eegd.errors import ConfigError, RequestRefused
from eegd.events import (
    AnyTopic,
    AuxPacket,
    EegPacket,
    Event,
    MarkerEvent,
    OutputEvent,
    SourceSession,
    SystemEvent,
    SystemEventKind,
    Topic,
)
from eegd.plugin import PluginContext, StatusFigure
from eegd.plugins.recorder.api import recording_routes
from eegd.plugins.recorder.aux_records import check_aux
from eegd.plugins.recorder.catalog import Catalog, check_ready
from eegd.plugins.recorder.files import Opener
from eegd.plugins.recorder.library import SUFFIXES, recover_all
from eegd.plugins.recorder.markers import marker_from_body
from eegd.plugins.recorder.part import SessionInfo, check_labels
from eegd.plugins.recorder.settings import RecordingSettings, check_name
from eegd.plugins.recorder.writer import STOP_WAIT_S, Recording, RecordingWriter
from eegd.plugins.signal_quality import QUALITY
from eegd.routes import Route
from eegd.timestamps import wall_clock_us
from eegd.validation import convert

__all__ = ["Recorder"]

logger = logging.getLogger(__name__)

#: Subscription room for the events that are not packets (system events, markers).
_OTHER_EVENTS = 256
#: Packets the subscription holds until the first session (or, for a recorder restarted
#: within one, its first packet) says the rate and batch size; from then on it holds
#: ``queue_s`` seconds of packets. Until then it carries what comes while unfinished
#: recordings are recovered: 4 s of 16 kHz in batches of 64, 131 s of 250 Hz in batches of 32.
_PACKETS_BEFORE_A_SESSION = 1024
_START_KEYS = ("name", "notes")
#: Checks that hold the source (no recording meanwhile): the two starts, then the two ends.
_CHECKS = (
    SystemEventKind.SELFTEST_STARTED,
    SystemEventKind.IMPEDANCE_STARTED,
    SystemEventKind.SELFTEST_FINISHED,
    SystemEventKind.IMPEDANCE_FINISHED,
)


class Recorder:
    """Records ``raw_eeg`` to files on request; see the module docstring."""

    name: ClassVar[str] = "recorder"
    consumes: ClassVar[tuple[AnyTopic, ...]] = (
        Topic.RAW_EEG,
        Topic.AUX,
        Topic.SYSTEM,
        Topic.MARKER,
        QUALITY,
    )
    produces: ClassVar[tuple[Topic, ...]] = (Topic.SYSTEM, Topic.MARKER)

    def __init__(self, settings: RecordingSettings | None = None, opener: Opener | None = None):
        self.settings = settings or RecordingSettings()
        self.directory = Path(self.settings.directory)
        self._ctx: PluginContext | None = None
        self._subscription: Subscription | None = None
        self._sized = False
        """Whether a session or packet has sized the subscription (``_size_queue``)."""
        self._filter: Mapping[str, Any] = {}
        self._ready = asyncio.Event()
        self._problem: str | None = None
        self._selftest = False
        self._impedance: dict[str, Any] | None = None
        """The last impedance check's result, for the sidecars of recordings after it."""
        self._quality: dict[str, Any] | None = None
        """The latest signal-quality verdicts (the ``quality`` topic), for the sidecars."""
        self._counters = {
            "recordings": 0,
            "parts": 0,
            "samples_written": 0,
            "gaps": 0,
            "frames_overflowed": 0,
            "write_errors": 0,
            "recovered": 0,
        }
        self._writer = RecordingWriter(
            self.directory,
            self.settings.max_duration_s,
            self._counters,
            self._provenance,
            self._publish,
            opener,
            closing=lambda: {"quality_at_stop": self._quality},
        )
        self.catalog = Catalog(self.directory, self._writer, self._ready, lambda: self.recording)
        """The recordings in the directory, as the API lists, downloads and deletes them."""

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> Recorder:
        """A recorder configured by the ``[recording]`` table."""
        return cls(convert(options, RecordingSettings, "recording"))

    @classmethod
    def routes(cls) -> list[Route]:
        """The recordings API (``eegd.plugins.recorder.api``)."""
        return recording_routes(cls)

    def stats(self) -> Mapping[str, int]:
        """Counters since the recorder started."""
        return dict(self._counters)

    def status(self) -> list[StatusFigure]:
        """The samples written, for the sample ledger (``ledger.samples_recorded``)."""
        written = self._counters["samples_written"]
        help_text = "Samples the recorder wrote."
        return [StatusFigure("samples_recorded", written, True, "eegd_samples_recorded", help_text)]

    @property
    def ready(self) -> bool:
        """Whether the recorder runs and takes requests (recovery done, subscribed)."""
        return self._ready.is_set()

    @property
    def session(self) -> SessionInfo:
        """The source session the recorder knows of (its last ``source_connected``)."""
        return self._writer.session

    @property
    def selftest_running(self) -> bool:
        """Whether a self-test has the source (between its started and finished events)."""
        return self._selftest

    @property
    def impedance(self) -> dict[str, Any] | None:
        """The last impedance check's result, which the next recordings' sidecars carry."""
        return self._impedance

    @property
    def stopping(self) -> bool:
        """Whether a Stop waits for the packet that holds the sample of its moment."""
        current = self._writer.current
        return current is not None and current.stop_at is not None

    def problem(self) -> str | None:
        """Why the recorder cannot record now (its directory cannot be used), or None."""
        return self._problem

    @property
    def recording(self) -> str | None:
        """The name of the part being written, if a recording is in progress."""
        current = self._writer.current
        if current is None:
            return None
        return current.part.name if current.part is not None else current.part_name()

    # ------------------------------------------------------------------ the task

    async def run(self, ctx: PluginContext) -> None:
        """Recover unfinished recordings, then record on request until cancelled."""
        self._ctx = ctx
        self._filter = dict(ctx.config.get("filter", {}))
        with self._writer.thread():
            # Subscribed before anything is awaited, so the session's source_connected is seen.
            subscription = ctx.bus.subscribe(
                self.consumes,
                maxsize=_PACKETS_BEFORE_A_SESSION + _OTHER_EVENTS,
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
                            subscription.task_done()
                    finally:
                        await self._writer.finish("shutdown")
            finally:
                self._ready.clear()

    async def _prepare(self) -> bool:
        """Make the directory and recover unfinished recordings; whether that worked. If it
        did not, ``problem`` says why (logged once, not a crash: no restart would help)."""
        try:
            await self._writer.io(self.directory.mkdir, parents=True, exist_ok=True)
            recovered = await self._writer.io(recover_all, self.directory)
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

    def _size_queue(self, rate: float, batch: int, per_packet: int = 1) -> None:
        """Hold ``queue_s`` seconds of packets, each ``per_packet`` events: the first size
        replaces the bound before a session, a later one only grows it."""
        if self._subscription is not None:
            packets = math.ceil(self.settings.queue_s * rate / max(batch, 1))
            size = packets * per_packet + _OTHER_EVENTS
            current = self._subscription.maxsize
            self._subscription.maxsize = max(current, size) if self._sized else size
            self._sized = True

    async def _handle(self, event: Event) -> None:
        if isinstance(event, EegPacket):
            if not self._sized:
                self._size_queue(event.sample_rate, event.n_samples)
            await self._writer.packet(event)
        elif isinstance(event, AuxPacket):
            self._writer.aux(event)
        elif isinstance(event, MarkerEvent):
            await self._writer.marker(event)
        elif isinstance(event, OutputEvent) and isinstance(event.payload, Mapping):
            self._quality = {"timestamp": event.timestamp, **event.payload}
        elif isinstance(event, SystemEvent):
            if event.kind in _CHECKS:
                self._selftest = event.kind in _CHECKS[:2]
            if event.kind is SystemEventKind.IMPEDANCE_FINISHED and "electrodes" in event.detail:
                self._impedance = dict(event.detail)
            current = self._writer.current
            if event.session is not None:
                await self._new_session(event.session)
            elif event.kind is SystemEventKind.CLOCK_STEPPED:
                if current is not None and current.part is not None:
                    current.part.clock_steps.append(dict(event.detail))
            elif event.kind is SystemEventKind.CONFIG_CHANGED and "filter" in event.detail:
                self._filter = dict(event.detail["filter"])
                if current is not None and current.part is not None:
                    change = {"timestamp_us": event.timestamp, "filter": self._filter}
                    current.part.filter_changes.append(change)

    async def _new_session(self, announced: SourceSession) -> None:
        session = SessionInfo(
            id=announced.id,
            sample_rate=announced.sample_rate,
            channels=announced.channels,
            time_anchor_us=announced.time_anchor_us,
            utc_offset_us=announced.utc_offset_us,
            physical_range=announced.physical_range,
            aux=announced.aux,
            batch_size=announced.batch_size,
        )
        # an aux packet comes with each packet of a session with an aux stream
        self._size_queue(announced.sample_rate, announced.batch_size, 2 if announced.aux else 1)
        await self._writer.new_session(session)

    def _clock(self) -> ClockModel | None:
        return self._ctx.clock() if self._ctx is not None else None

    def _provenance(self, current: Recording) -> dict[str, Any]:
        config = dict(self._ctx.config) if self._ctx is not None else {}
        source = config.get("source", {})
        return {
            "eegd_version": eegd.__version__,
            "notes": current.notes,
            "config": config,
            "source": {"kind": source.get("kind"), "batch_size": source.get("batch_size")},
            "filter": dict(self._filter),
            "impedance": self._impedance,
            "quality_at_start": self._quality,
        }

    def _publish(self, event: Event) -> None:
        if self._ctx is not None:
            self._ctx.bus.publish(event)

    # ------------------------------------------------------------------ the API

    def mark(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """Publish a marker (``label``, optional ``duration_s`` and ``timestamp_us``)."""
        current = self._writer.current
        since = None
        if current is not None:
            first = current.parts[0].start_us if current.parts else current.started_us
            since = None if first is None else (current.name, first)
        marker = marker_from_body(body, self._clock(), self._writer.session.id, since)
        if current is not None and marker.sample is not None:
            current.last_marked = max(current.last_marked, marker.sample)
        self._publish(marker)
        logger.info("marker %r at %d µs (sample %s)", marker.label, marker.timestamp, marker.sample)
        return {
            "type": "marker",
            "label": marker.label,
            "timestamp_us": marker.timestamp,
            "duration_s": marker.duration_s,
            "sample": marker.sample,
            "session": marker.session,
        }

    async def start(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """Start a recording (``name`` and ``notes`` optional); 409 if one is in progress."""
        unknown = sorted(str(key) for key in body if key not in _START_KEYS)
        if unknown:
            raise ConfigError(f"{unknown[0][:40]}: unknown key (allowed: {', '.join(_START_KEYS)})")
        check_ready(self._ready)
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
        session = self._writer.session
        check_labels(session.channels, self.settings.format, session.aux)
        check_aux(session.aux, session.batch_size, session.sample_rate, self.settings.format)
        clock = self._clock()
        file_format = self.settings.format
        current = await self._writer.claim(
            name, notes, file_format, None if clock is None else clock.now_us()
        )
        path = self.directory / (name + SUFFIXES[file_format])
        try:
            await self._writer.io(self._writer.create, current, path)
        except OSError as exc:
            self._writer.current = None
            reason = exc.strerror or str(exc)
            problem = f"the recording directory {self.directory} cannot be used: {reason}"
            raise RequestRefused(503, "directory_unusable", problem) from exc
        self._counters["recordings"] += 1
        logger.info("recording %s started: %s", name, path)
        detail = {"name": name, "path": str(path), "format": file_format}
        self._publish(SystemEvent(SystemEventKind.RECORDING_STARTED, detail, wall_clock_us()))
        return {**detail, "status": "recording"}

    async def stop(self) -> dict[str, Any]:
        """Stop the recording in progress and finalise its file; 409 if there is none.

        The file ends with the packet that holds the sample of this moment: Stop waits for
        it (at most ``writer.STOP_WAIT_S``), so what was marked up to now has its samples.
        Events queued before Stop, such as a source's marker behind packets still being
        written, are handled first (within the same limit).
        """
        check_ready(self._ready)
        current = self._writer.current
        if current is None:
            raise RequestRefused(409, "not_recording", "no recording is in progress")
        if self._subscription is not None:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(STOP_WAIT_S):
                    await self._subscription.join()
        clock = self._clock()
        if clock is not None and current.stop_at is None:
            current.stop_at = max(clock.sample_at_us(clock.now_us()), current.last_marked)
            await self._writer.reach(current, current.stop_at)
        return await self._writer.finish("stopped")


def _default_name() -> str:
    return "eegd-" + dt.datetime.now(dt.UTC).strftime("%Y%m%d-%H%M%S")
