"""Runs every long-lived component as a task and restarts it after a crash.

Each task is a factory that returns a fresh coroutine per (re)start: a plugin's ``run(ctx)``,
the acquisition loop, the network server. A crash (any ``Exception``, from the factory or the
coroutine) is retried after an exponential, jittered back-off; after ``max_retries``
consecutive crashes the supervisor gives up on that task. Every step is published on the bus
as a ``SystemEvent`` and logged, and one task's crash never touches another task.
Cancellation is never a crash: it is how ``stop()`` ends the tasks.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
import random as stdlib_random
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Final

from eegd.bus import EventBus
from eegd.clock import SYSTEM_CLOCK, Clock
from eegd.errors import EegdError
from eegd.events import SystemEvent, SystemEventKind
from eegd.restart import RestartPolicy

__all__ = [
    "DEFAULT_POLICY",
    "Supervisor",
    "TaskFactory",
    "TaskState",
    "TaskStatus",
]

#: Builds a fresh coroutine for each (re)start of a supervised task.
TaskFactory = Callable[[], Awaitable[None]]


#: The policy a supervisor applies unless told otherwise.
DEFAULT_POLICY: Final = RestartPolicy()


class TaskState(enum.StrEnum):
    """Where a supervised task is in its life."""

    STARTING = "starting"
    """Registered or about to be (re)started."""
    RUNNING = "running"
    """Its coroutine is running."""
    BACKING_OFF = "backing_off"
    """It crashed and waits for its restart."""
    FINISHED = "finished"
    """Its coroutine returned normally; it is not restarted."""
    GAVE_UP = "gave_up"
    """It crashed more than ``max_retries`` times in a row; it is not restarted."""
    STOPPED = "stopped"
    """It was cancelled, normally by ``Supervisor.stop()``."""
    PAUSED = "paused"
    """It was stopped by ``Supervisor.paused()`` and starts again when that block ends."""


_ENDED: Final = frozenset({TaskState.FINISHED, TaskState.GAVE_UP, TaskState.STOPPED})


@dataclass(frozen=True, slots=True)
class TaskStatus:
    """A snapshot of one supervised task, for status pages and metrics.

    ``restarts`` counts every restart since registration, ``failures`` the consecutive
    crashes that the back-off is currently based on. ``retry_in`` is, while it backs off,
    the seconds left until its restart.
    """

    name: str
    state: TaskState
    restarts: int
    failures: int
    last_error: str | None
    retry_in: float | None = None


class _Task:
    """The supervisor's mutable record of one task."""

    __slots__ = (
        "factory",
        "on_pause",
        "failures",
        "last_error",
        "name",
        "policy",
        "restarts",
        "retry_at",
        "runner",
        "state",
    )

    def __init__(
        self,
        name: str,
        factory: TaskFactory,
        policy: RestartPolicy,
        on_pause: Callable[[], None] | None,
    ) -> None:
        self.name = name
        self.factory = factory
        self.on_pause = on_pause
        self.policy = policy
        self.state = TaskState.STARTING
        self.restarts = 0
        self.failures = 0
        self.last_error: str | None = None
        self.retry_at: float | None = None
        self.runner: asyncio.Task[None] | None = None

    def status(self, now: float) -> TaskStatus:
        retry_in = None
        if self.state is TaskState.BACKING_OFF and self.retry_at is not None:
            retry_in = max(0.0, self.retry_at - now)
        return TaskStatus(
            self.name, self.state, self.restarts, self.failures, self.last_error, retry_in
        )


class Supervisor:
    """Starts registered tasks, restarts them after crashes, and stops them all on shutdown.

    ``clock`` and ``random`` (uniform draws in [0, 1) for the jitter) are injectable so
    tests run the back-off in virtual time and deterministically.
    """

    def __init__(
        self,
        bus: EventBus,
        policy: RestartPolicy = DEFAULT_POLICY,
        clock: Clock = SYSTEM_CLOCK,
        random: Callable[[], float] = stdlib_random.random,
        logger: logging.Logger | None = None,
    ) -> None:
        self._bus = bus
        self._policy = policy
        self._clock = clock
        self._random = random
        self._logger = logger if logger is not None else logging.getLogger(__name__)
        self._tasks: dict[str, _Task] = {}
        self._started = False
        self._stopped = False

    def add(
        self,
        name: str,
        factory: TaskFactory,
        policy: RestartPolicy | None = None,
        on_pause: Callable[[], None] | None = None,
    ) -> None:
        """Register ``factory`` as the task ``name``, with its own ``policy`` if given.

        ``factory()`` is called at every (re)start and must return a fresh coroutine. A task
        added after ``start()`` starts at once. ``on_pause`` is called once a ``paused()``
        block has stopped it (the acquisition ends its session there).
        """
        if name in self._tasks:
            raise ValueError(f"a task named {name!r} is already supervised")
        if self._stopped:
            raise RuntimeError(f"cannot add task {name!r}: the supervisor is stopped")
        task = _Task(name, factory, policy if policy is not None else self._policy, on_pause)
        self._tasks[name] = task
        if self._started:
            self._launch(task)

    def start(self) -> None:
        """Start every registered task; must be called from a running event loop."""
        asyncio.get_running_loop()
        if self._started or self._stopped:
            raise RuntimeError("the supervisor can only be started once")
        self._started = True
        for task in self._tasks.values():
            self._launch(task)

    def status(self, name: str) -> TaskStatus:
        """A snapshot of the task ``name``; ``KeyError`` if there is none."""
        return self._tasks[name].status(self._clock.monotonic())

    def statuses(self) -> list[TaskStatus]:
        """Snapshots of every task, in the order they were added."""
        now = self._clock.monotonic()
        return [task.status(now) for task in self._tasks.values()]

    async def restart(self, name: str) -> None:
        """Stop task ``name`` and start it afresh: a change of its settings, not a crash.

        Its coroutine is cancelled and awaited (the new one never overlaps the old), its run
        of consecutive failures forgotten, and ``task_restarted`` published with
        ``reason: "reconfigured"``. A paused task is left paused: it starts with its new
        settings when the pause ends. ``KeyError`` if there is no such task.
        """
        task = self._tasks[name]
        if not self._started or self._stopped:
            raise RuntimeError(f"cannot restart task {name!r}: the supervisor is not running")
        if task.state is TaskState.PAUSED:
            task.failures = 0
            self._logger.info("task %s is paused; it starts with its new settings after", name)
            return
        runner = task.runner
        if runner is not None and not runner.done():
            runner.cancel()
            await asyncio.wait([runner])
        task.failures = 0
        task.restarts += 1
        self._launch(task)
        self._publish(
            SystemEventKind.TASK_RESTARTED, task, restarts=task.restarts, reason="reconfigured"
        )
        self._logger.info("task %s restarted with new settings", name)

    async def stop(self, timeout: float = 2.0) -> None:
        """Cancel every task and wait up to ``timeout`` seconds for them to end.

        Tasks that are still running after ``timeout`` are logged by name. Calling ``stop``
        again does nothing more.
        """
        self._stopped = True
        runners = [task.runner for task in self._tasks.values() if task.runner is not None]
        pending = [runner for runner in runners if not runner.done()]
        for runner in pending:
            runner.cancel()
        if pending:
            _, stuck = await asyncio.wait(pending, timeout=timeout)
            if stuck:
                names = sorted(runner.get_name() for runner in stuck)
                self._logger.error("tasks did not stop within %g s: %s", timeout, ", ".join(names))
        for task in self._tasks.values():
            ended = task.runner is None or task.runner.done()
            if ended and task.state not in _ENDED:
                task.state = TaskState.STOPPED

    async def wait(self) -> None:
        """Return once every task has ended: finished, given up or stopped."""
        if not self._started:
            raise RuntimeError("the supervisor was not started")
        while pending := [
            task.runner
            for task in self._tasks.values()
            if task.runner is not None and not task.runner.done()
        ]:
            await asyncio.wait(pending)

    @contextlib.asynccontextmanager
    async def paused(self, name: str) -> AsyncIterator[None]:
        """Stop task ``name`` for the block, then start it afresh (unless ``stop()`` came).

        Its coroutine is cancelled and awaited first, so whatever it holds (a source) is
        released inside the block; a pause is not a crash and resets its failures.
        ``KeyError`` if there is no such task.
        """
        task = self._tasks[name]
        if not self._started or self._stopped:
            raise RuntimeError(f"cannot pause task {name!r}: the supervisor is not running")
        runner = task.runner
        if runner is not None and not runner.done():
            runner.cancel()
            await asyncio.wait([runner])
        task.state = TaskState.PAUSED
        if task.on_pause is not None:
            task.on_pause()
        self._logger.info("task %s paused", name)
        try:
            yield
        finally:
            if not self._stopped and task.state is TaskState.PAUSED:
                task.failures = 0
                self._launch(task)
                self._logger.info("task %s resumed", name)

    def _launch(self, task: _Task) -> None:
        task.runner = asyncio.create_task(self._supervise(task), name=task.name)

    async def _supervise(self, task: _Task) -> None:
        """Run ``task`` until it returns, is given up or is cancelled."""
        try:
            while True:
                started = self._clock.monotonic()
                crash = await self._run_once(task)
                if crash is None:
                    task.state = TaskState.FINISHED
                    return
                delay = self._after_crash(task, crash, self._clock.monotonic() - started)
                if delay is None:
                    return
                await self._clock.sleep(delay)
                task.restarts += 1
                self._publish(SystemEventKind.TASK_RESTARTED, task, restarts=task.restarts)
        except asyncio.CancelledError:
            task.state = TaskState.STOPPED
            raise

    async def _run_once(self, task: _Task) -> Exception | None:
        """Build and run one incarnation of ``task``; the exception it crashed with, if any."""
        task.state = TaskState.STARTING
        try:
            running = task.factory()
            task.state = TaskState.RUNNING
            await running
        except Exception as exc:
            return exc
        return None

    def _after_crash(self, task: _Task, crash: Exception, ran_for: float) -> float | None:
        """Count, report and log a crash; the delay before the restart, or None to give up."""
        policy = task.policy
        if ran_for >= policy.reset_after:
            task.failures = 0
        task.failures += 1
        task.last_error = _describe(crash)
        if task.failures > policy.max_retries:
            task.state = TaskState.GAVE_UP
            self._publish(
                SystemEventKind.TASK_GAVE_UP,
                task,
                failures=task.failures,
                error=task.last_error,
            )
            self._logger.error(
                "task %s gave up after %d consecutive failures",
                task.name,
                task.failures,
                exc_info=crash,
            )
            return None
        delay = policy.backoff(task.failures, self._random())
        task.retry_at = self._clock.monotonic() + delay
        task.state = TaskState.BACKING_OFF
        self._publish(
            SystemEventKind.TASK_FAILED,
            task,
            error=task.last_error,
            failures=task.failures,
            retry_in=delay,
        )
        self._logger.warning(
            "task %s failed (%d in a row): %s; restarting in %.3g s",
            task.name,
            task.failures,
            task.last_error,
            delay,
            exc_info=_traceback_worth_logging(crash, task.failures),
        )
        return delay

    def _publish(self, kind: SystemEventKind, task: _Task, **detail: Any) -> None:
        self._bus.publish(SystemEvent.now(kind, task=task.name, **detail))


def _traceback_worth_logging(crash: Exception, failures: int) -> Exception | None:
    """The crash, when its traceback says something: the first of a run of failures that
    eegd did not foresee. An ``EegdError`` (a device not there yet, a refused setting) says
    what is wrong in its message, and a retry that fails again adds only noise."""
    return None if isinstance(crash, EegdError) or failures > 1 else crash


def _describe(exc: BaseException) -> str:
    """``"Type: message"``, or just the type's name when the message is empty."""
    message = str(exc)
    return f"{type(exc).__name__}: {message}" if message else type(exc).__name__
