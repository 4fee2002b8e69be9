"""The one place that wires eegd together from a ``Config``: bus, source, plugins, supervisor.

Every component runs as a supervised task; ``eegd.service.run_daemon`` runs the daemon as
the process (signals, the exit code).

The daemon names no concrete source or plugin: the configuration builds the source its
``source.kind`` names from the source registry, and plugins come from the ``eegd.plugins``
entry points. What it reports lives in ``eegd.status`` (``/api/status``, ``/metrics``, the
status line); what changes while it runs in ``eegd.runtime`` (``/api/source``, a plugin's
``reconfigure``, the reload, playback), which keeps a plugin's run-time options so a plugin
the supervisor restarts is built with them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine, Mapping
from typing import Any

import msgspec

from eegd.acquisition.loop import AcquisitionLoop
from eegd.bus import EventBus
from eegd.clock import SYSTEM_BLOCKING_CLOCK, SYSTEM_CLOCK, BlockingClock, Clock
from eegd.config import Config
from eegd.events import SystemEvent, SystemEventKind, Topic
from eegd.metrics import CONTENT_TYPE, Metrics
from eegd.net.server import Server
from eegd.net.stream.connections import ConnectionManager
from eegd.plugin import Plugin, PluginClass, PluginContext, load_plugin_class, plugin_routes
from eegd.routes import Route
from eegd.runtime.changes import RuntimeChanges
from eegd.selftest import ImpedanceService, SelfTestService
from eegd.sources.base import Source
from eegd.status import DaemonStatus
from eegd.supervisor import Supervisor
from eegd.systemd import Notifier
from eegd.timestamps import wall_clock_us
from eegd.topics import TopicRegistry

__all__ = [
    "ACQUISITION_TASK",
    "CONNECTIONS_TASK",
    "HTTP_TASK",
    "KIOSK_ROUTES",
    "LOOP_LAG_TASK",
    "PLAYBACK_ROUTES",
    "SOURCE_ROUTES",
    "STATUS_TASK",
    "WATCHDOG_TASK",
    "Daemon",
]

logger = logging.getLogger("eegd")

#: The supervised task that reads the source; the daemon cannot work without it.
ACQUISITION_TASK = "acquisition"
#: The supervised task that streams to WebSocket clients.
CONNECTIONS_TASK = "connections"
#: The supervised task that keeps the HTTP server listening.
HTTP_TASK = "http"
#: The supervised task that logs the status line.
STATUS_TASK = "status"
#: The supervised task that observes the event loop's lag for ``/metrics``.
LOOP_LAG_TASK = "loop_lag"
#: The supervised task that tells systemd the loop is alive (only under a watchdog).
WATCHDOG_TASK = "watchdog"
#: The name ``/api/source``'s routes go by among the plugins' routes.
SOURCE_ROUTES = "source"
#: The name ``/api/playback``'s routes go by among the plugins' routes.
PLAYBACK_ROUTES = "playback"
#: The name ``GET /api/kiosk`` goes by among the plugins' routes.
KIOSK_ROUTES = "kiosk"


class Daemon:
    """All of eegd's long-running parts, built from one configuration."""

    def __init__(
        self,
        config: Config,
        source_factory: Callable[[], Source] | None = None,
        source_clock: BlockingClock = SYSTEM_BLOCKING_CLOCK,
        notifier: Notifier | None = None,
        wall_clock: Callable[[], int] = wall_clock_us,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        self.notifier = notifier if notifier is not None else Notifier(None, None)
        """systemd's notification socket and watchdog (nothing outside systemd)."""
        self.bus = EventBus()
        self.supervisor = Supervisor(
            self.bus, policy=config.supervisor, logger=logging.getLogger("eegd.supervisor")
        )
        self.acquisition = AcquisitionLoop(
            self.bus,
            source_factory or self._open_source,
            config.source.batch_size,
            kind=config.source.kind,
            stall_timeout_s=config.source.stall_timeout_s,
            monotonic=source_clock.monotonic,
            wall_clock=wall_clock,
        )
        self.plugins: dict[str, Plugin] = {}
        """The running instance of each plugin, replaced when the supervisor restarts one."""
        self._classes = {name: _plugin_class(config, name) for name in config.plugins}
        self.changes = RuntimeChanges(
            config,
            bus=self.bus,
            supervisor=self.supervisor,
            acquisition=self.acquisition,
            acquisition_task=ACQUISITION_TASK,
            plugins=self.plugins,
            classes=self._classes,
            reload_auth=lambda auth: self.server.reload_auth(auth),
        )
        """``/api/source``, plugins' ``reconfigure``, the reload and ``/api/playback``."""
        self.selftest = SelfTestService(
            self.bus, self.supervisor, ACQUISITION_TASK, lambda: self.config, self.plugins
        )
        """``POST /api/selftest``: pauses the acquisition to test the source."""
        self.impedance = ImpedanceService(
            self.bus, self.supervisor, ACQUISITION_TASK, lambda: self.config, self.plugins
        )
        """``POST /api/impedance``: pauses the acquisition to measure the electrodes."""
        self.selftest.peers, self.impedance.peers = (self.impedance,), (self.selftest,)
        self._routes = [
            *[(name, route) for name, cls in self._classes.items() for route in plugin_routes(cls)],
            *[(SOURCE_ROUTES, route) for route in self.changes.source_routes()],
            (KIOSK_ROUTES, Route("GET", "/api/kiosk", lambda _r: config.kiosk.state(), "viewer")),
            ("selftest", self.selftest.route()),
            ("impedance", self.impedance.route()),
            *[(PLAYBACK_ROUTES, route) for route in self.changes.playback.routes()],
        ]
        self._rates = self._frame_rates(config.source.sample_rate)
        self.connections = ConnectionManager(
            self.bus,
            frame_rates=self._rates,
            settings=config.server.connection_settings(),
            clock=clock,
            topics=TopicRegistry.of_plugins(
                (name, plugin_class.produces) for name, plugin_class in self._classes.items()
            ),
        )
        self.metrics = Metrics(lambda: self.report.metrics_snapshot(), clock)
        """``GET /metrics``: the daemon's own Prometheus registry."""
        self.connections.frame_written = self.metrics.observe_frame
        self.server = Server(
            self.connections,
            self,
            config.server,
            metrics=lambda: (self.metrics.render(), CONTENT_TYPE),
            auth=config.auth,
            bus=self.bus,
        )
        self.report = DaemonStatus(
            lambda: self.config,
            acquisition=self.acquisition,
            bus=self.bus,
            supervisor=self.supervisor,
            connections=self.connections,
            server=self.server,
            plugins=self.plugins,
            selftest=self.selftest,
            impedance=self.impedance,
            clock=clock,
        )
        """``/api/status``, the ``/metrics`` snapshot and the status line."""

    @property
    def config(self) -> Config:
        """The configuration in force: the file's, with the changes made while running."""
        return self.changes.config

    def _frame_rates(self, sample_rate: float) -> dict[Topic, float]:
        """Frames per second of each topic, to size client queues in seconds."""
        packets = sample_rate / self.config.source.batch_size
        return {
            Topic.RAW_EEG: packets,
            Topic.FILTERED_EEG: packets,
            Topic.FFT: 1.0 / self.config.spectrum.hop_s,
            Topic.SYSTEM: 1.0,
            Topic.MARKER: 1.0,
            Topic.AUX: packets,
        }

    def _open_source(self) -> Source:
        """A fresh source of the configured kind, from the source registry.

        Client queues are sized for its own rate from here on (a device's facts win).
        """
        source = self.config.build_source()
        self._rates.update(self._frame_rates(source.sample_rate))
        return source

    def _plugin_task(self, name: str) -> Callable[[], Coroutine[Any, Any, None]]:
        def start() -> Coroutine[Any, Any, None]:
            options = self.changes.plugin_options[name]
            plugin = self._classes[name].from_options(options)
            self.plugins[name] = plugin
            context = PluginContext(
                bus=self.bus,
                logger=logging.getLogger(f"eegd.plugin.{name}"),
                options=options,
                config=msgspec.to_builtins(self.config),
                clock=lambda: self.acquisition.clock,
            )
            return plugin.run(context)

        return start

    async def serve(self) -> str:
        """Bind the HTTP server (failing fast if the port is taken); return its URL."""
        return await self.server.start()

    def start(self) -> None:
        """Start every part as a supervised task: the plugins, the connection manager, the
        HTTP server's listening, the status line, the loop-lag probe, the systemd watchdog
        (under one) and the source."""
        for name in self._classes:
            self.supervisor.add(name, self._plugin_task(name))
        self.supervisor.add(CONNECTIONS_TASK, self.connections.run)
        self.supervisor.add(HTTP_TASK, self.server.keep_listening)
        self.supervisor.add(STATUS_TASK, self.report.report)
        self.supervisor.add(LOOP_LAG_TASK, self.metrics.probe)
        if self.notifier.watchdog_s is not None:
            self.supervisor.add(WATCHDOG_TASK, self.notifier.watchdog)
        policy = self.config.supervisor
        self.supervisor.add(
            ACQUISITION_TASK,
            self.acquisition.run,
            policy=policy.forever() if self.config.source.retry_forever else policy,
            on_pause=self.acquisition.end_session,
        )
        self.supervisor.start()
        self.notifier.notify("READY=1")

    async def stop(self) -> None:
        """Announce the shutdown, stop every task (the source closed, the recorder's file
        finalized) and close clients with 1001, within ``[supervisor] stop_timeout`` (2 s)."""
        self.notifier.notify("STOPPING=1")
        self.bus.publish(SystemEvent.now(SystemEventKind.SHUTDOWN))
        await self.supervisor.stop(timeout=self.config.supervisor.stop_timeout)
        await self.server.stop()

    def status(self) -> dict[str, Any]:
        """Everything ``/api/status`` reports (``DaemonStatus.status``)."""
        return self.report.status()

    def routes(self) -> list[tuple[str, Route]]:
        """The HTTP routes the plugins contribute, each with the plugin's name, and the
        daemon's own: ``/api/source``, ``/api/kiosk``, ``POST /api/selftest``,
        ``POST /api/impedance`` and the playback routes."""
        return list(self._routes)

    def plugin_state(self, plugin: str) -> dict[str, Any]:
        """Plugin ``plugin``'s options now (``GET /api/filter`` for the voltage filter)."""
        return self.changes.plugin_state(plugin)

    def reconfigure(self, plugin: str, changes: Mapping[str, Any]) -> dict[str, Any]:
        """Change plugin ``plugin`` while running (``RuntimeChanges.reconfigure``)."""
        return self.changes.reconfigure(plugin, changes)

    def plugin_instance(self, plugin: str) -> Plugin | None:
        """The running instance of plugin ``plugin`` (None before its task first starts)."""
        return self.plugins.get(plugin)

    def reload(self, config: Config) -> None:
        """Apply a reloaded configuration (``RuntimeChanges.reload``)."""
        self.changes.reload(config)


def _plugin_class(config: Config, name: str) -> PluginClass:
    """The class of plugin ``name``; raises ``PluginError`` (or ``ConfigError``) early."""
    plugin_class = load_plugin_class(name)
    plugin_class.from_options(config.plugin_options(name))  # bad options fail the start
    return plugin_class
