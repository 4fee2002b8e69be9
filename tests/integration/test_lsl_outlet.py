"""The ``lsl_outlet`` plugin on a bus of the test's own: a new session shape opens a new
outlet, the daemon's events go out as markers; and pylsl missing is an error naming the extra.

Real LSL on loopback: the inlets are pylsl's, in this process.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys

import numpy as np
import pylsl
import pytest

from eegd.bus import EventBus
from eegd.errors import PluginError, SourceError
from eegd.events import SystemEvent, SystemEventKind
from eegd.plugin import PluginContext
from eegd.plugins.lsl_outlet import LslOutlet
from eegd.sources.lsl import LslOptions, LslSource
from tests.support.packets import filtered_packet
from tests.support.timing import scaled
from tests.support.waiting import wait_until


def inlet_of(predicate: str) -> pylsl.StreamInlet:
    """An open inlet on the one stream matching ``predicate`` (blocking: run in a thread)."""
    found = pylsl.resolve_bypred(predicate, 1, scaled(10))
    assert found, f"no LSL stream with {predicate}"
    inlet = pylsl.StreamInlet(found[0])
    inlet.open_stream(timeout=scaled(10))
    return inlet


def shape_of(predicate: str) -> tuple[int, float, str]:
    """Channel count, nominal rate and source_id of the stream matching ``predicate``."""
    found = pylsl.resolve_bypred(predicate, 1, scaled(10))
    assert found, f"no LSL stream with {predicate}"
    return found[0].channel_count(), found[0].nominal_srate(), found[0].source_id()


def pull_markers(inlet: pylsl.StreamInlet, count: int) -> list[str]:
    """The next ``count`` markers (blocking: run in a thread)."""
    markers = []
    while len(markers) < count:
        sample, _ = inlet.pull_sample(timeout=scaled(10))
        assert sample is not None, f"only {markers} came"
        markers.append(sample[0])
    return markers


async def test_a_new_session_shape_opens_a_new_outlet_and_events_go_out_as_markers() -> None:
    name = f"eegd-shapes-{os.getpid()}"
    bus = EventBus()
    outlet = LslOutlet.from_options({"name": name, "source_id": f"{name}-id"})
    context = PluginContext(bus, logging.getLogger("test"))
    task = asyncio.create_task(outlet.run(context))
    try:
        markers = await asyncio.to_thread(inlet_of, f"name='{name}-markers'")
        bus.publish(filtered_packet(np.zeros((4, 32)), sample_rate=250.0))
        await wait_until(lambda: outlet.stats()["chunks_pushed"] == 1, timeout=10)
        first = await asyncio.to_thread(shape_of, f"name='{name}' and type='EEG'")
        bus.publish(SystemEvent.now(SystemEventKind.SOURCE_CONNECTED, session="s2"))
        bus.publish(SystemEvent.now(SystemEventKind.RECORDING_STARTED, name="r1"))
        bus.publish(filtered_packet(np.zeros((2, 64)), sample_rate=500.0))
        await wait_until(lambda: outlet.stats()["chunks_pushed"] == 2, timeout=10)
        second = await asyncio.to_thread(shape_of, f"name='{name}' and channel_count=2")
        sent = await asyncio.to_thread(pull_markers, markers, 2)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert first == (4, 250.0, f"{name}-id")
    assert second == (2, 500.0, f"{name}-id")  # the same device: its inlets recover
    assert outlet.stats()["outlets_opened"] == 2
    assert sent == ['source_connected {"session": "s2"}', 'recording_started {"name": "r1"}']


def test_without_pylsl_the_outlet_and_the_source_name_the_extra(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "pylsl", None)  # import pylsl now raises ImportError
    with pytest.raises(PluginError, match=r"pip install 'eegd\[lsl\]'"):
        LslOutlet.from_options({})
    with pytest.raises(SourceError, match=r"pip install 'eegd\[lsl\]'"):
        LslSource(LslOptions(name="amp")).open()
