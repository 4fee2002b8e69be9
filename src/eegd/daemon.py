"""The one place that wires eegd together from a ``Config``: bus, source, plugins, supervisor.

Every component runs as a supervised task. ``run_daemon`` runs until SIGINT/SIGTERM and
reports a status line every few seconds on the log (stderr).
"""

from __future__ import annotations

import asyncio
import logging
import signal
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from eegd.acquisition import AcquisitionLoop
from eegd.bus import EventBus
from eegd.config import Config
from eegd.events import SystemEvent, SystemEventKind
from eegd.plugin import Plugin, PluginContext, load_plugin_class
from eegd.plugins.brain_waves import BrainWaves
from eegd.plugins.voltage_filter import VoltageFilter
from eegd.sources.base import Source
from eegd.sources.synthetic import SyntheticSource
from eegd.supervisor import Supervisor, TaskState

__all__ = ["ACQUISITION_TASK", "Daemon", "StatusSnapshot", "run_daemon"]

logger = logging.getLogger("eegd")

#: The supervised task that reads the source; the daemon cannot work without it.
ACQUISITION_TASK = "acquisition"


@dataclass(frozen=True, slots=True)
class StatusSnapshot:
    """Counters at one moment, from which the status line computes rates."""

    at: float
    frames: int
    samples: int
    dropped: int


class Daemon:
    """All of eegd's long-running parts, built from one configuration."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.bus = EventBus()
        self.supervisor = Supervisor(
            self.bus, policy=config.supervisor.policy(), logger=logging.getLogger("eegd.supervisor")
        )
        self.acquisition = AcquisitionLoop(self.bus, self._open_source, config.source.batch_size)
        self.plugins: dict[str, Plugin] = {}
        """The running instance of each plugin, replaced when the supervisor restarts one."""
        self.started_monotonic = time.monotonic()
        self._builders = {name: self._plugin_builder(name) for name in config.plugins}

    def _open_source(self) -> Source:
        return SyntheticSource(self.config.synthetic_settings())

    def _plugin_builder(self, name: str) -> Callable[[], Plugin]:
        """How to build a fresh instance of plugin ``name``; raises ``PluginError`` early."""
        if name == VoltageFilter.name:
            return lambda: VoltageFilter(self.config.filter.settings())
        if name == BrainWaves.name:
            return lambda: BrainWaves(self.config.spectrum.settings())
        plugin_class = load_plugin_class(name)
        return lambda: plugin_class.from_options({})  # type: ignore[no-any-return]

    def _plugin_task(self, name: str) -> Callable[[], Coroutine[Any, Any, None]]:
        def start() -> Coroutine[Any, Any, None]:
            plugin = self._builders[name]()
            self.plugins[name] = plugin
            context = PluginContext(bus=self.bus, logger=logging.getLogger(f"eegd.plugin.{name}"))
            return plugin.run(context)

        return start

    def start(self) -> None:
        """Start the source and every plugin as supervised tasks (needs a running loop)."""
        for name in self._builders:
            self.supervisor.add(name, self._plugin_task(name))
        self.supervisor.add(ACQUISITION_TASK, self.acquisition.run)
        self.supervisor.start()

    async def stop(self) -> None:
        """Announce the shutdown and stop every task, within 2 s."""
        self.bus.publish(SystemEvent.now(SystemEventKind.SHUTDOWN))
        await self.supervisor.stop(timeout=2.0)

    def acquisition_gave_up(self) -> bool:
        """Whether the source failed more often than the restart policy allows."""
        return any(
            status.name == ACQUISITION_TASK and status.state is TaskState.GAVE_UP
            for status in self.supervisor.statuses()
        )

    def snapshot(self) -> StatusSnapshot:
        """Current counters for the status line."""
        stats = self.acquisition.stats()
        return StatusSnapshot(
            at=time.monotonic(),
            frames=stats.frames_published,
            samples=stats.samples_acquired,
            dropped=self.bus.stats().dropped,
        )

    def status_line(self, previous: StatusSnapshot, current: StatusSnapshot) -> str:
        """One line: rates since ``previous``, drops, and which tasks run."""
        elapsed = max(current.at - previous.at, 1e-9)
        statuses = self.supervisor.statuses()
        running = sum(status.state is TaskState.RUNNING for status in statuses)
        troubled = ", ".join(
            f"{status.name} {status.state.value}"
            for status in statuses
            if status.state is not TaskState.RUNNING
        )
        return (
            f"{(current.frames - previous.frames) / elapsed:.1f} frames/s, "
            f"{(current.samples - previous.samples) / elapsed:.0f} samples/s, "
            f"lost {self.acquisition.stats().samples_lost} samples, "
            f"bus drops {current.dropped}, "
            f"tasks {running}/{len(statuses)} running" + (f" ({troubled})" if troubled else "")
        )


async def run_daemon(config: Config, stop: asyncio.Event | None = None) -> int:
    """Run until SIGINT/SIGTERM (or ``stop`` is set); return the process exit code."""
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    daemon = Daemon(config)
    daemon.start()
    exit_code = 0
    previous = daemon.snapshot()
    try:
        while not stop.is_set():
            try:
                await asyncio.wait_for(stop.wait(), timeout=config.log.status_interval_s)
            except TimeoutError:
                current = daemon.snapshot()
                logger.info("%s", daemon.status_line(previous, current))
                previous = current
            if daemon.acquisition_gave_up():
                logger.error("the source failed too often; giving up")
                exit_code = 1
                break
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)
        await daemon.stop()
    return exit_code
