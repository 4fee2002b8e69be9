"""Run-time changes: ``GET`` and ``PUT /api/source``, a plugin's ``reconfigure`` through its
routes, and SIGHUP's reload.

``RuntimeChanges`` holds the configuration in force and each plugin's options now: a
change made while running survives the restart of the part it changed (the supervisor
builds a restarted plugin from them). Every change is announced with ``config_changed``.
``PUT /api/source`` merges a partial table into the running settings, checks the result as
a file is checked before anything stops, then restarts the acquisition on the new source: a
new session, whose hello every client gets, and plugins that reset for its rate; the switch
is not a loss of samples.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from typing import Any

import msgspec

from eegd.acquisition.loop import AcquisitionLoop
from eegd.bus import EventBus
from eegd.commands import Command
from eegd.config import Config
from eegd.errors import ConfigError, RequestRefused
from eegd.events import SystemEvent, SystemEventKind
from eegd.net.security.tokens import AuthSettings
from eegd.plugin import Plugin, PluginClass, Reconfigurable
from eegd.routes import Route, RouteRequest
from eegd.runtime.playback import PlaybackControl
from eegd.supervisor import Supervisor

__all__ = ["SOURCE_SWITCH_TIMEOUT_S", "RuntimeChanges"]

logger = logging.getLogger("eegd")

#: How long ``PUT /api/source`` waits for the new source to open before it answers anyway.
SOURCE_SWITCH_TIMEOUT_S = 5.0


class RuntimeChanges:
    """The configuration in force and the changes made to it while the daemon runs."""

    def __init__(
        self,
        config: Config,
        *,
        bus: EventBus,
        supervisor: Supervisor,
        acquisition: AcquisitionLoop,
        acquisition_task: str,
        plugins: Mapping[str, Plugin],
        classes: Mapping[str, PluginClass],
        reload_auth: Callable[[AuthSettings], AuthSettings],
    ) -> None:
        self.config = config
        """The configuration in force: the file's, with the changes made since."""
        self.plugin_options: dict[str, dict[str, Any]] = {
            name: config.plugin_options(name) for name in classes
        }
        """Each plugin's options now; changes at run time survive a plugin restart."""
        self._bus = bus
        self._supervisor = supervisor
        self._acquisition = acquisition
        self._task = acquisition_task
        self._plugins = plugins
        self._classes = classes
        self._reload_auth = reload_auth
        self._switching = asyncio.Lock()
        """Held while ``update_source`` switches the source."""
        self.playback = PlaybackControl(
            lambda: (
                self.config.source.options.get("playback", {})
                if self.config.source.kind == "playback"
                else None
            ),
            lambda: self.config.source.file_directories,
            self.update_source,
            supervisor,
            acquisition,
            acquisition_task,
        )
        """``GET`` and ``PUT /api/playback``: pause, seek, speed, loop, another file."""

    def source_routes(self) -> list[Route]:
        """``GET`` and ``PUT /api/source``."""
        return [
            Route(
                "GET",
                "/api/source",
                lambda _request: self.source_state(),
                role="viewer",
                command=Command.SOURCE_STATE,
            ),
            Route(
                "PUT",
                "/api/source",
                self._put_source,
                role="operator",
                command=Command.SOURCE_CHANGE,
            ),
        ]

    def source_state(self) -> dict[str, Any]:
        """``GET /api/source``: the ``[source]`` settings as written, what its kind lets one
        choose (``choices``: the rates and the channel range, null where the device says
        them), and the session now."""
        session = self._acquisition.session
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
        self._acquisition.reconfigure(
            config.source.batch_size, config.source.kind, config.source.stall_timeout_s
        )
        settings = config.source.as_written()
        self._bus.publish(SystemEvent.now(SystemEventKind.CONFIG_CHANGED, source=settings))
        self.playback.release()  # a paused playback goes on with the settings now in force
        logger.info("source changed: %s", settings)
        started = asyncio.ensure_future(self._acquisition.next_session())
        try:
            await self._supervisor.restart(self._task)
            await asyncio.wait([started], timeout=SOURCE_SWITCH_TIMEOUT_S)
        finally:
            started.cancel()
        return self.source_state()

    async def _put_source(self, request: RouteRequest) -> dict[str, Any]:
        return await self.update_source(request.body)

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
        instance = self._plugins.get(plugin) or self._classes[plugin].from_options(options)
        if not isinstance(instance, Reconfigurable):
            raise ConfigError(f"plugin {plugin!r}: its options cannot change while it runs")
        state = dict(instance.reconfigure(changes))
        self.plugin_options[plugin] = state
        table = self.config.plugin_table(plugin)
        self._bus.publish(
            SystemEvent.now(SystemEventKind.CONFIG_CHANGED, plugin=plugin, **{table: state})
        )
        logger.info("plugin %s changed: %s", plugin, state)
        return dict(state)

    def _options_of(self, plugin: str) -> dict[str, Any]:
        options = self.plugin_options.get(plugin)
        if options is None:
            running = ", ".join(self.plugin_options) or "none"
            raise ConfigError(f"plugin {plugin!r}: not running (running: {running})")
        return options

    def reload(self, config: Config) -> None:
        """Apply a reloaded configuration: the options of every plugin that can change while
        running, the log level and the ``[auth]`` tokens, now; the rest at the next restart."""
        live = [name for name, cls in self._classes.items() if hasattr(cls, "reconfigure")]
        for name in live:
            if config.plugin_options(name) != self.config.plugin_options(name):
                self.reconfigure(name, config.plugin_options(name))
        if config.log.level != self.config.log.level:
            logging.getLogger().setLevel(config.log.level.upper())
        auth = self._reload_auth(config.auth)
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
