"""The ``lsl_outlet`` plugin's aux outlet, with real pylsl on loopback: a session with an aux
stream gets a second outlet (type ``Accelerometer`` when every aux channel is one, else
``AUX``) whose XML description names each channel with its unit and kind, and whose samples
are the aux packets' at their LSL times; a session without aux has none."""

from __future__ import annotations

import asyncio
import logging
import os
import xml.etree.ElementTree as ET

import numpy as np
import pylsl

from eegd.aux_stream import AuxKind, AuxStream
from eegd.bus import EventBus
from eegd.events import AuxPacket, SourceSession
from eegd.frozen import frozen_array
from eegd.plugin import PluginContext
from eegd.plugins.lsl_outlet import LslOutlet
from eegd.timestamps import sample_timestamps
from tests.support.packets import filtered_packet
from tests.support.timing import scaled
from tests.support.waiting import wait_until
from tests.unit.test_aux_wire import ACCEL

MIXED = AuxStream(
    channels=("AccelX", "Battery"),
    units=("g", "%"),
    kinds=(AuxKind.ACCELEROMETER, AuxKind.BATTERY),
    sample_rate=250.0,
    physical_range=((-16.0, 16.0), (0.0, 100.0)),
)
#: A session's epoch µs minus its monotonic µs: LSL time is a stamp minus it.
OFFSET_US = 1_700_000_000_000_000


def session(name: str, aux: AuxStream | None) -> SourceSession:
    return SourceSession(
        id=name,
        sample_rate=250.0,
        channels=("C3", "C4"),
        time_anchor_us=OFFSET_US + 5_000_000,
        utc_offset_us=OFFSET_US,
        batch_size=10,
        aux=aux,
    )


def aux_packet(aux: AuxStream, frame: int) -> AuxPacket:
    first = 10 * frame
    values = np.arange(len(aux.channels) * 10, dtype=np.float64).reshape(-1, 10) / 8 + frame
    stamps = sample_timestamps(OFFSET_US + 5_000_000, first, 10, aux.sample_rate)
    return AuxPacket(
        frame_id=frame,
        first_sample=first,
        timestamps=frozen_array(stamps, np.uint64),
        values=frozen_array(values, np.float32),
        sample_rate=aux.sample_rate,
        channel_names=aux.channels,
        monotonic_ns=0,
    )


def stream_of(predicate: str) -> tuple[pylsl.StreamInfo, pylsl.StreamInlet]:
    """The full info and an open inlet of the one stream matching ``predicate`` (blocking)."""
    found = pylsl.resolve_bypred(predicate, 1, scaled(10))
    assert found, f"no LSL stream with {predicate}"
    inlet = pylsl.StreamInlet(found[0])
    info = inlet.info(timeout=scaled(10))
    inlet.open_stream(timeout=scaled(10))
    return info, inlet


def pull(inlet: pylsl.StreamInlet, count: int) -> tuple[np.ndarray, list[float]]:
    """The next ``count`` samples and their times (blocking)."""
    samples, times = [], []
    while len(samples) < count:
        sample, time = inlet.pull_sample(timeout=scaled(10))
        assert sample is not None, f"only {len(samples)} samples came"
        samples.append(sample)
        times.append(time)
    return np.array(samples), times


def channels_of(info: pylsl.StreamInfo) -> list[dict[str, str]]:
    root = ET.fromstring(info.as_xml())
    return [{child.tag: child.text or "" for child in channel} for channel in root.iter("channel")]


async def run_outlet(name: str) -> tuple[LslOutlet, EventBus, asyncio.Task[None]]:
    bus = EventBus()
    outlet = LslOutlet.from_options({"name": name, "source_id": f"{name}-id"})
    task = asyncio.create_task(outlet.run(PluginContext(bus, logging.getLogger("test"))))
    # The markers outlet opens once the plugin has subscribed: events from now on reach it.
    await asyncio.to_thread(stream_of, f"name='{name}-markers'")
    return outlet, bus, task


async def test_an_accelerometer_aux_stream_is_an_accelerometer_outlet_with_its_labels() -> None:
    name = f"eegd-aux-{os.getpid()}"
    outlet, bus, task = await run_outlet(name)
    try:
        bus.publish(session("s1", ACCEL).event())
        packets = [aux_packet(ACCEL, frame) for frame in range(3)]
        bus.publish(packets[0])
        await wait_until(lambda: outlet.stats()["aux_chunks_pushed"] == 1, timeout=10)
        info, inlet = await asyncio.to_thread(stream_of, f"name='{name}-aux'")
        for packet in packets[1:]:
            bus.publish(packet)
        samples, times = await asyncio.to_thread(pull, inlet, 20)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert info.type() == "Accelerometer"
    assert (info.channel_count(), info.nominal_srate()) == (3, 250.0)
    assert info.channel_format() == pylsl.cf_float32
    assert info.source_id() == f"{name}-id-aux"
    assert channels_of(info) == [
        {"label": label, "unit": "g", "type": "accelerometer"} for label in ACCEL.channels
    ]
    expected = np.concatenate([packet.values for packet in packets[1:]], axis=1).T
    np.testing.assert_array_equal(samples, expected)
    stamps = np.concatenate([packet.timestamps for packet in packets[1:]])
    np.testing.assert_allclose(times, (stamps.astype(np.int64) - OFFSET_US) / 1e6, atol=1e-6)


async def test_mixed_aux_kinds_are_an_aux_outlet_and_a_session_without_aux_has_none() -> None:
    name = f"eegd-mixed-{os.getpid()}"
    outlet, bus, task = await run_outlet(name)
    try:
        bus.publish(session("s1", MIXED).event())
        bus.publish(aux_packet(MIXED, 0))
        await wait_until(lambda: outlet.stats()["aux_chunks_pushed"] == 1, timeout=10)
        info, _ = await asyncio.to_thread(stream_of, f"name='{name}-aux'")
        bus.publish(session("s2", None).event())
        bus.publish(aux_packet(MIXED, 1))  # a stray: the session has no aux stream
        bus.publish(filtered_packet(np.zeros((2, 10)), sample_rate=250.0))
        await wait_until(lambda: outlet.stats()["chunks_pushed"] == 1, timeout=10)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert info.type() == "AUX"
    assert [(c["label"], c["unit"], c["type"]) for c in channels_of(info)] == [
        ("AccelX", "g", "accelerometer"),
        ("Battery", "%", "battery"),
    ]
    assert outlet.stats()["aux_outlets_opened"] == 1
    assert outlet.stats()["aux_chunks_pushed"] == 1
