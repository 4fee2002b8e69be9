"""``POST /api/selftest``: the running daemon tests its own source between two sessions.

The source must be free for the test, so the acquisition task is paused through the
supervisor (its source closed, its session over), the kind's self-test runs in a worker
thread, and the task starts again: a new session, whose hello every client gets. The test
is refused (409) while a recording is in progress, while another test runs, and for a
source kind that has no self-test. ``selftest_started`` and ``selftest_finished`` (with the
verdict) go to every client as ``system`` events; the reply is the result itself
(``eegd.sources.ads1299.selftest.SelfTestResult.as_dict``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from typing import Any, Final, Protocol

from eegd.bus import EventBus
from eegd.errors import EegdError, RequestRefused
from eegd.events import SystemEvent, SystemEventKind
from eegd.plugin import Plugin, Records, Route, RouteRequest
from eegd.sources.base import SharedSourceOptions
from eegd.supervisor import Supervisor

__all__ = ["SELFTEST_KINDS", "Configured", "SelfTestService", "SourceSettings"]

logger = logging.getLogger(__name__)


class SourceSettings(Protocol):
    """The ``[source]`` table as the configuration holds it (``eegd.config.SourceSection``)."""

    @property
    def kind(self) -> str:
        """The source kind."""

    @property
    def options(self) -> Mapping[str, Mapping[str, Any]]:
        """Each kind's own table, by kind."""

    def shared(self) -> SharedSourceOptions:
        """The keys every source shares."""


class Configured(Protocol):
    """The daemon's configuration now (``eegd.config.Config``): its ``[source]`` table."""

    @property
    def source(self) -> SourceSettings:
        """The ``[source]`` table."""


def _ads1299(source: SourceSettings) -> dict[str, Any]:
    from eegd.sources.ads1299.selftest import run_configured_selftest

    result = run_configured_selftest(source.shared(), source.options.get("ads1299", {}))
    return result.as_dict()


#: The source kinds with a self-test: each takes the ``[source]`` section and answers with
#: the JSON-ready result (``passed``, ``sample_rate``, ``channels``).
SELFTEST_KINDS: Final[Mapping[str, Callable[[SourceSettings], dict[str, Any]]]] = {
    "ads1299": _ads1299,
}


class SelfTestService:
    """Runs the self-test of the configured source while the daemon serves on.

    ``config`` gives the configuration now (it may change while running), ``plugins`` the
    running plugin instances (a ``Records`` plugin that is recording refuses the test), and
    ``task`` names the supervised acquisition task that holds the source.
    """

    def __init__(
        self,
        bus: EventBus,
        supervisor: Supervisor,
        task: str,
        config: Callable[[], Configured],
        plugins: Mapping[str, Plugin],
    ) -> None:
        self._bus = bus
        self._supervisor = supervisor
        self._task = task
        self._config = config
        self._plugins = plugins
        self.running = False
        """Whether a self-test is under way."""

    def supported(self) -> bool:
        """Whether the configured source kind has a self-test."""
        return self._config().source.kind in SELFTEST_KINDS

    def route(self) -> Route:
        """``POST /api/selftest``, for operators."""

        async def handle(_request: RouteRequest) -> dict[str, Any]:
            return await self.run()

        return Route("POST", "/api/selftest", handle, role="operator")

    def _recording(self) -> str | None:
        for plugin in self._plugins.values():
            if isinstance(plugin, Records) and plugin.recording is not None:
                return plugin.recording
        return None

    async def run(self) -> dict[str, Any]:
        """End the session, test the source, start a new session; the result.

        ``RequestRefused``: 409 ``no_selftest`` for a kind without one, 409 ``recording``
        during a recording, 409 ``selftest_running`` during another test, and 503
        ``selftest_error`` when the test could not run (the source could not be opened).
        """
        source = self._config().source
        test = SELFTEST_KINDS.get(source.kind)
        if test is None:
            raise RequestRefused(
                409,
                "no_selftest",
                f"the {source.kind} source has no self-test "
                f"(sources with one: {', '.join(SELFTEST_KINDS)})",
            )
        if self.running:
            raise RequestRefused(409, "selftest_running", "a self-test is running; wait for it")
        recording = self._recording()
        if recording is not None:
            raise RequestRefused(
                409, "recording", f"recording {recording} is in progress; stop it first"
            )
        self.running = True
        try:
            self._publish(SystemEventKind.SELFTEST_STARTED, source=source.kind)
            logger.info("self-test of the %s source: the session ends for it", source.kind)
            async with self._supervisor.paused(self._task):
                try:
                    result = await asyncio.to_thread(test, source)
                except EegdError as exc:
                    self._publish(SystemEventKind.SELFTEST_FINISHED, passed=False, error=str(exc))
                    logger.error("self-test could not run: %s", exc)
                    raise RequestRefused(
                        503, "selftest_error", f"the self-test could not run: {exc}"
                    ) from exc
        finally:
            self.running = False
        failed = [channel["name"] for channel in result["channels"] if not channel["passed"]]
        self._publish(
            SystemEventKind.SELFTEST_FINISHED,
            source=source.kind,
            passed=result["passed"],
            channels=len(result["channels"]),
            failed=failed,
        )
        logger.info("self-test %s", "passed" if result["passed"] else f"FAILED: {failed}")
        return result

    def _publish(self, kind: SystemEventKind, **detail: Any) -> None:
        self._bus.publish(SystemEvent.now(kind, **detail))
