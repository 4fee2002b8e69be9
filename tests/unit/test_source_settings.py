"""Changing the source's settings while running: the merged table, and the task's restart."""

from __future__ import annotations

import asyncio

import pytest

from eegd.bus import EventBus
from eegd.config import load_config
from eegd.errors import ConfigError
from eegd.events import SystemEvent, SystemEventKind, Topic
from eegd.supervisor import Supervisor, TaskState
from tests.support.timing import scaled


def test_a_partial_table_merges_into_the_running_settings() -> None:
    config = load_config(None, {"source.synthetic.seed": ("--seed", 7)})
    changed = config.with_source({"sample_rate": 1000, "synthetic": {"blinks": False}})
    assert changed.source.sample_rate == 1000
    assert changed.source.options == {"synthetic": {"seed": 7, "blinks": False}}
    assert changed.source.explicit == {"sample_rate"}
    assert config.source.sample_rate == 250  # the running configuration is a value: unchanged
    assert changed.filter == config.filter


def test_null_takes_a_key_back_to_its_default_or_the_devices_value() -> None:
    config = load_config(None, {"source.channels": ("--channels", 4)})
    assert config.source.explicit == {"channels"}
    back = config.with_source({"channels": None, "synthetic": {"seed": None}})
    assert (back.source.channels, back.source.explicit) == (8, frozenset())
    # A board's channels replace the defaults, unless the user set them.
    assert config.with_source({"kind": "brainflow", "channels": None}).source.kind == "brainflow"
    with pytest.raises(ConfigError, match="^source.channels: 4 is not what the synthetic board"):
        config.with_source({"kind": "brainflow"})


def test_the_filter_is_checked_at_the_new_sources_rate() -> None:
    config = load_config(None, {"source.sample_rate": ("", 1000), "filter.lowpass_hz": ("", 400.0)})
    with pytest.raises(ConfigError, match="^filter\\.lowpass_hz"):
        config.with_source({"sample_rate": 250})  # 400 Hz is above 250 Hz's Nyquist


async def test_a_restarted_task_runs_afresh_and_is_not_a_failure() -> None:
    bus = EventBus()
    events = bus.subscribe([Topic.SYSTEM], maxsize=100)
    started: list[int] = []
    cancelled = asyncio.Event()

    async def work() -> None:
        started.append(len(started))
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.set()
            raise

    supervisor = Supervisor(bus)
    supervisor.add("work", work)
    supervisor.start()
    await asyncio.wait_for(_until(lambda: started == [0]), timeout=scaled(10))
    await supervisor.restart("work")
    assert cancelled.is_set()
    await asyncio.wait_for(_until(lambda: started == [0, 1]), timeout=scaled(10))
    status = supervisor.status("work")
    assert (status.state, status.restarts, status.failures) == (TaskState.RUNNING, 1, 0)
    kinds = []
    while (event := events.get_nowait()) is not None:
        assert isinstance(event, SystemEvent)
        kinds.append((event.kind, dict(event.detail)))
    assert kinds == [
        (SystemEventKind.TASK_RESTARTED, {"task": "work", "restarts": 1, "reason": "reconfigured"})
    ]
    await supervisor.stop()
    with pytest.raises(RuntimeError, match="not running"):
        await supervisor.restart("work")


async def _until(condition: object) -> None:
    while not condition():  # type: ignore[operator]
        await asyncio.sleep(0)
