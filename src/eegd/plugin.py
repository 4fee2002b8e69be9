"""The plugin contract, the transform base class, and loading plugins by name.

A plugin declares the topics it consumes and produces and implements ``async run(ctx)``.
Most plugins are transforms: they subclass ``TransformPlugin`` and implement only the
synchronous ``process(event) -> events``, which tests call directly without a loop.
Every plugin, the built-ins of ``eegd.plugins`` included, registers under the
``eegd.plugins`` entry-point group and is loaded by name.

Beyond the contract a plugin may offer ``reconfigure(options) -> state`` (change it while
running: ``Reconfigurable``), ``stats() -> counters`` (``/api/status`` shows them:
``ReportsStats``), ``status() -> figures`` (numbers the daemon's own status and metrics
show beside its counters, such as the recorder's samples in the ledger: ``ReportsStatus``),
``recording`` (the recording in progress, which a self-test must not
end: ``Records``) and, on its class, ``routes()``: HTTP routes the server mounts, each a
``Route`` whose handler reaches the plugin through a ``PluginControl``. A handler answers
with a JSON object or a ``FileReply``, and refuses with ``RequestRefused``.

The transform base never publishes samples that are not finite: one NaN or infinity in a
filtered packet or a spectrum would reach every client. Such an event is dropped, counted
and reported once per plugin instance.
"""

from __future__ import annotations

import abc
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol, cast, runtime_checkable

import numpy as np
import numpy.typing as npt

from eegd.acquisition.clock_model import ClockModel
from eegd.bus import DropPolicy, EventBus
from eegd.errors import PluginError
from eegd.events import (
    AnyTopic,
    Event,
    FftPacket,
    FilteredEegPacket,
    SystemEvent,
    SystemEventKind,
)
from eegd.extensions import load, names
from eegd.routes import Route

__all__ = [
    "ENTRY_POINT_GROUP",
    "GaugeFamily",
    "Plugin",
    "PluginClass",
    "PluginContext",
    "Reconfigurable",
    "Records",
    "ReportsGauges",
    "ReportsProblem",
    "ReportsStats",
    "ReportsStatus",
    "StatusFigure",
    "TransformPlugin",
    "available_plugins",
    "load_plugin_class",
    "plugin_routes",
]

#: The entry-point group plugins, built-in or third-party, register under.
ENTRY_POINT_GROUP = "eegd.plugins"


@dataclass(frozen=True, slots=True)
class PluginContext:
    """What a running plugin gets: the bus, its own options and a logger.

    ``config`` is the daemon's whole effective configuration as plain data, for plugins
    that record it (the recorder's provenance). ``clock`` gives the running session's clock
    model (``eegd.acquisition.clock_model``), None before the first session: the one place a plugin
    maps a moment to a sample and a sample to its stamp.
    """

    bus: EventBus
    logger: logging.Logger
    options: Mapping[str, Any] = field(default_factory=dict)
    config: Mapping[str, Any] = field(default_factory=dict)
    clock: Callable[[], ClockModel | None] = lambda: None


@runtime_checkable
class Plugin(Protocol):
    """A component that subscribes to topics and publishes what it produces."""

    name: ClassVar[str]
    consumes: ClassVar[tuple[AnyTopic, ...]]
    produces: ClassVar[tuple[AnyTopic, ...]]

    async def run(self, ctx: PluginContext) -> None:
        """Run until cancelled; raising counts as a crash and the supervisor restarts it."""


class PluginClass(Protocol):
    """A plugin class: builds a fresh plugin from the plugin's options table.

    It may also have a ``routes()`` classmethod returning ``Route``s (see ``plugin_routes``).
    """

    name: ClassVar[str]
    consumes: ClassVar[tuple[AnyTopic, ...]]
    produces: ClassVar[tuple[AnyTopic, ...]]

    def from_options(self, options: Mapping[str, Any]) -> Plugin:
        """A new plugin instance configured by ``options`` (its table in ``eegd.toml``)."""


@runtime_checkable
class Reconfigurable(Protocol):
    """A plugin whose options can change while it runs."""

    def reconfigure(self, options: Mapping[str, Any]) -> Mapping[str, Any]:
        """Check ``options`` (the keys to change) fully, apply them, return the new state.

        The state is itself valid options for ``from_options``: a restarted plugin is built
        from it. Bad options raise ``ConfigError`` naming the key and change nothing.
        """


@runtime_checkable
class ReportsStats(Protocol):
    """A plugin with counters worth showing in ``/api/status``."""

    def stats(self) -> Mapping[str, int]:
        """Counters since the instance was built."""


@dataclass(frozen=True, slots=True)
class StatusFigure:
    """A number a plugin adds to the daemon's own ``/api/status`` (and, with ``metric``, to
    ``/metrics``), beside the counters its ``stats`` shows under its name.

    The core names no plugin: the recorder's samples reach the sample ledger this way
    (``ledger.samples_recorded``, ``eegd_samples_recorded_total``). Figures of one ``key``
    from several plugins add up.
    """

    key: str
    value: int
    ledger: bool = False
    """True: it belongs with the sample ledger (``/api/status`` → ``ledger``), else on top."""
    metric: str | None = None
    """The counter family it is on ``/metrics`` (``eegd_…``, without ``_total``), if any."""
    help: str = ""
    """The metric's help text."""


@dataclass(frozen=True, slots=True)
class GaugeFamily:
    """A labelled gauge a plugin adds to ``/metrics`` (``ReportsGauges``), read at each scrape.

    ``samples`` are each series' label values (in the order of ``labels``) and its value
    now: ``(("C3", "flat"), 1.0)`` is ``eegd_channel_quality{channel="C3",verdict="flat"} 1``.
    ``name`` is the family's (``eegd_…``), unique among all of ``/metrics``.
    """

    name: str
    help: str
    labels: tuple[str, ...]
    samples: tuple[tuple[tuple[str, ...], float], ...]


@runtime_checkable
class ReportsGauges(Protocol):
    """A plugin with gauges for ``/metrics`` (``GaugeFamily``)."""

    def gauges(self) -> Sequence[GaugeFamily]:
        """Its gauges now."""


@runtime_checkable
class ReportsStatus(Protocol):
    """A plugin with figures for the daemon's own status (``StatusFigure``)."""

    def status(self) -> Sequence[StatusFigure]:
        """Its figures now."""


@runtime_checkable
class ReportsProblem(Protocol):
    """A plugin that runs but cannot do its job now, and says why (``degraded``)."""

    def problem(self) -> str | None:
        """Why the plugin cannot do its job now, or None when it can."""


@runtime_checkable
class Records(Protocol):
    """A plugin that may be writing the session down, which must then not end under it."""

    @property
    def recording(self) -> str | None:
        """The name of the recording in progress; None when there is none."""


class TransformPlugin(abc.ABC):
    """A plugin that turns each consumed event into zero or more produced events.

    Subclasses implement ``process``; the base runs subscribe → process → publish.
    While nobody subscribes to any produced topic, ``process_unobserved`` is called
    instead, so expensive work can be skipped while state stays current.

    What ``process`` raises ends ``run``, and the supervisor restarts the plugin with its
    back-off: a fresh instance, its state (filter memory, a spectrum's window) rebuilt. A
    plugin whose state survives a failed packet (bad numerics in one block) says so with
    ``skips_failed_packets = True``: then that packet is counted (``packets_failed``) and
    skipped, and the plugin goes on with the next one.
    """

    name: ClassVar[str]
    consumes: ClassVar[tuple[AnyTopic, ...]]
    produces: ClassVar[tuple[AnyTopic, ...]]
    queue_size: ClassVar[int] = 256
    """Events the plugin's subscription holds before dropping the oldest."""
    skips_failed_packets: ClassVar[bool] = False
    """True: a packet ``process`` raises on is counted and skipped, without a restart."""
    non_finite_dropped: int = 0
    """Produced events not published because a sample array held NaN or infinity."""
    packets_failed: int = 0
    """Packets ``process`` raised on and that were skipped (``skips_failed_packets``)."""

    @abc.abstractmethod
    def process(self, event: Event) -> Sequence[Event]:
        """The events produced from ``event`` (often none or one)."""

    def stats(self) -> Mapping[str, int]:
        """Counters for ``/api/status``; subclasses add their own to these."""
        return {
            "non_finite_dropped": self.non_finite_dropped,
            "packets_failed": self.packets_failed,
        }

    def process_unobserved(self, event: Event) -> None:
        """Handle ``event`` when no one consumes the output; by default process and discard."""
        self.process(event)

    async def run(self, ctx: PluginContext) -> None:
        """Consume, process and publish until cancelled."""
        bus = ctx.bus
        with bus.subscribe(
            self.consumes,
            maxsize=self.queue_size,
            policy=DropPolicy.DROP_OLDEST,
            consumer=self.name,
        ) as subscription:
            async for event in subscription:
                try:
                    if any(bus.has_subscribers(topic) for topic in self.produces):
                        for produced in self.process(event):
                            if self._finite(produced, ctx):
                                bus.publish(produced)
                    else:
                        self.process_unobserved(event)
                except Exception as exc:
                    if not self.skips_failed_packets:
                        raise
                    self._skip_failed(event, exc, ctx)

    def _skip_failed(self, event: Event, error: Exception, ctx: PluginContext) -> None:
        """Count a packet ``process`` raised on; log and announce the first of them."""
        self.packets_failed += 1
        if self.packets_failed == 1:
            ctx.logger.warning(
                "plugin %s failed on a %s and skipped it (and will skip any other)",
                self.name,
                type(event).__name__,
                exc_info=error,
            )
            ctx.bus.publish(
                SystemEvent.now(
                    SystemEventKind.PLUGIN_PACKET_FAILED,
                    plugin=self.name,
                    event=type(event).__name__,
                    error=f"{type(error).__name__}: {error}",
                )
            )

    def _finite(self, event: Event, ctx: PluginContext) -> bool:
        """Whether ``event``'s sample arrays are all finite; counts and reports it if not."""
        field = _non_finite_field(event)
        if field is None:
            return True
        self.non_finite_dropped += 1
        if self.non_finite_dropped == 1:
            ctx.logger.warning(
                "plugin %s produced %s with non-finite %s; dropping every such event",
                self.name,
                type(event).__name__,
                field,
            )
            ctx.bus.publish(
                SystemEvent.now(
                    SystemEventKind.PLUGIN_OUTPUT_INVALID,
                    plugin=self.name,
                    event=type(event).__name__,
                    field=field,
                    reason="not finite",
                )
            )
        return False


def _non_finite_field(event: Event) -> str | None:
    """The name of the first float sample array of ``event`` with a NaN or infinity, if any."""
    arrays: tuple[tuple[str, npt.NDArray[Any]], ...]
    if isinstance(event, FilteredEegPacket):
        arrays = (("samples", event.samples),)
    elif isinstance(event, FftPacket):
        arrays = (("psd", event.psd), ("band_power", event.band_power))
    else:
        return None
    for name, array in arrays:
        if not np.isfinite(array).all():
            return name
    return None


def load_plugin_class(name: str) -> PluginClass:
    """The plugin class registered as ``name`` in the ``eegd.plugins`` entry-point group.

    Any failure (unknown name, import error, not a plugin) raises ``PluginError`` naming it.
    """
    plugin_class = load(
        ENTRY_POINT_GROUP,
        name,
        unknown=lambda known: PluginError(f"plugin {name!r}: not found (available: {known})"),
        failed=lambda reason: PluginError(f"plugin {name!r}: {reason}"),
    )
    for attribute in ("name", "consumes", "produces", "run", "from_options"):
        if not hasattr(plugin_class, attribute):
            raise PluginError(f"plugin {name!r}: {plugin_class!r} has no {attribute!r}")
    return cast(PluginClass, plugin_class)


def plugin_routes(plugin_class: PluginClass) -> list[Route]:
    """The routes a plugin class contributes through its optional ``routes()``; raises
    ``PluginError`` naming the plugin if that returns something other than ``Route``s."""
    routes = getattr(plugin_class, "routes", None)
    if routes is None:
        return []
    declared = list(routes())
    for route in declared:
        if not isinstance(route, Route):
            raise PluginError(f"plugin {plugin_class.name!r}: routes() gave {route!r}, not a Route")
        if route.role not in ("viewer", "operator"):
            raise PluginError(
                f"plugin {plugin_class.name!r}: {route.method} {route.path} declares role "
                f"{route.role!r} (allowed: 'viewer', 'operator')"
            )
    return declared


def available_plugins() -> list[str]:
    """Names of the plugins installed through the ``eegd.plugins`` entry-point group, sorted."""
    return names(ENTRY_POINT_GROUP)
