"""The one place that wires eegd together from a ``Config``: bus, source, plugins, supervisor.

Every component runs as a supervised task. ``run_daemon`` runs until SIGINT/SIGTERM and
reports a status line every few seconds on the log (stderr); SIGHUP reloads the config file
and applies what can change while running (the filter, the log level).
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import signal
import time
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass
from typing import Any

import msgspec

from eegd.acquisition import AcquisitionLoop
from eegd.bus import EventBus
from eegd.config import Config
from eegd.dsp.filters import design_sos
from eegd.errors import EegdError
from eegd.events import SystemEvent, SystemEventKind, Topic
from eegd.net.connections import ConnectionManager, ConnectionSettings
from eegd.net.server import Server, ServerSettings
from eegd.plugin import Plugin, PluginContext, load_plugin_class
from eegd.plugins.brain_waves import BrainWaves
from eegd.plugins.voltage_filter import VoltageFilter, settings_from_options
from eegd.sources.base import Source
from eegd.sources.synthetic import SyntheticSource
from eegd.supervisor import Supervisor, TaskState

__all__ = ["ACQUISITION_TASK", "CONNECTIONS_TASK", "Daemon", "StatusSnapshot", "run_daemon"]

logger = logging.getLogger("eegd")

#: The supervised task that reads the source; the daemon cannot work without it.
ACQUISITION_TASK = "acquisition"
#: The supervised task that streams to WebSocket clients.
CONNECTIONS_TASK = "connections"


@dataclass(frozen=True, slots=True)
class StatusSnapshot:
    """Counters at one moment, from which the status line computes rates."""

    at: float
    frames: int
    samples: int
    dropped: int


class Daemon:
    """All of eegd's long-running parts, built from one configuration."""

    def __init__(self, config: Config, source_factory: Callable[[], Source] | None = None) -> None:
        self.config = config
        self._source_factory = source_factory or self._open_source
        self.bus = EventBus()
        self.supervisor = Supervisor(
            self.bus, policy=config.supervisor, logger=logging.getLogger("eegd.supervisor")
        )
        self.acquisition = AcquisitionLoop(self.bus, self._source_factory, config.source.batch_size)
        self.plugins: dict[str, Plugin] = {}
        """The running instance of each plugin, replaced when the supervisor restarts one."""
        self.started_monotonic = time.monotonic()
        self.filter_settings = config.filter.settings()
        """The voltage filter's settings now; changes at run time survive a plugin restart."""
        self._builders = {name: self._plugin_builder(name) for name in config.plugins}
        server = config.server
        self.connections = ConnectionManager(
            self.bus,
            frame_rates=self._frame_rates(),
            settings=ConnectionSettings(
                queue_seconds=server.client_queue_s,
                stall_timeout=server.stall_timeout_s,
                max_clients=server.max_clients,
                max_topics_per_client=server.max_topics_per_client,
                max_message_bytes=server.max_message_bytes,
                max_messages_per_s=server.max_messages_per_s,
            ),
        )
        self.server = Server(
            self.connections,
            self,
            ServerSettings(
                host=server.host,
                port=server.port,
                allowed_origins=tuple(server.allowed_origins),
                heartbeat_s=server.heartbeat_s,
                header_timeout_s=server.header_timeout_s,
                max_pending_connections=server.max_pending_connections,
            ),
        )

    def _frame_rates(self) -> dict[Topic, float]:
        """Frames per second of each topic, to size client queues in seconds."""
        packets = self.config.source.sample_rate / self.config.source.batch_size
        return {
            Topic.RAW_EEG: packets,
            Topic.FILTERED_EEG: packets,
            Topic.FFT: 1.0 / self.config.spectrum.hop_s,
            Topic.SYSTEM: 1.0,
        }

    def _open_source(self) -> Source:
        """The source the configuration names (only the synthetic one exists yet)."""
        return SyntheticSource(self.config.synthetic_settings())

    def _plugin_builder(self, name: str) -> Callable[[], Plugin]:
        """How to build a fresh instance of plugin ``name``; raises ``PluginError`` early."""
        if name == VoltageFilter.name:
            return lambda: VoltageFilter(self.filter_settings)
        if name == BrainWaves.name:
            return lambda: BrainWaves(self.config.spectrum.settings())
        plugin_class = load_plugin_class(name)
        options = self.config.plugin.get(name, {})
        plugin_class.from_options(options)  # bad options fail the start, not a restart loop
        return lambda: plugin_class.from_options(options)

    def _plugin_task(self, name: str) -> Callable[[], Coroutine[Any, Any, None]]:
        def start() -> Coroutine[Any, Any, None]:
            plugin = self._builders[name]()
            self.plugins[name] = plugin
            context = PluginContext(
                bus=self.bus,
                logger=logging.getLogger(f"eegd.plugin.{name}"),
                options=self.config.plugin.get(name, {}),
            )
            return plugin.run(context)

        return start

    async def serve(self) -> str:
        """Bind the HTTP server (failing fast if the port is taken); return its URL."""
        return await self.server.start()

    def start(self) -> None:
        """Start the source, the plugins and the connection manager as supervised tasks."""
        for name in self._builders:
            self.supervisor.add(name, self._plugin_task(name))
        self.supervisor.add(CONNECTIONS_TASK, self.connections.run)
        self.supervisor.add(ACQUISITION_TASK, self.acquisition.run)
        self.supervisor.start()

    async def stop(self) -> None:
        """Announce the shutdown, stop every task and close clients (1001), within 2 s."""
        self.bus.publish(SystemEvent.now(SystemEventKind.SHUTDOWN))
        await self.supervisor.stop(timeout=2.0)
        await self.server.stop()

    def status(self) -> dict[str, Any]:
        """Everything /api/status reports: source, ledger, clients, tasks."""
        source = self.config.source
        session = self.acquisition.session
        acquisition = self.acquisition.stats()
        bus = self.bus.stats()
        brain_waves = self.plugins.get(BrainWaves.name)
        return {
            "source": {
                "kind": source.kind,
                "sample_rate": source.sample_rate,
                "channels": list(session.channel_names) if session else None,
                "batch_size": source.batch_size,
                "session": session.id if session else None,
            },
            "uptime_s": round(time.monotonic() - self.started_monotonic, 3),
            "ledger": {
                "frames_published": acquisition.frames_published,
                "samples_acquired": acquisition.samples_acquired,
                "samples_lost": acquisition.samples_lost,
                "sessions": acquisition.sessions,
            },
            "bus": {
                topic.label: {
                    "published": stats.published,
                    "subscribers": stats.subscribers,
                    "dropped": stats.dropped,
                }
                for topic, stats in bus.topics.items()
            },
            "clients": dataclasses.asdict(self.connections.stats()),
            "http": {
                **self.server.guard.stats.as_dict(),
                "malformed_requests": self.server.aiohttp_log.count,
            },
            "spectra_computed": (
                brain_waves.spectra_computed if isinstance(brain_waves, BrainWaves) else 0
            ),
            "tasks": [
                {
                    "name": status.name,
                    "state": status.state.value,
                    "restarts": status.restarts,
                    "failures": status.failures,
                    "last_error": status.last_error,
                }
                for status in self.supervisor.statuses()
            ],
        }

    def filter_state(self) -> dict[str, Any]:
        """The voltage filter's settings, for ``GET /api/filter``."""
        return dataclasses.asdict(self.filter_settings)

    def update_filter(self, changes: Mapping[str, Any]) -> dict[str, Any]:
        """Change the voltage filter while running (``PUT /api/filter``).

        Unknown keys and bad values raise ``ConfigError`` and change nothing. The running
        filter switches without a glitch larger than a fresh start, and a ``config_changed``
        event tells every client.
        """
        settings = settings_from_options(changes, base=self.filter_settings)
        session = self.acquisition.session
        design_sos(settings, session.sample_rate if session else self.config.source.sample_rate)
        plugin = self.plugins.get(VoltageFilter.name)
        if isinstance(plugin, VoltageFilter):
            plugin.update(settings)
        self.filter_settings = settings
        state = self.filter_state()
        self.bus.publish(SystemEvent.now(SystemEventKind.CONFIG_CHANGED, filter=state))
        logger.info("voltage filter changed: %s", state)
        return state

    def reload(self, config: Config) -> None:
        """Apply a reloaded configuration: the filter and log level now, the rest at restart."""
        if config.filter != self.config.filter:
            self.update_filter(msgspec.structs.asdict(config.filter))
        if config.log.level != self.config.log.level:
            logging.getLogger().setLevel(config.log.level.upper())
        later = [
            name
            for name in msgspec.structs.asdict(config)
            if name not in ("filter", "log") and getattr(config, name) != getattr(self.config, name)
        ]
        if later:
            logger.warning(
                "reloaded the configuration; changes to %s apply at the next restart",
                ", ".join(later),
            )
        else:
            logger.info("reloaded the configuration")
        self.config = msgspec.structs.replace(self.config, filter=config.filter, log=config.log)

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
            f"client drops {self.connections.dropped()}, "
            f"clients {self.connections.stats().clients}, "
            f"tasks {running}/{len(statuses)} running" + (f" ({troubled})" if troubled else "")
        )


async def run_daemon(
    config: Config,
    stop: asyncio.Event | None = None,
    reload: Callable[[], Config] | None = None,
) -> int:
    """Serve until SIGINT/SIGTERM (or ``stop`` is set); return the process exit code.

    The URL goes to stdout as one flushed line once the port is bound (with ``port = 0`` it
    says which port was picked); logs go to stderr. SIGHUP calls ``reload`` for a fresh
    configuration and applies it; a bad one is logged and the daemon runs on unchanged.
    """
    stop = stop or asyncio.Event()
    daemon = Daemon(config)
    url = await daemon.serve()
    print(url, flush=True)
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)

    def reload_config() -> None:
        if reload is None:
            logger.warning("SIGHUP: there is no configuration file to reload")
            return
        try:
            daemon.reload(reload())
        except EegdError as exc:
            logger.error("SIGHUP: configuration not reloaded, nothing changed: %s", exc)

    loop.add_signal_handler(signal.SIGHUP, reload_config)
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
        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            loop.remove_signal_handler(signum)
        await daemon.stop()
    return exit_code
