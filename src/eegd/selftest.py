"""``POST /api/selftest`` and ``POST /api/impedance``: the running daemon checks its own
source between two sessions.

The source must be free for the test, so the acquisition task is paused through the
supervisor (its source closed, its session over), the kind's self-test runs in a worker
thread, and the task starts again: a new session, whose hello every client gets. The test
is refused (409) while a recording is in progress, while another check runs, and for a
source kind that has no such check (a source class offers its checks: ``Source.selftest``,
``Source.impedance_check``) or whose configured device has none (a ``DeviceCheck`` says
why: BrainFlow measures a Cyton's electrodes, not a Muse's). ``selftest_started`` and
``selftest_finished`` (with the verdict) go to every client as ``system`` events; the reply
is the result itself (``eegd.sources.ads1299.selftest.SelfTestResult.as_dict``). The
impedance check works the same way, with ``impedance_started`` and ``impedance_finished``;
its last result stays in ``/api/status`` (``source.impedance.last``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from typing import Any, ClassVar, Protocol, runtime_checkable

from eegd.bus import EventBus
from eegd.errors import EegdError, RequestRefused
from eegd.events import SystemEvent, SystemEventKind
from eegd.plugin import Plugin, Records
from eegd.routes import Route, RouteRequest
from eegd.sources.base import SharedSourceOptions, Source
from eegd.sources.checks import CheckReport
from eegd.sources.registry import available_kinds, load_source_class
from eegd.supervisor import Supervisor

__all__ = [
    "Configured",
    "DeviceCheck",
    "ImpedanceService",
    "SelfTestService",
    "SourceSettings",
    "kinds_offering",
]

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


@runtime_checkable
class DeviceCheck(Protocol):
    """A check that only some devices of a source kind have (``Source.impedance_check``)."""

    def __call__(self, shared: SharedSourceOptions, options: Mapping[str, Any]) -> CheckReport:
        """Run the check on the device the tables describe."""

    def refusal(self, shared: SharedSourceOptions, options: Mapping[str, Any]) -> str | None:
        """Why the device the tables describe has no such check, naming it; None if it has."""


def _selftest(source_class: type[Source]) -> Callable[[SourceSettings], CheckReport] | None:
    """The class's self-test on the configured tables, if it has one."""
    test = source_class.selftest
    if test is None:
        return None
    return lambda source: test(source.shared(), source.options.get(source.kind, {}), False)


def _impedance(source_class: type[Source]) -> Callable[[SourceSettings], CheckReport] | None:
    """The class's impedance check on the configured tables, if it has one."""
    check = source_class.impedance_check
    if check is None:
        return None
    return lambda source: check(source.shared(), source.options.get(source.kind, {}))


def kinds_offering(capability: Callable[[type[Source]], object | None]) -> list[str]:
    """The installed source kinds whose class offers ``capability`` (e.g. a self-test)."""
    kinds = []
    for kind in available_kinds():
        try:
            if capability(load_source_class(kind)) is not None:
                kinds.append(kind)
        except EegdError:
            continue  # a kind that does not load offers nothing
    return kinds


class SelfTestService:
    """Runs the self-test of the configured source while the daemon serves on.

    ``config`` gives the configuration now (it may change while running), ``plugins`` the
    running plugin instances (a ``Records`` plugin that is recording refuses the test), and
    ``task`` names the supervised acquisition task that holds the source. ``peers`` are
    the other checks that pause it: none runs while another does.
    """

    what: ClassVar[str] = "self-test"
    code: ClassVar[str] = "selftest"
    path: ClassVar[str] = "/api/selftest"
    started: ClassVar[SystemEventKind] = SystemEventKind.SELFTEST_STARTED
    finished: ClassVar[SystemEventKind] = SystemEventKind.SELFTEST_FINISHED

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
        """Whether this check is under way."""
        self.peers: tuple[SelfTestService, ...] = ()
        self.last: dict[str, Any] | None = None
        """The last result, as the reply gave it."""

    def supported(self) -> bool:
        """Whether the configured source has this check."""
        source = self._config().source
        return self._check(source.kind) is not None and self.refusal(source) is None

    def refusal(self, source: SourceSettings) -> str | None:
        """Why the configured device has no such check though its kind has: None here."""
        return None

    def offered_by(
        self, source_class: type[Source]
    ) -> Callable[[SourceSettings], CheckReport] | None:
        """The check a source class offers (its capability), on the configured tables."""
        return _selftest(source_class)

    def _check(self, kind: str) -> Callable[[SourceSettings], CheckReport] | None:
        """The check of source kind ``kind``; None for a kind without it (or none at all)."""
        try:
            return self.offered_by(load_source_class(kind))
        except EegdError:
            return None

    def route(self) -> Route:
        """``POST`` on the check's path, for operators."""

        async def handle(_request: RouteRequest) -> dict[str, Any]:
            return await self.run()

        return Route("POST", self.path, handle, role="operator")

    def _recording(self) -> str | None:
        for plugin in self._plugins.values():
            if isinstance(plugin, Records) and plugin.recording is not None:
                return plugin.recording
        return None

    async def run(self) -> dict[str, Any]:
        """End the session, test the source, start a new session; the result.

        ``RequestRefused``: 409 ``no_<code>`` for a kind without the check (naming it),
        409 ``recording`` during a recording, 409 ``<code>_running`` during this or
        another check, and 503 ``<code>_error`` when it could not run (the source could
        not be opened).
        """
        source = self._config().source
        test = self._check(source.kind)
        if test is None:
            raise RequestRefused(
                409,
                f"no_{self.code}",
                f"the {source.kind} source has no {self.what} "
                f"(sources with one: {', '.join(kinds_offering(self.offered_by)) or 'none'})",
            )
        refusal = self.refusal(source)
        if refusal is not None:
            raise RequestRefused(409, f"no_{self.code}", refusal)
        for check in (self, *self.peers):
            if check.running:
                raise RequestRefused(
                    409, f"{self.code}_running", f"a {check.what} is running; wait for it"
                )
        recording = self._recording()
        if recording is not None:
            raise RequestRefused(
                409, "recording", f"recording {recording} is in progress; stop it first"
            )
        self.running = True
        try:
            self._publish(self.started, source=source.kind)
            logger.info("%s of the %s source: the session ends for it", self.what, source.kind)
            async with self._supervisor.paused(self._task):
                try:
                    report = await asyncio.to_thread(test, source)
                except EegdError as exc:
                    self._publish(self.finished, passed=False, error=str(exc))
                    logger.error("%s could not run: %s", self.what, exc)
                    raise RequestRefused(
                        503, f"{self.code}_error", f"the {self.what} could not run: {exc}"
                    ) from exc
        finally:
            self.running = False
        result = report.as_dict()
        self.last = result
        summary = self.summary(result)
        self._publish(self.finished, source=source.kind, **summary)
        logger.info("%s done: %s", self.what, summary)
        return result

    def summary(self, result: dict[str, Any]) -> dict[str, Any]:
        """What the finished event says of a result: the verdict and the failed channels."""
        failed = [channel["name"] for channel in result["channels"] if not channel["passed"]]
        return {"passed": result["passed"], "channels": len(result["channels"]), "failed": failed}

    def _publish(self, kind: SystemEventKind, **detail: Any) -> None:
        self._bus.publish(SystemEvent.now(kind, **detail))


class ImpedanceService(SelfTestService):
    """``POST /api/impedance``: each electrode's impedance, between two sessions.

    Like the self-test it ends the session, measures with the source to itself and starts
    a new one; its last result is kept for ``/api/status`` and, through the finished event,
    for the sidecar of every recording started after it.
    """

    what = "impedance check"
    code = "impedance"
    path = "/api/impedance"
    started = SystemEventKind.IMPEDANCE_STARTED
    finished = SystemEventKind.IMPEDANCE_FINISHED

    def offered_by(
        self, source_class: type[Source]
    ) -> Callable[[SourceSettings], CheckReport] | None:
        """The source class's impedance check, on the configured tables."""
        return _impedance(source_class)

    def refusal(self, source: SourceSettings) -> str | None:
        """Why the configured device cannot measure impedance though its kind can (a
        BrainFlow board that is not a Cyton), naming it; None if it can."""
        try:
            check = load_source_class(source.kind).impedance_check
            if not isinstance(check, DeviceCheck):
                return None
            return check.refusal(source.shared(), source.options.get(source.kind, {}))
        except EegdError as exc:
            return f"the {source.kind} source cannot measure impedance: {exc}"

    def summary(self, result: dict[str, Any]) -> dict[str, Any]:
        """The whole result: the recorder keeps it for the sidecars of later recordings."""
        return result
