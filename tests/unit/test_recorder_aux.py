"""The recorder writes a session's aux stream into the EDF/BDF file as signals at their own
rate, read back with edfio (which reads each signal at its own sampling frequency); a rate
that a data record cannot hold whole is refused, naming the fix; aux samples are placed by
their indices, so a lost aux packet is a padded, counted run, not a shift."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import edfio
import numpy as np
import pytest

from eegd.aux_stream import AuxKind, AuxStream
from eegd.errors import RequestRefused
from eegd.events import AuxPacket, SourceSession
from eegd.frozen import frozen_array
from eegd.plugins.recorder.aux_records import AuxRecords
from eegd.timestamps import sample_timestamps
from tests.support.waiting import wait_until
from tests.unit.test_recorder_sessions import ANCHOR_US, packet, running


def stream(rate: float) -> AuxStream:
    return AuxStream(
        channels=("AccelX", "Battery"),
        units=("g", "%"),
        kinds=(AuxKind.ACCELEROMETER, AuxKind.BATTERY),
        sample_rate=rate,
        physical_range=((-16.0, 16.0), (0.0, 100.0)),
    )


def aux_packet(frame_id: int, first: int, count: int, rate: float = 62.5) -> AuxPacket:
    """Aux samples ``first`` .. ``first + count - 1``: AccelX is the index / 1000 g, the
    battery 90 % minus the index / 100."""
    index = np.arange(first, first + count, dtype=np.float64)
    return AuxPacket(
        frame_id=frame_id,
        first_sample=first,
        timestamps=frozen_array(sample_timestamps(ANCHOR_US, first, count, rate), np.uint64),
        values=frozen_array(np.stack([index / 1000, 90 - index / 100]), np.float32),
        sample_rate=rate,
        channel_names=("AccelX", "Battery"),
        monotonic_ns=0,
    )


def connected(aux: AuxStream) -> SourceSession:
    return SourceSession(
        id="aux",
        sample_rate=250.0,
        channels=("C3", "C4"),
        time_anchor_us=ANCHOR_US,
        utc_offset_us=0,
        batch_size=32,
        aux=aux,
    )


async def test_aux_at_its_own_rate_is_written_beside_the_eeg_and_edfio_reads_it(
    tmp_path: Path,
) -> None:
    # A packet of 32 samples at 250 Hz is a record of 0.128 s: 8 aux samples at 62.5 Hz.
    recorder, bus, task = await running(tmp_path)
    try:
        bus.publish(connected(stream(62.5)).event())
        await recorder.start({"name": "aux"})
        for frame in range(5):
            if frame != 3:  # the aux packet of frame 3 is lost
                bus.publish(aux_packet(frame, 8 * frame, 8))
            bus.publish(packet(frame))
        await wait_until(lambda: recorder.stats()["samples_written"] >= 160)
        await recorder.stop()
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    bdf = edfio.read_bdf(tmp_path / "aux.bdf")
    assert [signal.label for signal in bdf.signals] == ["C3", "C4", "AccelX", "Battery"]
    accel, battery = bdf.signals[2], bdf.signals[3]
    assert bdf.signals[0].sampling_frequency == 250
    assert (accel.sampling_frequency, battery.sampling_frequency) == (62.5, 62.5)
    assert (accel.physical_dimension, battery.physical_dimension) == ("g", "%")
    index = np.arange(40)
    came = (index < 24) | (index >= 32)
    assert np.max(np.abs(accel.data[came] - index[came] / 1000)) <= 32 / (2**24 - 1)
    assert np.max(np.abs(battery.data[came] - (90 - index[came] / 100))) <= 1e-5
    assert np.all(np.abs(accel.data[~came]) <= 32 / (2**24 - 1))  # padded with zeros
    meta = json.loads((tmp_path / "aux.json").read_text())
    assert meta["aux"]["channels"] == ["AccelX", "Battery"]
    assert meta["aux"]["samples_per_record"] == 8
    assert meta["aux"]["sample_rate"] == 62.5
    assert meta["ledger"]["aux_samples_written"] == 40
    assert meta["ledger"]["aux_samples_padded"] == 8
    assert "eegd: aux padding, no aux data" in [note["text"] for note in meta["annotations"]]


async def test_an_aux_rate_a_record_cannot_hold_whole_is_refused_naming_the_fix(
    tmp_path: Path,
) -> None:
    recorder, bus, task = await running(tmp_path)
    try:
        bus.publish(connected(stream(50.0)).event())
        await wait_until(lambda: recorder.session.aux is not None)
        with pytest.raises(RequestRefused) as refused:
            await recorder.start({"name": "aux"})
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert refused.value.status == 409
    assert "holds 6.4 aux samples at 50 Hz, not a whole number; choose a batch_size" in str(
        refused.value
    )
    csv_recorder, csv_bus, csv_task = await running(tmp_path / "csv", "csv")
    try:
        csv_bus.publish(connected(stream(50.0)).event())
        await wait_until(lambda: csv_recorder.session.aux is not None)
        assert (await csv_recorder.start({"name": "eeg-only"}))["status"] == "recording"
    finally:
        csv_task.cancel()
        await asyncio.gather(csv_task, return_exceptions=True)


def test_aux_samples_are_placed_by_index_padded_where_none_came_and_bounded() -> None:
    records = AuxRecords(channels=2, per_record=4, next_sample=10)
    records.add(aux_packet(0, 8, 6))  # samples 8-9 are late, 10-13 fill the first record
    values, missing = records.take()
    assert missing == 0
    np.testing.assert_allclose(values[0], np.arange(10, 14) / 1000, rtol=1e-6)
    assert records.dropped == 2
    records.add(aux_packet(2, 18, 2))  # 14-17 never came
    values, missing = records.take()
    assert missing == 4
    np.testing.assert_array_equal(values, np.zeros((2, 4)))
    values, missing = records.take()
    assert missing == 2  # 18-19 came, 20-21 not yet
    np.testing.assert_allclose(values[0, :2], [0.018, 0.019], rtol=1e-6)
    records.add(aux_packet(3, 22, 40))  # 16 fit the 4 records' room; 24 are dropped
    assert records.dropped == 2 + 24
    assert (records.written, records.padded) == (12, 6)
