"""The one place that wires eegd together from a ``Config``: bus, source, plugins, supervisor.

Every component runs as a supervised task. ``run_daemon`` runs until SIGINT/SIGTERM and
reports a status line every few seconds on the log (stderr); SIGHUP reloads the config file
and applies what can change while running (the options of plugins that can be reconfigured,
such as the filter, and the log level).

``GET /api/source`` shows the running ``[source]`` settings and session; ``PUT /api/source``
merges a partial table into them, checks the result as a file is checked before anything
stops, then restarts the acquisition on the new source: a new session, whose hello every
client gets, and plugins that reset for its rate; the switch is not a loss of samples.

The daemon names no concrete source or plugin: the configuration builds the source its
``source.kind`` names from the source registry, and plugins come from the ``eegd.plugins``
entry points. A plugin's run-time changes (``reconfigure``, through its routes) are kept
here, so a plugin the supervisor restarts is built with them.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import signal
import time
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass
from typing import Any

import msgspec

from eegd.acquisition.loop import AcquisitionLoop
from eegd.bus import EventBus
from eegd.clock import SYSTEM_BLOCKING_CLOCK, BlockingClock
from eegd.commands import Command
from eegd.config import Config
from eegd.errors import ConfigError, EegdError, RequestRefused
from eegd.events import SystemEvent, SystemEventKind, Topic, wall_clock_us
from eegd.metrics import CONTENT_TYPE, Metrics, MetricsSnapshot
from eegd.net.server import Server
from eegd.net.stream.connections import ConnectionManager
from eegd.playback_control import PlaybackControl
from eegd.plugin import (
    Plugin,
    PluginClass,
    PluginContext,
    Reconfigurable,
    ReportsProblem,
    ReportsStats,
    Route,
    RouteRequest,
    load_plugin_class,
    plugin_routes,
)
from eegd.selftest import ImpedanceService, SelfTestService
from eegd.sources.base import Source
from eegd.supervisor import Supervisor, TaskState
from eegd.systemd import Notifier
from eegd.topics import TopicRegistry

__all__ = [
    "ACQUISITION_TASK",
    "CONNECTIONS_TASK",
    "HTTP_TASK",
    "KIOSK_ROUTES",
    "LOOP_LAG_TASK",
    "PLAYBACK_ROUTES",
    "SOURCE_ROUTES",
    "SOURCE_SWITCH_TIMEOUT_S",
    "STATUS_TASK",
    "WATCHDOG_TASK",
    "Daemon",
    "StatusSnapshot",
    "run_daemon",
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
#: How long ``PUT /api/source`` waits for the new source to open before it answers anyway.
SOURCE_SWITCH_TIMEOUT_S = 5.0


@dataclass(frozen=True, slots=True)
class StatusSnapshot:
    """Counters at one moment, from which the status line computes rates."""

    at: float
    frames: int
    samples: int
    dropped: int


class Daemon:
    """All of eegd's long-running parts, built from one configuration."""

    def __init__(
        self,
        config: Config,
        source_factory: Callable[[], Source] | None = None,
        source_clock: BlockingClock = SYSTEM_BLOCKING_CLOCK,
        notifier: Notifier | None = None,
        wall_clock: Callable[[], int] = wall_clock_us,
    ) -> None:
        self.config = config
        self.notifier = notifier if notifier is not None else Notifier(None, None)
        """systemd's notification socket and watchdog (nothing outside systemd)."""
        self._source_factory = source_factory or self._open_source
        self.bus = EventBus()
        self.supervisor = Supervisor(
            self.bus, policy=config.supervisor, logger=logging.getLogger("eegd.supervisor")
        )
        self.acquisition = AcquisitionLoop(
            self.bus,
            self._source_factory,
            config.source.batch_size,
            kind=config.source.kind,
            stall_timeout_s=config.source.stall_timeout_s,
            monotonic=source_clock.monotonic,
            wall_clock=wall_clock,
        )
        self.plugins: dict[str, Plugin] = {}
        """The running instance of each plugin, replaced when the supervisor restarts one."""
        self.started_monotonic = time.monotonic()
        self._switching = asyncio.Lock()
        """Held while ``update_source`` switches the source."""
        self.selftest = SelfTestService(
            self.bus, self.supervisor, ACQUISITION_TASK, lambda: self.config, self.plugins
        )
        """``POST /api/selftest``: pauses the acquisition to test the source."""
        self.playback = PlaybackControl(
            lambda: (
                self.config.source.options.get("playback", {})
                if self.config.source.kind == "playback"
                else None
            ),
            lambda: self.config.source.file_directories,
            self.update_source,
            self.supervisor,
            self.acquisition,
            ACQUISITION_TASK,
        )
        """``GET`` and ``PUT /api/playback``: pause, seek, speed, loop, another file."""
        self.impedance = ImpedanceService(
            self.bus, self.supervisor, ACQUISITION_TASK, lambda: self.config, self.plugins
        )
        """``POST /api/impedance``: pauses the acquisition to measure the electrodes."""
        self.selftest.peers, self.impedance.peers = (self.impedance,), (self.selftest,)
        self.plugin_options: dict[str, dict[str, Any]] = {
            name: config.plugin_options(name) for name in config.plugins
        }
        """Each plugin's options now; changes at run time survive a plugin restart."""
        self._classes = {name: self._plugin_class(name) for name in config.plugins}
        self._routes = [
            (name, route)
            for name, plugin_class in self._classes.items()
            for route in plugin_routes(plugin_class)
        ]
        self._routes += [
            (
                SOURCE_ROUTES,
                Route(
                    "GET",
                    "/api/source",
                    lambda _request: self.source_state(),
                    role="viewer",
                    command=Command.SOURCE_STATE,
                ),
            ),
            (
                SOURCE_ROUTES,
                Route(
                    "PUT",
                    "/api/source",
                    self._put_source,
                    role="operator",
                    command=Command.SOURCE_CHANGE,
                ),
            ),
            (KIOSK_ROUTES, Route("GET", "/api/kiosk", lambda _r: config.kiosk.state(), "viewer")),
        ]
        self._rates = self._frame_rates(config.source.sample_rate)
        self.connections = ConnectionManager(
            self.bus,
            frame_rates=self._rates,
            settings=config.server.connection_settings(),
            topics=TopicRegistry.of_plugins(
                (name, plugin_class.produces) for name, plugin_class in self._classes.items()
            ),
        )
        self.metrics = Metrics(self.metrics_snapshot)
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

    def _frame_rates(self, sample_rate: float) -> dict[Topic, float]:
        """Frames per second of each topic, to size client queues in seconds."""
        packets = sample_rate / self.config.source.batch_size
        return {
            Topic.RAW_EEG: packets,
            Topic.FILTERED_EEG: packets,
            Topic.FFT: 1.0 / self.config.spectrum.hop_s,
            Topic.SYSTEM: 1.0,
            Topic.MARKER: 1.0,
        }

    def _open_source(self) -> Source:
        """A fresh source of the configured kind, from the source registry.

        Client queues are sized for its own rate from here on (a device's facts win).
        """
        source = self.config.build_source()
        self._rates.update(self._frame_rates(source.sample_rate))
        return source

    def _plugin_class(self, name: str) -> PluginClass:
        """The class of plugin ``name``; raises ``PluginError`` (or ``ConfigError``) early."""
        plugin_class = load_plugin_class(name)
        plugin_class.from_options(self.plugin_options[name])  # bad options fail the start
        return plugin_class

    def _plugin_task(self, name: str) -> Callable[[], Coroutine[Any, Any, None]]:
        def start() -> Coroutine[Any, Any, None]:
            options = self.plugin_options[name]
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
        self.supervisor.add(STATUS_TASK, self.report_status)
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
        finalized) and close clients with 1001, within 2 s."""
        self.notifier.notify("STOPPING=1")
        self.bus.publish(SystemEvent.now(SystemEventKind.SHUTDOWN))
        await self.supervisor.stop(timeout=2.0)
        await self.server.stop()

    async def report_status(self) -> None:
        """Log the status line every ``[log] status_interval_s`` until cancelled."""
        previous = self.snapshot()
        while True:
            await asyncio.sleep(self.config.log.status_interval_s)
            current = self.snapshot()
            logger.info("%s", self.status_line(previous, current))
            previous = current

    def status(self) -> dict[str, Any]:
        """Everything /api/status reports: source, ledger, clients, tasks."""
        source = self.config.source
        session = self.acquisition.session
        bus = self.bus.stats()
        plugins = self.plugin_stats()
        return {
            "source": {
                "kind": source.kind,
                "sample_rate": session.sample_rate if session else source.sample_rate,
                "channels": list(session.channel_names) if session else None,
                "batch_size": source.batch_size,
                "session": session.id if session else None,
                "physical_range": (
                    [list(span) for span in session.physical_range]
                    if session and session.physical_range is not None
                    else None
                ),
                "selftest": self.selftest.supported(),
                "impedance": {
                    "supported": self.impedance.supported(),
                    "last": self.impedance.last,
                },
            },
            "uptime_s": round(time.monotonic() - self.started_monotonic, 3),
            "asyncio_tasks": len(asyncio.all_tasks()),
            "ledger": self.ledger_status(),
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
            "access": self.server.access_stats(),
            "plugins": plugins,
            "spectra_computed": sum(stats.get("spectra_computed", 0) for stats in plugins.values()),
            "tasks": [
                {
                    "name": status.name,
                    "state": status.state.value,
                    "restarts": status.restarts,
                    "failures": status.failures,
                    "last_error": status.last_error,
                    "retry_in_s": None if status.retry_in is None else round(status.retry_in, 3),
                }
                for status in self.supervisor.statuses()
            ],
            "degraded": self.degraded(),
        }

    def ledger_status(self) -> dict[str, Any]:
        """``/api/status`` → ``ledger``: flat totals over every session since the start,
        the running session (``session``) and the last few (``sessions``), each with its
        gaps; ``consistent`` says that every one has ``expected = acquired + lost`` within
        one packet; then what each consumer got: every plugin's bus subscriptions
        (``consumers``: the recorder, the LSL outlet...) and every connected client
        (``clients``), delivered and dropped (docs/protocol.md, "The sample ledger")."""
        stats = self.acquisition.stats()
        ledgers = self.acquisition.ledgers()
        return {
            "samples_expected": stats.samples_expected,
            "samples_acquired": stats.samples_acquired,
            "samples_lost": stats.samples_lost,
            "frames_published": stats.frames_published,
            "blocks_rejected": stats.blocks_rejected,
            "outages": stats.outages,
            "session_count": stats.sessions,
            "consistent": self.ledger_consistent(),
            "session": ledgers[-1].as_json() if ledgers else None,
            "sessions": [ledger.as_json() for ledger in ledgers],
            "samples_recorded": self.plugin_stats().get("recorder", {}).get("samples_written"),
            "consumers": [
                {
                    "name": consumer.name,
                    "topics": list(consumer.topics),
                    "delivered": consumer.delivered,
                    "dropped": consumer.dropped,
                    "queued": consumer.queued,
                    "capacity": consumer.capacity,
                }
                for consumer in self.bus.consumers()
            ],
            "clients": self.connections.client_ledger(),
        }

    def ledger_consistent(self) -> bool:
        """Whether every session kept has ``expected = acquired + lost`` within one packet."""
        return all(ledger.consistent for ledger in self.acquisition.ledgers())

    def degraded(self) -> list[dict[str, Any]]:
        """The parts not working now: tasks backing off (with the seconds until their retry,
        the acquisition among them while its source is away) or given up; empty when all is
        well, and plugins that run but cannot do their job (a recorder whose directory cannot
        be used). The kiosk shows it (docs/protocol.md, "Degraded parts")."""
        problems = [
            {"task": name, "state": "degraded", "failures": 0, "error": problem, "retry_in_s": None}
            for name, plugin in self.plugins.items()
            if isinstance(plugin, ReportsProblem) and (problem := plugin.problem()) is not None
        ]
        return problems + [
            {
                "task": status.name,
                "state": status.state.value,
                "failures": status.failures,
                "error": status.last_error,
                "retry_in_s": None if status.retry_in is None else round(status.retry_in, 3),
            }
            for status in self.supervisor.statuses()
            if status.state in (TaskState.BACKING_OFF, TaskState.GAVE_UP)
        ]

    def metrics_snapshot(self) -> MetricsSnapshot:
        """The counters one ``/metrics`` scrape reads: those of ``status()``."""
        session = self.acquisition.session
        return MetricsSnapshot(
            acquisition=self.acquisition.stats(),
            bus=self.bus.stats(),
            clients=self.connections.stats(),
            clients_per_route=self.connections.clients_per_route(),
            client_drops=self.connections.client_drops(),
            tasks=self.supervisor.statuses(),
            source_kind=self.config.source.kind,
            session=session.id if session else None,
            sample_rate=session.sample_rate if session else self.config.source.sample_rate,
            plugins=self.plugin_stats(),
            ledger_consistent=self.ledger_consistent(),
            consumers=self.bus.consumers(),
            samples_recorded=self.plugin_stats().get("recorder", {}).get("samples_written"),
            http={
                **self.server.guard.stats.as_dict(),
                "malformed_requests": self.server.aiohttp_log.count,
            },
        )

    def source_state(self) -> dict[str, Any]:
        """``GET /api/source``: the ``[source]`` settings as written, what its kind lets one
        choose (``choices``: the rates and the channel range, null where the device says
        them), and the session now."""
        session = self.acquisition.session
        return {
            "settings": self.config.source.as_written(),
            "choices": self.config.source.choices().as_json(),
            "session": None
            if session is None
            else {
                "id": session.id,
                "sample_rate": session.sample_rate,
                "channels": list(session.channel_names),
            },
        }

    async def update_source(self, changes: Mapping[str, Any]) -> dict[str, Any]:
        """Switch to the source ``changes`` describe, merged into the running settings.

        A bad table raises ``ConfigError`` naming the key before anything stops. Otherwise
        ``config_changed`` is published, the acquisition restarts on the new source (a new
        session; frame ids start again, no sample counts as lost) and this returns once it
        is open, or after ``SOURCE_SWITCH_TIMEOUT_S`` if it cannot open (the supervisor's
        back-off then retries it, and ``task_failed`` says why). One change runs at a time:
        another one meanwhile is ``RequestRefused`` (409).
        """
        if self._switching.locked():
            raise RequestRefused(
                409, "busy", "a source change is under way; send this one once it is done"
            )
        async with self._switching:
            return await self._switch_source(changes)

    async def _switch_source(self, changes: Mapping[str, Any]) -> dict[str, Any]:
        # Building the new source may read a file (playback): off the event loop.
        config = await asyncio.to_thread(self.config.with_source, changes)
        self.config = msgspec.structs.replace(self.config, source=config.source)
        self.acquisition.reconfigure(
            config.source.batch_size, config.source.kind, config.source.stall_timeout_s
        )
        settings = config.source.as_written()
        self.bus.publish(SystemEvent.now(SystemEventKind.CONFIG_CHANGED, source=settings))
        self.playback.release()  # a paused playback goes on with the settings now in force
        logger.info("source changed: %s", settings)
        started = asyncio.ensure_future(self.acquisition.next_session())
        try:
            await self.supervisor.restart(ACQUISITION_TASK)
            await asyncio.wait([started], timeout=SOURCE_SWITCH_TIMEOUT_S)
        finally:
            started.cancel()
        return self.source_state()

    async def _put_source(self, request: RouteRequest) -> dict[str, Any]:
        return await self.update_source(request.body)

    def plugin_stats(self) -> dict[str, dict[str, int]]:
        """Each running plugin's counters, for those that keep any."""
        return {
            name: dict(plugin.stats())
            for name, plugin in self.plugins.items()
            if isinstance(plugin, ReportsStats)
        }

    def routes(self) -> list[tuple[str, Route]]:
        """The HTTP routes the plugins contribute, each with the plugin's name (the
        daemon's own among them), ``POST /api/selftest``, ``POST /api/impedance`` and the
        playback routes."""
        playback = [(PLAYBACK_ROUTES, route) for route in self.playback.routes()]
        return [
            *self._routes,
            ("selftest", self.selftest.route()),
            ("impedance", self.impedance.route()),
            *playback,
        ]

    def plugin_state(self, plugin: str) -> dict[str, Any]:
        """Plugin ``plugin``'s options now (``GET /api/filter`` for the voltage filter)."""
        return dict(self._options_of(plugin))

    def reconfigure(self, plugin: str, changes: Mapping[str, Any]) -> dict[str, Any]:
        """Change plugin ``plugin`` while running (``PUT /api/filter`` for the voltage filter).

        The plugin checks ``changes`` itself: unknown keys and bad values raise
        ``ConfigError`` and change nothing. The new state is kept for the plugin's next
        restart, and a ``config_changed`` event tells every client.
        """
        options = self._options_of(plugin)
        instance = self.plugins.get(plugin) or self._classes[plugin].from_options(options)
        if not isinstance(instance, Reconfigurable):
            raise ConfigError(f"plugin {plugin!r}: its options cannot change while it runs")
        state = dict(instance.reconfigure(changes))
        self.plugin_options[plugin] = state
        table = self.config.plugin_table(plugin)
        self.bus.publish(
            SystemEvent.now(SystemEventKind.CONFIG_CHANGED, plugin=plugin, **{table: state})
        )
        logger.info("plugin %s changed: %s", plugin, state)
        return dict(state)

    def plugin_instance(self, plugin: str) -> Plugin | None:
        """The running instance of plugin ``plugin`` (None before its task first starts)."""
        return self.plugins.get(plugin)

    def _options_of(self, plugin: str) -> dict[str, Any]:
        options = self.plugin_options.get(plugin)
        if options is None:
            running = ", ".join(self.plugin_options) or "none"
            raise ConfigError(f"plugin {plugin!r}: not running (running: {running})")
        return options

    def reload(self, config: Config) -> None:
        """Apply a reloaded configuration: the options of every plugin that can change while
        running, and the log level, now; the rest at the next restart."""
        live = [name for name, cls in self._classes.items() if hasattr(cls, "reconfigure")]
        for name in live:
            if config.plugin_options(name) != self.config.plugin_options(name):
                self.reconfigure(name, config.plugin_options(name))
        if config.log.level != self.config.log.level:
            logging.getLogger().setLevel(config.log.level.upper())
        auth = self.server.reload_auth(config.auth)
        tables = {self.config.plugin_table(name) for name in live}
        applied: dict[str, Any] = {"log": config.log, "auth": auth}
        applied.update({table: getattr(config, table) for table in tables if "." not in table})
        names = {table.removeprefix("plugin.") for table in tables if table.startswith("plugin.")}
        applied["plugin"] = {
            **{key: value for key, value in self.config.plugin.items() if key not in names},
            **{key: value for key, value in config.plugin.items() if key in names},
        }
        current = msgspec.structs.replace(self.config, **applied)
        later = [
            name
            for name in msgspec.structs.asdict(config)
            if getattr(config, name) != getattr(current, name)
        ]
        if later:
            logger.warning(
                "reloaded the configuration; changes to %s apply at the next restart",
                ", ".join(later),
            )
        else:
            logger.info("reloaded the configuration")
        self.config = current

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
    daemon = Daemon(config, notifier=Notifier.from_environment())
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
    try:
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=config.log.status_interval_s)
            if daemon.acquisition_gave_up():
                logger.error("the source failed too often; giving up")
                exit_code = 1
                break
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            loop.remove_signal_handler(signum)
        await daemon.stop()
    return exit_code
