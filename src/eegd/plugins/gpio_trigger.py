"""Hardware triggers: an edge on a GPIO input line becomes a marker at its exact sample.

``[plugin.gpio_trigger]`` names the line (``chip``, ``line``), the edges that count
(``edge``: rising, falling or both), the kernel's debounce (``debounce_ms``), the line's
bias and the marker's ``label``. The kernel stamps each edge on CLOCK_MONOTONIC (libgpiod
v2's ``EdgeEvent.timestamp_ns``), the clock the session's clock model is fitted on, so the
model (``eegd.acquisition.clock_model``) maps the edge to its sample and the marker carries that
sample's stamp, as a marker posted with ``timestamp_us`` does. A debounced edge is stamped
when the line has been steady for the debounce period (the kernel's debounce runs a timer
from the last change), so that period is taken off again.

The blocking wait for edges runs in a worker thread; the edges it reads go to the event
loop through a bounded queue (``QUEUE_SIZE``): when it is full, as only a line toggling
far faster than any trigger could make it, the newest edges are dropped and counted
(``edges_dropped``). The kernel's own buffer (16 edges a line) drops its oldest when the
thread falls behind; the line's sequence numbers show it (``edges_lost``). ``gpiod`` is an
optional dependency (``pip install 'eegd[gpio]'``); its errors become ``PluginError``s
naming the chip and line.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import logging
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated, Any, ClassVar, Final, Literal, Protocol, runtime_checkable

import msgspec

from eegd.errors import ConfigError, PluginError, shown
from eegd.events import EegPacket, Event, MarkerEvent, SystemEvent, SystemEventKind, Topic
from eegd.plugin import PluginContext
from eegd.plugins.recorder.markers import MAX_LABEL
from eegd.validation import Settings, convert

__all__ = [
    "HOLD_S",
    "MAX_DEBOUNCE_MS",
    "QUEUE_SIZE",
    "Edge",
    "GpioTrigger",
    "HoldsGpioLines",
    "TriggerSettings",
    "check_line_free",
]

logger = logging.getLogger(__name__)

#: Edges waiting for the event loop before the newest are dropped.
QUEUE_SIZE: Final = 256
#: The longest debounce: a trigger held steady this long is no bounce (the kernel allows more).
MAX_DEBOUNCE_MS: Final = 1000.0
#: How long a marker waits for its sample to arrive before it goes out with the stamp foreseen.
HOLD_S: Final = 2.0
#: How long one wait for edges lasts before the thread looks whether it should stop.
_POLL_S: Final = 0.2
_TABLE: Final = "plugin.gpio_trigger"
#: The suffix a marker's label gets for each edge when both edges count.
_SUFFIX: Final = {True: " rising", False: " falling"}
#: The longest label, leaving room for the suffix.
_LONGEST_LABEL: Final = MAX_LABEL - max(len(suffix) for suffix in _SUFFIX.values())


class TriggerSettings(Settings, frozen=True):
    """``[plugin.gpio_trigger]``: which line, which edges, the debounce, the marker's label."""

    chip: Annotated[
        str, msgspec.Meta(pattern="^/dev/", extra={"allowed": "a device path like /dev/gpiochip0"})
    ] = "/dev/gpiochip0"
    line: Annotated[int, msgspec.Meta(ge=0, le=1023)] = 17
    edge: Literal["rising", "falling", "both"] = "rising"
    debounce_ms: Annotated[float, msgspec.Meta(ge=0, le=MAX_DEBOUNCE_MS)] = 0.0
    bias: Literal["as_is", "pull_up", "pull_down", "disabled"] = "as_is"
    label: Annotated[str, msgspec.Meta(pattern=r"\S", extra={"allowed": "a non-empty string"})] = (
        "trigger"
    )

    def __post_init__(self) -> None:
        # A marker's label is bounded in bytes (UTF-8), which no field constraint counts.
        if len(self.label.encode()) > _LONGEST_LABEL:
            raise ConfigError(
                f"label: {shown(self.label)} is not allowed "
                f"(allowed: a non-empty string of at most {_LONGEST_LABEL} bytes)"
            )

    def label_of(self, rising: bool) -> str:
        """The marker's label for an edge (which edge it was, when both count)."""
        return self.label + _SUFFIX[rising] if self.edge == "both" else self.label


@runtime_checkable
class HoldsGpioLines(Protocol):
    """A source that holds GPIO lines itself (the ADS1299's DRDY, START, chip selects)."""

    def gpio_lines(self) -> Mapping[tuple[str, int], str]:
        """Each (chip, line) it holds, with the config key that names it."""


def check_line_free(options: Mapping[str, Any], source: object) -> None:
    """Refuse a trigger on a line the source holds: a ``ConfigError`` naming both keys."""
    settings = convert(options, TriggerSettings, _TABLE)
    if not isinstance(source, HoldsGpioLines):
        return
    key = source.gpio_lines().get((settings.chip, settings.line))
    if key is not None:
        raise ConfigError(
            f"{_TABLE}.line: GPIO{settings.line} of {settings.chip} is already {key} "
            "(allowed: a line no other part of eegd uses)",
            key=f"{_TABLE}.line",
        )


@dataclass(frozen=True, slots=True)
class Edge:
    """One edge the kernel saw: when (monotonic ns, debounce taken off) and which way."""

    monotonic_ns: int
    rising: bool


def _import_gpiod() -> Any:
    try:
        return importlib.import_module("gpiod")
    except ImportError as exc:
        raise PluginError(
            "plugin 'gpio_trigger': gpiod (libgpiod v2) is not installed; "
            "install it with pip install 'eegd[gpio]'"
        ) from exc


class GpioTrigger:
    """The ``gpio_trigger`` plugin: edges of one GPIO input line as markers."""

    name: ClassVar[str] = "gpio_trigger"
    consumes: ClassVar[tuple[Topic, ...]] = (Topic.SYSTEM, Topic.RAW_EEG)
    produces: ClassVar[tuple[Topic, ...]] = (Topic.MARKER,)

    def __init__(self, settings: TriggerSettings) -> None:
        self.settings = settings
        self._gpiod = _import_gpiod()
        self._counters = {
            "edges": 0,
            "markers": 0,
            "edges_dropped": 0,
            "edges_lost": 0,
            "edges_outside_session": 0,
            "markers_ahead": 0,
        }
        self._session: str | None = None
        self._arrived = 0
        """One past the last sample of the session that has arrived."""
        self._progress = asyncio.Event()

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> GpioTrigger:
        """A plugin configured by ``[plugin.gpio_trigger]``."""
        return cls(convert(options, TriggerSettings, _TABLE))

    def stats(self) -> Mapping[str, int]:
        """Edges seen, markers published (and of them those out before their sample),
        edges dropped (the queue), lost (the kernel's buffer), outside any session."""
        return dict(self._counters)

    async def run(self, ctx: PluginContext) -> None:
        """Watch the line until cancelled; each edge is published as a marker."""
        loop = asyncio.get_running_loop()
        edges: asyncio.Queue[Edge] = asyncio.Queue(QUEUE_SIZE)
        stop = threading.Event()
        request = await asyncio.to_thread(self._request)

        def hand_over(batch: list[Edge]) -> None:
            for edge in batch:
                try:
                    edges.put_nowait(edge)
                except asyncio.QueueFull:
                    self._counters["edges_dropped"] += 1

        def deliver(batch: list[Edge]) -> None:
            loop.call_soon_threadsafe(hand_over, batch)

        def watch() -> None:
            try:
                self._watch(request, stop, deliver)
            finally:
                request.release()

        listener = ctx.bus.listen((Topic.SYSTEM, Topic.RAW_EEG), self._follow, _log_failure)
        executor = ThreadPoolExecutor(1, thread_name_prefix="eegd-gpio-trigger")
        watcher: asyncio.Future[Any] = loop.run_in_executor(executor, watch)
        getter: asyncio.Future[Any] | None = None
        try:
            while True:
                getter = asyncio.ensure_future(edges.get())
                await asyncio.wait({getter, watcher}, return_when=asyncio.FIRST_COMPLETED)
                if not getter.done():
                    await watcher  # raises what stopped the thread
                    raise PluginError(f"plugin 'gpio_trigger': {self._where} stopped")
                await self._publish(ctx, getter.result())
        finally:
            if getter is not None:
                getter.cancel()
            listener.close()
            stop.set()
            try:
                await asyncio.shield(watcher)
            finally:
                executor.shutdown(wait=False)

    @property
    def _where(self) -> str:
        return f"line {self.settings.line} of {self.settings.chip}"

    def _follow(self, event: Event) -> None:
        """The session and how far its samples have arrived (a bus listener: never blocks)."""
        if isinstance(event, EegPacket):
            self._arrived = event.first_sample + event.n_samples
        elif isinstance(event, SystemEvent) and event.kind is SystemEventKind.SOURCE_CONNECTED:
            self._session = event.session.id if event.session is not None else None
            self._arrived = 0
        else:
            return
        self._progress.set()

    async def _publish(self, ctx: PluginContext, edge: Edge) -> None:
        """The edge's marker, on the sample the session's clock model puts its moment on.

        The marker waits (up to ``HOLD_S``) for its sample to arrive, so it carries the
        very stamp the sample got; a source that does not deliver it by then leaves it
        the stamp the model foresees (``markers_ahead``).
        """
        clock, session = ctx.clock(), self._session
        if clock is None:
            self._counters["edges_outside_session"] += 1
            return
        stamp = clock.utc_us(edge.monotonic_ns / 1e9)
        if stamp + 5e5 / clock.sample_rate < clock.window().start_us:  # before sample 0
            self._counters["edges_outside_session"] += 1
            return
        sample = clock.sample_at_us(stamp)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(HOLD_S):
                while sample >= self._arrived and ctx.clock() is clock:
                    self._progress.clear()
                    await self._progress.wait()
        if sample >= self._arrived:
            self._counters["markers_ahead"] += 1
        marker = MarkerEvent(
            label=self.settings.label_of(edge.rising),
            timestamp=clock.stamp_us(sample),
            sample=sample,
            session=session,
        )
        ctx.bus.publish(marker)
        self._counters["markers"] += 1
        ctx.logger.info("trigger %r at sample %d", marker.label, sample)

    # Everything below runs in the worker thread.

    def _request(self) -> Any:
        """Request the line as an input with edge detection; errors name the line."""
        gpiod, settings = self._gpiod, self.settings
        line = importlib.import_module("gpiod.line")
        config = {
            settings.line: gpiod.LineSettings(
                direction=line.Direction.INPUT,
                edge_detection=getattr(line.Edge, settings.edge.upper()),
                bias=getattr(line.Bias, settings.bias.upper()),
                debounce_period=timedelta(milliseconds=settings.debounce_ms),
            )
        }
        try:
            return gpiod.request_lines(settings.chip, consumer="eegd-trigger", config=config)
        except (OSError, ValueError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            raise PluginError(
                f"plugin 'gpio_trigger': cannot watch {self._where}: {reason} "
                "(does the chip have that line, is it free, may eegd use it? see docs/hardware.md)"
            ) from exc

    def _watch(
        self, request: Any, stop: threading.Event, deliver: Callable[[list[Edge]], None]
    ) -> None:
        """Wait for edges and hand each batch over, until ``stop`` is set."""
        debounce_ns = round(self.settings.debounce_ms * 1e6)
        rising = self._gpiod.EdgeEvent.Type.RISING_EDGE
        last_seqno = 0  # the kernel numbers a request's edges of each line from 1
        while not stop.is_set():
            try:
                if not request.wait_edge_events(timedelta(seconds=_POLL_S)):
                    continue
                events = request.read_edge_events()
            except OSError as exc:
                raise PluginError(
                    f"plugin 'gpio_trigger': reading {self._where} failed: {exc.strerror or exc}"
                ) from exc
            batch = []
            for event in events:
                seqno = int(event.line_seqno)
                if seqno > last_seqno + 1:
                    self._counters["edges_lost"] += seqno - last_seqno - 1
                last_seqno = seqno
                self._counters["edges"] += 1
                when = int(event.timestamp_ns) - debounce_ns
                batch.append(Edge(when, event.event_type == rising))
            if batch:
                deliver(batch)


def _log_failure(event: Event, exc: Exception) -> None:
    logger.error("gpio_trigger: handling %s failed: %s", type(event).__name__, exc)
