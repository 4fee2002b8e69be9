"""The supervisor restarts crashed tasks with back-off, gives up, and keeps the others running.

Back-off runs on a fake clock, so a test that waits minutes of virtual time takes milliseconds.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from eegd.bus import EventBus, Subscription
from eegd.clock import SYSTEM_CLOCK
from eegd.errors import ConfigError, SourceError
from eegd.events import SystemEvent, SystemEventKind, Topic
from eegd.restart import RestartPolicy
from eegd.supervisor import Supervisor, TaskFactory, TaskState
from eegd.validation import convert
from tests.support.clocks import FakeClock
from tests.support.timing import scaled

#: Loop iterations a condition may take to come true before a test fails.
MAX_YIELDS = 1000


async def until(condition: Callable[[], bool]) -> None:
    """Let the loop run until ``condition`` holds, failing after ``MAX_YIELDS`` iterations."""
    for _ in range(MAX_YIELDS):
        if condition():
            return
        await asyncio.sleep(0)
    pytest.fail("condition never became true")


async def forever() -> None:
    await asyncio.Event().wait()


def failing_first(runs: int, then: TaskFactory = forever) -> TaskFactory:
    """A factory whose first ``runs`` coroutines raise, and whose later ones run ``then``."""
    calls = 0

    async def run() -> None:
        nonlocal calls
        calls += 1
        if calls <= runs:
            raise RuntimeError(f"crash {calls}")
        await then()

    return run


async def always_failing() -> None:
    raise RuntimeError("broken")


def system_events(subscription: Subscription) -> list[SystemEvent]:
    events = []
    while (event := subscription.get_nowait()) is not None:
        assert isinstance(event, SystemEvent)
        events.append(event)
    return events


@pytest.fixture
def bus() -> EventBus:
    return EventBus()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(1000.0)


@pytest.fixture
async def supervisor(bus: EventBus, clock: FakeClock) -> AsyncIterator[Supervisor]:
    """A supervisor on the fake clock with jitter draws of 0.5 (no jitter), stopped after."""
    supervisor = Supervisor(bus, clock=clock.asyncio, random=lambda: 0.5)
    yield supervisor
    await supervisor.stop()


# ---------------------------------------------------------------- RestartPolicy


def test_backoff_doubles_from_initial_and_is_capped() -> None:
    policy = RestartPolicy(jitter=0.0)
    delays = [policy.backoff(n, 0.5) for n in range(1, 10)]
    assert delays == [0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0, 30.0]
    assert policy.backoff(100_000, 0.5) == 30.0


@pytest.mark.parametrize("failures", [1, 3, 12])
def test_jitter_stays_within_its_fraction(failures: int) -> None:
    policy = RestartPolicy(jitter=0.1)
    base = RestartPolicy(jitter=0.0).backoff(failures, 0.0)
    draws = [i / 100 for i in range(100)] + [0.999999]
    delays = [policy.backoff(failures, draw) for draw in draws]
    assert all(0.9 * base <= delay <= 1.1 * base for delay in delays)
    assert min(delays) == pytest.approx(0.9 * base)
    assert max(delays) == pytest.approx(1.1 * base)
    assert policy.backoff(failures, 0.5) == base


def test_backoff_rejects_impossible_arguments() -> None:
    policy = RestartPolicy()
    with pytest.raises(ValueError, match="failures"):
        policy.backoff(0, 0.5)
    with pytest.raises(ValueError, match="draw"):
        policy.backoff(1, 1.0)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("max_retries", -1),
        ("max_retries", 1.5),
        ("initial_backoff", -0.1),
        ("max_backoff", float("nan")),
        ("multiplier", 0.5),
        ("jitter", 1.0),
        ("jitter", -0.1),
        ("reset_after", -1.0),
        ("stop_timeout", 0.0),
        ("initial_backoff", "1"),
    ],
)
def test_invalid_policy_names_the_field(field: str, value: object) -> None:
    with pytest.raises(ConfigError, match=f"^{field}: ") as caught:
        convert({field: value}, RestartPolicy)
    assert caught.value.key == field


# ---------------------------------------------------------------- restarts


async def test_task_failing_twice_is_restarted_after_half_then_one_second(
    supervisor: Supervisor, bus: EventBus, clock: FakeClock
) -> None:
    events = bus.subscribe([Topic.SYSTEM])
    supervisor.add("flaky", failing_first(2))
    supervisor.start()

    await until(lambda: supervisor.status("flaky").restarts == 2)

    assert clock.sleeps == [0.5, 1.0]
    status = supervisor.status("flaky")
    assert status.state is TaskState.RUNNING
    assert (status.restarts, status.failures) == (2, 2)
    assert status.last_error == "RuntimeError: crash 2"
    published = system_events(events)
    assert [event.kind for event in published] == [
        SystemEventKind.TASK_FAILED,
        SystemEventKind.TASK_RESTARTED,
        SystemEventKind.TASK_FAILED,
        SystemEventKind.TASK_RESTARTED,
    ]
    assert dict(published[0].detail) == {
        "task": "flaky",
        "error": "RuntimeError: crash 1",
        "failures": 1,
        "retry_in": 0.5,
    }
    assert dict(published[1].detail) == {"task": "flaky", "restarts": 1}
    assert dict(published[2].detail) == {
        "task": "flaky",
        "error": "RuntimeError: crash 2",
        "failures": 2,
        "retry_in": 1.0,
    }
    assert dict(published[3].detail) == {"task": "flaky", "restarts": 2}


async def test_task_that_always_fails_is_given_up_while_others_keep_running(
    supervisor: Supervisor, bus: EventBus, clock: FakeClock
) -> None:
    events = bus.subscribe([Topic.SYSTEM])
    ticks = 0
    ticks_at_each_run: list[int] = []

    async def healthy() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0)

    async def broken() -> None:
        ticks_at_each_run.append(ticks)
        raise OSError("device gone")

    supervisor.add("healthy", healthy)
    supervisor.add("broken", broken)
    supervisor.start()

    await until(lambda: supervisor.status("broken").state is TaskState.GAVE_UP)
    ticks_at_give_up = ticks
    await until(lambda: ticks > ticks_at_give_up + 3)

    assert clock.sleeps == [0.5, 1.0, 2.0, 4.0, 8.0]
    broken_status = supervisor.status("broken")
    assert (broken_status.restarts, broken_status.failures) == (5, 6)
    assert len(ticks_at_each_run) == 6
    assert ticks_at_each_run == sorted(set(ticks_at_each_run)), "healthy stalled during back-off"
    healthy_status = supervisor.status("healthy")
    assert healthy_status.state is TaskState.RUNNING
    assert (healthy_status.restarts, healthy_status.failures) == (0, 0)
    published = system_events(events)
    assert [event.kind for event in published] == [
        SystemEventKind.TASK_FAILED,
        SystemEventKind.TASK_RESTARTED,
    ] * 5 + [SystemEventKind.TASK_GAVE_UP]
    assert dict(published[-1].detail) == {
        "task": "broken",
        "failures": 6,
        "error": "OSError: device gone",
    }


@pytest.mark.parametrize(
    ("run_seconds", "second_backoff"),
    [(61.0, 0.5), (60.0, 0.5), (59.0, 1.0)],
)
async def test_long_run_before_a_crash_resets_the_backoff(
    supervisor: Supervisor, clock: FakeClock, run_seconds: float, second_backoff: float
) -> None:

    async def run_then_crash() -> None:
        await clock.asyncio.sleep(run_seconds)
        raise RuntimeError("late crash")

    calls = 0

    async def crash_early_then_late_then_run() -> None:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("early crash")
        if calls == 2:
            await run_then_crash()
        await forever()

    supervisor.add("task", crash_early_then_late_then_run)
    supervisor.start()

    await until(lambda: supervisor.status("task").restarts == 2)

    assert clock.sleeps == [0.5, run_seconds, second_backoff]
    expected_failures = 1 if second_backoff == 0.5 else 2
    assert supervisor.status("task").failures == expected_failures


async def test_factory_that_raises_counts_as_a_crash(
    supervisor: Supervisor, bus: EventBus, clock: FakeClock
) -> None:
    events = bus.subscribe([Topic.SYSTEM])
    calls = 0

    def factory() -> Awaitable[None]:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise ValueError("bad options")
        return forever()

    supervisor.add("plugin", factory)
    supervisor.start()

    await until(lambda: supervisor.status("plugin").restarts == 1)

    status = supervisor.status("plugin")
    assert status.state is TaskState.RUNNING
    assert status.last_error == "ValueError: bad options"
    assert clock.sleeps == [0.5]
    first = system_events(events)[0]
    assert first.kind is SystemEventKind.TASK_FAILED
    assert first.detail["error"] == "ValueError: bad options"


async def test_per_task_policy_overrides_the_default(
    supervisor: Supervisor, clock: FakeClock
) -> None:
    supervisor.add("strict", always_failing, RestartPolicy(max_retries=1, jitter=0.0))
    supervisor.start()

    await until(lambda: supervisor.status("strict").state is TaskState.GAVE_UP)

    assert clock.sleeps == [0.5]


async def test_jitter_draws_come_from_the_injected_random(bus: EventBus, clock: FakeClock) -> None:
    supervisor = Supervisor(bus, RestartPolicy(jitter=0.1), clock=clock.asyncio, random=lambda: 0.0)
    supervisor.add("flaky", failing_first(1))
    supervisor.start()

    await until(lambda: supervisor.status("flaky").restarts == 1)
    await supervisor.stop()

    assert clock.sleeps == [pytest.approx(0.45)]


async def test_failure_is_logged_with_its_traceback(
    supervisor: Supervisor, caplog: pytest.LogCaptureFixture
) -> None:
    supervisor.add("flaky", failing_first(1))
    with caplog.at_level(logging.WARNING, logger="eegd.supervisor"):
        supervisor.start()
        await until(lambda: supervisor.status("flaky").restarts == 1)

    (record,) = caplog.records
    assert record.levelno == logging.WARNING
    assert "flaky" in record.getMessage()
    assert record.exc_info is not None
    assert "crash 1" in caplog.text


async def test_a_failure_again_and_an_expected_error_are_one_line_each(
    supervisor: Supervisor, caplog: pytest.LogCaptureFixture
) -> None:
    async def device_not_there() -> None:
        raise SourceError("no stream named 'amp'")

    supervisor.add("flaky", failing_first(2))
    supervisor.add("source", device_not_there)
    with caplog.at_level(logging.WARNING, logger="eegd.supervisor"):
        supervisor.start()
        await until(lambda: supervisor.status("flaky").restarts == 2)
        await until(lambda: supervisor.status("source").restarts >= 1)

    flaky = [record for record in caplog.records if "task flaky" in record.getMessage()]
    assert [record.exc_info is not None for record in flaky[:2]] == [True, False]
    assert "crash 2" in flaky[1].getMessage()
    source = [record for record in caplog.records if "task source" in record.getMessage()]
    assert source
    assert all(record.exc_info is None for record in source)
    assert "SourceError: no stream named 'amp'" in source[0].getMessage()


# ---------------------------------------------------------------- ending


async def test_task_returning_normally_is_finished_and_not_restarted(
    supervisor: Supervisor, bus: EventBus, clock: FakeClock
) -> None:
    events = bus.subscribe([Topic.SYSTEM])
    calls = 0

    async def one_shot() -> None:
        nonlocal calls
        calls += 1

    supervisor.add("one_shot", one_shot)
    supervisor.start()
    await asyncio.wait_for(supervisor.wait(), timeout=scaled(5))

    assert supervisor.status("one_shot").state is TaskState.FINISHED
    assert calls == 1
    assert clock.sleeps == []
    assert system_events(events) == []


async def test_stop_cancels_everything_and_marks_it_stopped(bus: EventBus) -> None:
    clock = FakeClock(1000.0, manual=True)  # its back-off sleeps never end
    supervisor = Supervisor(bus, clock=clock.asyncio, random=lambda: 0.5)
    cleaned_up: list[str] = []

    def cleaning(name: str) -> TaskFactory:
        async def run() -> None:
            try:
                await forever()
            finally:
                cleaned_up.append(name)

        return run

    async def one_shot() -> None:
        return None

    supervisor.add("a", cleaning("a"))
    supervisor.add("b", cleaning("b"))
    supervisor.add("done", one_shot)
    supervisor.add("backing_off", always_failing)
    supervisor.start()
    await until(
        lambda: (
            supervisor.status("backing_off").state is TaskState.BACKING_OFF
            and supervisor.status("done").state is TaskState.FINISHED
            and supervisor.status("a").state is TaskState.RUNNING
        )
    )

    await asyncio.wait_for(supervisor.stop(timeout=5), timeout=scaled(10))

    states = {status.name: status.state for status in supervisor.statuses()}
    assert states == {
        "a": TaskState.STOPPED,
        "b": TaskState.STOPPED,
        "done": TaskState.FINISHED,
        "backing_off": TaskState.STOPPED,
    }
    assert sorted(cleaned_up) == ["a", "b"]
    assert supervisor.status("backing_off").restarts == 0
    assert clock.sleeps == [0.5]
    await asyncio.wait_for(supervisor.wait(), timeout=scaled(5))
    await supervisor.stop()
    assert supervisor.status("a").state is TaskState.STOPPED


async def test_stop_names_tasks_that_do_not_stop_in_time(
    supervisor: Supervisor, caplog: pytest.LogCaptureFixture
) -> None:
    release = asyncio.Event()

    async def stubborn() -> None:
        try:
            await forever()
        except asyncio.CancelledError:
            await release.wait()
            raise

    supervisor.add("stubborn", stubborn)
    supervisor.add("polite", forever)
    supervisor.start()
    await until(lambda: supervisor.status("stubborn").state is TaskState.RUNNING)

    with caplog.at_level(logging.ERROR, logger="eegd.supervisor"):
        await supervisor.stop(timeout=0.01)

    assert "stubborn" in caplog.text
    assert "polite" not in caplog.text
    assert supervisor.status("polite").state is TaskState.STOPPED
    assert supervisor.status("stubborn").state is TaskState.RUNNING
    release.set()
    await asyncio.wait_for(supervisor.wait(), timeout=scaled(5))
    assert supervisor.status("stubborn").state is TaskState.STOPPED


async def test_cancellation_from_inside_a_task_is_not_a_crash(
    supervisor: Supervisor, bus: EventBus, clock: FakeClock
) -> None:
    events = bus.subscribe([Topic.SYSTEM])

    async def cancelled() -> None:
        raise asyncio.CancelledError

    supervisor.add("cancelled", cancelled)
    supervisor.start()
    await asyncio.wait_for(supervisor.wait(), timeout=scaled(5))

    status = supervisor.status("cancelled")
    assert (status.state, status.failures, status.restarts) == (TaskState.STOPPED, 0, 0)
    assert clock.sleeps == []
    assert system_events(events) == []


async def test_stop_before_start_marks_tasks_stopped(supervisor: Supervisor) -> None:
    supervisor.add("never", forever)

    await supervisor.stop()

    assert supervisor.status("never").state is TaskState.STOPPED
    with pytest.raises(RuntimeError):
        supervisor.add("late", forever)


# ---------------------------------------------------------------- registration


async def test_duplicate_names_are_refused(supervisor: Supervisor) -> None:
    supervisor.add("task", forever)

    with pytest.raises(ValueError, match="task"):
        supervisor.add("task", forever)


async def test_task_added_after_start_starts_at_once(supervisor: Supervisor) -> None:
    supervisor.start()
    started = asyncio.Event()

    async def late() -> None:
        started.set()
        await forever()

    supervisor.add("late", late)
    await asyncio.wait_for(started.wait(), timeout=scaled(5))

    assert supervisor.status("late").state is TaskState.RUNNING


async def test_paused_task_is_stopped_for_the_block_then_started_afresh(
    supervisor: Supervisor,
) -> None:
    runs: list[asyncio.Event] = []
    released = asyncio.Event()

    async def holder() -> None:
        runs.append(asyncio.Event())
        try:
            await forever()
        finally:
            released.set()

    supervisor.add("source", holder)
    supervisor.start()
    await until(lambda: len(runs) == 1)
    async with supervisor.paused("source"):
        assert released.is_set()  # the first run ended before the block
        assert supervisor.status("source").state is TaskState.PAUSED
    await until(lambda: len(runs) == 2)
    assert supervisor.status("source").state is TaskState.RUNNING
    assert supervisor.status("source").failures == 0


async def test_a_restart_during_a_pause_waits_for_the_pause_to_end(
    supervisor: Supervisor,
) -> None:
    calls = 0

    async def counted() -> None:
        nonlocal calls
        calls += 1
        await forever()

    supervisor.add("source", counted)
    supervisor.start()
    await until(lambda: calls == 1)
    async with supervisor.paused("source"):
        await supervisor.restart("source")
        await asyncio.sleep(0)
        assert calls == 1  # nothing may open the source while the pause holds it
        assert supervisor.status("source").state is TaskState.PAUSED
    await until(lambda: calls == 2)
    await asyncio.sleep(0)
    assert calls == 2  # one run after the pause, not two
    assert supervisor.status("source").state is TaskState.RUNNING


async def test_a_task_paused_when_the_supervisor_stops_stays_stopped(
    supervisor: Supervisor,
) -> None:
    calls = 0

    async def counted() -> None:
        nonlocal calls
        calls += 1
        await forever()

    supervisor.add("source", counted)
    supervisor.start()
    await until(lambda: calls == 1)
    async with supervisor.paused("source"):
        await supervisor.stop()
    await asyncio.sleep(0)
    assert calls == 1
    assert supervisor.status("source").state is TaskState.STOPPED


async def test_statuses_list_tasks_in_the_order_added(supervisor: Supervisor) -> None:
    for name in ("source", "filter", "server"):
        supervisor.add(name, forever)

    statuses = supervisor.statuses()

    assert [status.name for status in statuses] == ["source", "filter", "server"]
    assert all(status.state is TaskState.STARTING for status in statuses)
    assert all(status.last_error is None for status in statuses)


def test_start_needs_a_running_loop(bus: EventBus) -> None:
    supervisor = Supervisor(bus)

    with pytest.raises(RuntimeError):
        supervisor.start()


async def test_system_clock_is_monotonic_and_sleeps() -> None:
    before = SYSTEM_CLOCK.monotonic()
    await SYSTEM_CLOCK.sleep(0)
    assert SYSTEM_CLOCK.monotonic() >= before
