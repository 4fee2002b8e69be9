"""Publish eegd's EEG and its events as Lab Streaming Layer streams (LabRecorder sees them).

Two outlets: one of type ``EEG`` (float32 µV, the session's channels and nominal rate, the
XDF meta-data in its description) carrying ``filtered_eeg`` (or ``raw_eeg``), and one of
type ``Markers`` (strings, irregular rate) carrying every ``marker`` event and the
recording start/stop and source lost/connected system events. A session with an aux stream
(``SourceSession.aux``) gets a third, ``NAME-aux``: type ``Accelerometer`` when every aux
channel is one, else ``AUX``, float32 in the channels' own units at the aux rate, each
channel's label, unit and kind in its description; a session without has none.

Every stamp comes from the session's clock model (``eegd.acquisition.clock_model``): a sample's
LSL time is its stamp (µs since the epoch) minus the session's UTC offset (``utc_offset_us`` of
``source_connected``), and a marker, which carries its sample's stamp, converts the same way,
so an XDF file puts it on its sample exactly; the system events are stamped when they go
out. A new session shape closes
the EEG outlet and opens one with the new shape. Every pylsl call runs in one worker
thread (``push_chunk`` can block); the hand-off is one call in flight, behind the
plugin's bounded subscription, which drops its oldest event when LSL falls behind.

LSL's ``local_clock()`` is ``std::chrono::steady_clock``, which on Linux is
CLOCK_MONOTONIC, the clock the model is fitted on: a stamp minus the offset is LSL time
(``tests/integration/test_lsl.py`` checks that the two agree).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Annotated, Any, ClassVar, Literal

import msgspec
import numpy as np
import numpy.typing as npt

from eegd.aux_stream import AuxKind, AuxStream
from eegd.bus import DropPolicy
from eegd.errors import PluginError
from eegd.events import (
    AuxPacket,
    EegPacket,
    Event,
    FilteredEegPacket,
    MarkerEvent,
    SystemEvent,
    SystemEventKind,
    Topic,
)
from eegd.plugin import PluginContext
from eegd.validation import Settings, convert

__all__ = ["LslOutlet", "OutletSettings", "default_source_id", "lsl_times"]

logger = logging.getLogger(__name__)

#: System events that go out on the Markers stream.
_MARKED_KINDS = frozenset(
    {
        SystemEventKind.RECORDING_STARTED,
        SystemEventKind.RECORDING_STOPPED,
        SystemEventKind.SOURCE_LOST,
        SystemEventKind.SOURCE_CONNECTED,
    }
)
_TOPICS = {"filtered_eeg": Topic.FILTERED_EEG, "raw_eeg": Topic.RAW_EEG}
#: Events the subscription holds before dropping the oldest.
_QUEUE_SIZE = 512


def _import_pylsl() -> Any:
    try:
        import pylsl
    except ImportError as exc:
        raise PluginError(
            "plugin 'lsl_outlet': pylsl is not installed; install it with pip install 'eegd[lsl]'"
        ) from exc
    return pylsl


def default_source_id(config: Mapping[str, Any]) -> str:
    """A source id from the source kind and its device options, stable across restarts."""
    source = config.get("source", {})
    kind = str(source.get("kind", "synthetic"))
    device = source.get(kind, {})
    identity = json.dumps(device if isinstance(device, Mapping) else {}, sort_keys=True)
    return f"eegd-{kind}-{hashlib.sha1(identity.encode()).hexdigest()[:10]}"


def lsl_times(stamps_us: npt.NDArray[np.uint64], utc_offset_us: int) -> list[float]:
    """LSL times (``local_clock`` seconds) of stamps from a session with ``utc_offset_us``."""
    seconds: list[float] = ((stamps_us.astype(np.int64) - utc_offset_us) / 1e6).tolist()
    return seconds


class OutletSettings(Settings, frozen=True):
    """``[plugin.lsl_outlet]``: which topic goes out, the stream's name and source id."""

    topic: Literal["filtered_eeg", "raw_eeg"] = "filtered_eeg"
    name: Annotated[str, msgspec.Meta(min_length=1)] = "eegd"
    source_id: Annotated[str, msgspec.Meta(min_length=1)] | None = None
    """None: one made from the source's kind and device options (``default_source_id``)."""


class LslOutlet:
    """The ``lsl_outlet`` plugin: eegd's EEG and events as LSL streams."""

    name: ClassVar[str] = "lsl_outlet"
    consumes: ClassVar[tuple[Topic, ...]] = (
        Topic.FILTERED_EEG,
        Topic.RAW_EEG,
        Topic.AUX,
        Topic.SYSTEM,
        Topic.MARKER,
    )
    produces: ClassVar[tuple[Topic, ...]] = ()

    def __init__(self, settings: OutletSettings) -> None:
        self.settings = settings
        self._pylsl = _import_pylsl()
        self._outlet: Any = None
        self._markers: Any = None
        self._shape: tuple[float, tuple[str, ...]] | None = None
        self._filter: Mapping[str, Any] = {}
        self._source_id = settings.source_id or "eegd"
        self._utc_offset: int | None = None
        """The session's epoch µs minus monotonic µs: a stamp minus it is LSL time."""
        self._counters = {"outlets_opened": 0, "chunks_pushed": 0, "samples_pushed": 0}
        self._counters["markers_pushed"] = 0
        self._aux_stream: AuxStream | None = None
        """The session's aux stream; its outlet opens with its first packet."""
        self._aux_outlet: Any = None
        self._counters |= {"aux_outlets_opened": 0, "aux_chunks_pushed": 0}

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> LslOutlet:
        """A plugin configured by ``[plugin.lsl_outlet]``."""
        return cls(convert(options, OutletSettings, "plugin.lsl_outlet"))

    def stats(self) -> Mapping[str, int]:
        """Outlets opened, chunks, samples and markers pushed."""
        return dict(self._counters)

    async def run(self, ctx: PluginContext) -> None:
        """Forward events to the outlets until cancelled."""
        self._filter = dict(ctx.config.get("filter", {}))
        self._source_id = self.settings.source_id or default_source_id(ctx.config)
        clock = ctx.clock()
        self._utc_offset = clock.utc_offset_us if clock is not None else None
        topic = _TOPICS[self.settings.topic]
        wanted = (topic, Topic.AUX, Topic.SYSTEM, Topic.MARKER)
        executor = ThreadPoolExecutor(1, thread_name_prefix="eegd-lsl-outlet")
        loop = asyncio.get_running_loop()
        try:
            with ctx.bus.subscribe(
                wanted, maxsize=_QUEUE_SIZE, policy=DropPolicy.DROP_OLDEST, consumer=self.name
            ) as subscription:
                await loop.run_in_executor(executor, self._open_markers)
                async for event in subscription:
                    await loop.run_in_executor(executor, self._handle, event)
        finally:
            await asyncio.shield(loop.run_in_executor(executor, self._close))
            executor.shutdown(wait=True)

    # Everything below runs in the worker thread.

    def _handle(self, event: Event) -> None:
        if isinstance(event, EegPacket | FilteredEegPacket):
            self._push(event)
        elif isinstance(event, AuxPacket):
            self._push_aux(event)
        elif isinstance(event, MarkerEvent):
            self._mark(event.label, self._lsl_time(event.timestamp))
        elif isinstance(event, SystemEvent):
            if event.kind is SystemEventKind.SOURCE_CONNECTED:
                self._close_eeg()  # the next packet opens the session's shape
                session = event.session
                self._utc_offset = session.utc_offset_us if session is not None else None
                aux = session.aux if session is not None else None
                if aux != self._aux_stream:
                    self._aux_outlet, self._aux_stream = None, aux
            elif event.kind is SystemEventKind.CONFIG_CHANGED and "filter" in event.detail:
                self._filter = dict(event.detail["filter"])
            if event.kind in _MARKED_KINDS:
                detail = json.dumps(dict(event.detail), sort_keys=True, default=str)
                self._mark(f"{event.kind.value} {detail}")

    def _push(self, packet: EegPacket | FilteredEegPacket) -> None:
        shape = (packet.sample_rate, packet.channel_names)
        if self._outlet is None or shape != self._shape:
            self._close_eeg()
            self._outlet = self._open_eeg(*shape)
            self._shape = shape
        samples: npt.NDArray[np.float32] = np.ascontiguousarray(
            (packet.samples * np.float32(1e6)).T, dtype=np.float32
        )
        n_samples = samples.shape[0]
        if self._utc_offset is None:  # a session this instance never saw start: LSL stamps
            self._outlet.push_chunk(samples)
        else:
            self._outlet.push_chunk(samples, lsl_times(packet.timestamps, self._utc_offset))
        self._counters["chunks_pushed"] += 1
        self._counters["samples_pushed"] += n_samples

    def _open_eeg(self, rate: float, channels: tuple[str, ...]) -> Any:
        pylsl = self._pylsl
        info = pylsl.StreamInfo(
            self.settings.name, "EEG", len(channels), rate, pylsl.cf_float32, self._source_id
        )
        desc = info.desc()
        desc.append_child("acquisition").append_child_value("manufacturer", "eegd")
        node = desc.append_child("channels")
        for label in channels:
            channel = node.append_child("channel")
            channel.append_child_value("label", label)
            channel.append_child_value("unit", "microvolts")
            channel.append_child_value("type", "EEG")
        filtering = desc.append_child("filtering")
        filtering.append_child_value("topic", self.settings.topic)
        for key, value in sorted(self._filter.items()):
            filtering.append_child_value(str(key), str(value))
        self._counters["outlets_opened"] += 1
        logger.info("LSL outlet %r: %d channels at %g Hz", self.settings.name, len(channels), rate)
        return pylsl.StreamOutlet(info)

    def _push_aux(self, packet: AuxPacket) -> None:
        """An aux packet of the session's aux stream (a stray one, of a session announced
        without an aux stream, has no outlet to go to)."""
        aux = self._aux_stream
        if aux is None or packet.channel_names != aux.channels:
            return
        if self._aux_outlet is None:
            self._aux_outlet = self._open_aux(aux)
        values = np.ascontiguousarray(packet.values.T, dtype=np.float32)
        if self._utc_offset is None:
            self._aux_outlet.push_chunk(values)
        else:
            self._aux_outlet.push_chunk(values, lsl_times(packet.timestamps, self._utc_offset))
        self._counters["aux_chunks_pushed"] += 1

    def _open_aux(self, aux: AuxStream) -> Any:
        pylsl = self._pylsl
        accelerometer = all(kind is AuxKind.ACCELEROMETER for kind in aux.kinds)
        info = pylsl.StreamInfo(
            f"{self.settings.name}-aux",
            "Accelerometer" if accelerometer else "AUX",
            len(aux.channels),
            aux.sample_rate,
            pylsl.cf_float32,
            f"{self._source_id}-aux",
        )
        desc = info.desc()
        desc.append_child("acquisition").append_child_value("manufacturer", "eegd")
        node = desc.append_child("channels")
        for label, unit, kind in zip(aux.channels, aux.units, aux.kinds, strict=True):
            channel = node.append_child("channel")
            channel.append_child_value("label", label)
            channel.append_child_value("unit", unit)
            channel.append_child_value("type", kind.value)
        self._counters["aux_outlets_opened"] += 1
        logger.info(
            "LSL outlet %r: %d aux channels at %g Hz",
            f"{self.settings.name}-aux",
            len(aux.channels),
            aux.sample_rate,
        )
        return pylsl.StreamOutlet(info)

    def _open_markers(self) -> None:
        pylsl = self._pylsl
        info = pylsl.StreamInfo(
            f"{self.settings.name}-markers",
            "Markers",
            1,
            pylsl.IRREGULAR_RATE,
            pylsl.cf_string,
            f"{self._source_id}-markers",
        )
        info.desc().append_child("acquisition").append_child_value("manufacturer", "eegd")
        self._markers = pylsl.StreamOutlet(info)

    def _lsl_time(self, timestamp_us: int) -> float:
        """The LSL time of the stamp ``timestamp_us``; now (0.0, pylsl's "stamp at push")
        when the session's offset is unknown."""
        if self._utc_offset is None:
            return 0.0
        return (timestamp_us - self._utc_offset) / 1e6

    def _mark(self, text: str, lsl_time: float = 0.0) -> None:
        if self._markers is not None:
            self._markers.push_sample([text], lsl_time)
            self._counters["markers_pushed"] += 1

    def _close_eeg(self) -> None:
        self._outlet = None  # pylsl destroys the outlet when its last reference goes
        self._shape = None

    def _close(self) -> None:
        self._close_eeg()
        self._markers = self._aux_outlet = None
