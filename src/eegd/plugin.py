"""The plugin contract, the transform base class, and loading plugins by name.

A plugin declares the topics it consumes and produces and implements ``async run(ctx)``.
Most plugins are transforms: they subclass ``TransformPlugin`` and implement only the
synchronous ``process(event) -> events``, which tests call directly without a loop.
Built-in plugins live in ``eegd.plugins``; third-party ones register under the
``eegd.plugins`` entry-point group.

The transform base never publishes samples that are not finite: one NaN or infinity in a
filtered packet or a spectrum would reach every client. Such an event is dropped, counted
and reported once per plugin instance.
"""

from __future__ import annotations

import abc
import importlib
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import Any, ClassVar, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

from eegd.bus import DropPolicy, EventBus
from eegd.errors import PluginError
from eegd.events import (
    Event,
    FftPacket,
    FilteredEegPacket,
    SystemEvent,
    SystemEventKind,
    Topic,
)

__all__ = [
    "BUILTIN_PLUGINS",
    "ENTRY_POINT_GROUP",
    "Plugin",
    "PluginClass",
    "PluginContext",
    "TransformPlugin",
    "load_plugin_class",
]

#: The entry-point group third-party plugins register under.
ENTRY_POINT_GROUP = "eegd.plugins"

#: Built-in plugins by name, as ``module:Class``, imported only when used.
BUILTIN_PLUGINS: Mapping[str, str] = {
    "voltage_filter": "eegd.plugins.voltage_filter:VoltageFilter",
    "brain_waves": "eegd.plugins.brain_waves:BrainWaves",
}


@dataclass(frozen=True, slots=True)
class PluginContext:
    """What a running plugin gets: the bus, its own options and a logger."""

    bus: EventBus
    logger: logging.Logger
    options: Mapping[str, Any] = field(default_factory=dict)


@runtime_checkable
class Plugin(Protocol):
    """A component that subscribes to topics and publishes what it produces."""

    name: ClassVar[str]
    consumes: ClassVar[tuple[Topic, ...]]
    produces: ClassVar[tuple[Topic, ...]]

    async def run(self, ctx: PluginContext) -> None:
        """Run until cancelled; raising counts as a crash and the supervisor restarts it."""


class PluginClass(Protocol):
    """A plugin class: builds a fresh plugin from the plugin's options table."""

    name: ClassVar[str]

    def from_options(self, options: Mapping[str, Any]) -> Plugin:
        """A new plugin instance configured by ``options`` (its table in ``eegd.toml``)."""


class TransformPlugin(abc.ABC):
    """A plugin that turns each consumed event into zero or more produced events.

    Subclasses implement ``process``; the base runs subscribe → process → publish.
    While nobody subscribes to any produced topic, ``process_unobserved`` is called
    instead, so expensive work can be skipped while state stays current.
    """

    name: ClassVar[str]
    consumes: ClassVar[tuple[Topic, ...]]
    produces: ClassVar[tuple[Topic, ...]]
    queue_size: ClassVar[int] = 256
    """Events the plugin's subscription holds before dropping the oldest."""
    non_finite_dropped: int = 0
    """Produced events not published because a sample array held NaN or infinity."""

    @abc.abstractmethod
    def process(self, event: Event) -> Sequence[Event]:
        """The events produced from ``event`` (often none or one)."""

    def process_unobserved(self, event: Event) -> None:
        """Handle ``event`` when no one consumes the output; by default process and discard."""
        self.process(event)

    async def run(self, ctx: PluginContext) -> None:
        """Consume, process and publish until cancelled."""
        bus = ctx.bus
        with bus.subscribe(
            self.consumes, maxsize=self.queue_size, policy=DropPolicy.DROP_OLDEST
        ) as subscription:
            async for event in subscription:
                if any(bus.has_subscribers(topic) for topic in self.produces):
                    for produced in self.process(event):
                        if self._finite(produced, ctx):
                            bus.publish(produced)
                else:
                    self.process_unobserved(event)

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


def load_plugin_class(name: str) -> Any:
    """Find the plugin class called ``name``: a built-in, else an ``eegd.plugins`` entry point.

    Any failure (unknown name, import error, not a plugin) raises ``PluginError`` naming it.
    """
    target = BUILTIN_PLUGINS.get(name)
    try:
        if target is not None:
            module_name, _, class_name = target.partition(":")
            plugin_class = getattr(importlib.import_module(module_name), class_name)
        else:
            found = entry_points(group=ENTRY_POINT_GROUP, name=name)
            if not found:
                known = ", ".join(sorted({*BUILTIN_PLUGINS, *available_entry_points()}))
                raise PluginError(f"plugin {name!r}: not found (available: {known})")
            plugin_class = next(iter(found)).load()
    except PluginError:
        raise
    except Exception as exc:
        raise PluginError(f"plugin {name!r}: failed to load: {exc}") from exc
    for attribute in ("name", "consumes", "produces", "run", "from_options"):
        if not hasattr(plugin_class, attribute):
            raise PluginError(f"plugin {name!r}: {plugin_class!r} has no {attribute!r}")
    return plugin_class


def available_entry_points() -> list[str]:
    """Names of the plugins installed through the ``eegd.plugins`` entry-point group."""
    return [entry.name for entry in entry_points(group=ENTRY_POINT_GROUP)]
