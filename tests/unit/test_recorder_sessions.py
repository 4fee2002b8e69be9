"""The recorder on a bus of the test's own: a new session starts a new part, shutdown
finishes the file, and recovery makes a file cut mid-record valid."""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path

import mne
import numpy as np
import pytest

from eegd.bus import EventBus
from eegd.events import EegPacket, SourceSession, SystemEvent
from eegd.plugin import PluginContext
from eegd.plugins.recorder import Recorder, RecordingSettings
from eegd.plugins.recorder.files import recover_data_file
from eegd.sources.adc import Ads1299Scale
from tests.support.packets import eeg_packet
from tests.support.waiting import wait_until

SCALE = Ads1299Scale()
ANCHOR_US = 1_700_000_000_000_000


def packet(
    frame_id: int, rate: float = 250.0, channels: tuple[str, ...] = ("C3", "C4")
) -> EegPacket:
    rng = np.random.default_rng(frame_id)
    counts = rng.integers(-5000, 5000, size=(len(channels), 32), dtype=np.int32)
    return eeg_packet(
        SCALE.to_volts(counts),
        raw=counts,
        frame_id=frame_id,
        first_sample=32 * frame_id,
        sample_rate=rate,
        channel_names=channels,
        anchor_us=ANCHOR_US,
    )


def connected(
    session: str,
    rate: float,
    channels: tuple[str, ...],
    span: tuple[tuple[float, float], ...] | None = None,
) -> SystemEvent:
    return SourceSession(
        id=session,
        sample_rate=rate,
        channels=channels,
        time_anchor_us=ANCHOR_US,
        utc_offset_us=0,
        batch_size=32,
        physical_range=span,
    ).event()


async def running(
    tmp_path: Path, file_format: str = "bdf"
) -> tuple[Recorder, EventBus, asyncio.Task[None]]:
    recorder = Recorder(RecordingSettings(directory=str(tmp_path), format=file_format))  # type: ignore[arg-type]
    bus = EventBus()
    config = {"source": {"kind": "test", "sample_rate": 250, "batch_size": 32}}
    task = asyncio.create_task(recorder.run(PluginContext(bus, logging.getLogger("t"), {}, config)))
    await wait_until(lambda: recorder.ready)
    return recorder, bus, task


async def test_a_new_session_with_another_rate_ends_the_part_and_starts_the_next(
    tmp_path: Path,
) -> None:
    recorder, bus, task = await running(tmp_path)
    try:
        bus.publish(connected("one", 250, ("C3", "C4")))
        await recorder.start({"name": "two-sessions"})
        for frame in range(4):
            bus.publish(packet(frame))
        bus.publish(connected("two", 500, ("C3", "C4", "Cz")))
        for frame in range(6):
            bus.publish(packet(frame, 500, ("C3", "C4", "Cz")))
        await wait_until(lambda: recorder.stats()["samples_written"] == 10 * 32)
        await recorder.stop()
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    first = mne.io.read_raw_bdf(tmp_path / "two-sessions.bdf", verbose="error")
    second = mne.io.read_raw_bdf(tmp_path / "two-sessions.part2.bdf", verbose="error")
    assert (first.info["sfreq"], first.n_times, len(first.ch_names)) == (250, 128, 2)
    assert (second.info["sfreq"], second.n_times, len(second.ch_names)) == (500, 192, 3)
    meta = json.loads((tmp_path / "two-sessions.part2.json").read_text())
    assert meta["source"]["session"] == "two"


async def test_shutdown_finishes_the_file(tmp_path: Path) -> None:
    recorder, bus, task = await running(tmp_path)
    await recorder.start({"name": "until-shutdown"})
    for frame in range(5):
        bus.publish(packet(frame))
    await wait_until(lambda: recorder.stats()["samples_written"] == 5 * 32)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    meta = json.loads((tmp_path / "until-shutdown.json").read_text())
    assert meta["status"] == "complete"
    header = (tmp_path / "until-shutdown.bdf").read_bytes()[236:244]
    assert header.strip() == b"5"
    assert mne.io.read_raw_bdf(tmp_path / "until-shutdown.bdf", verbose="error").n_times == 160


@pytest.mark.parametrize("file_format", ["bdf", "edf", "csv"])
async def test_a_file_cut_mid_record_is_recovered_to_its_whole_records(
    tmp_path: Path, file_format: str
) -> None:
    recorder, bus, task = await running(tmp_path, file_format)
    try:
        await recorder.start({"name": "cut"})
        for frame in range(6):
            bus.publish(packet(frame))
        await wait_until(lambda: recorder.stats()["samples_written"] == 6 * 32)
        await recorder.stop()
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    path = tmp_path / f"cut.{file_format}"
    data = path.read_bytes()
    if file_format == "csv":
        path.write_bytes(data[:-7])  # the middle of the last line
        assert recover_data_file(path, "csv") == 6 * 32 - 1
        return
    record = (len(data) - 256 * 4) // 6
    path.write_bytes(data[:236] + b"-1      " + data[244 : 256 * 4 + 4 * record + record // 2])
    assert recover_data_file(path, file_format) == 4 * 32
    reader = mne.io.read_raw_bdf if file_format == "bdf" else mne.io.read_raw_edf
    assert reader(path, verbose="error").n_times == 4 * 32


async def test_a_source_that_declares_its_physical_range_is_quantised_over_it(
    tmp_path: Path,
) -> None:
    span = ((-0.0032, 0.0032), (-0.01, 0.01))
    recorder, bus, task = await running(tmp_path)
    rng = np.random.default_rng(3)
    volts = [rng.uniform(-0.003, 0.003, size=(2, 32)).astype(np.float32) for _ in range(3)]
    try:
        bus.publish(connected("file", 250, ("C3", "C4"), span))
        await recorder.start({"name": "declared"})
        for frame, block in enumerate(volts):
            bus.publish(
                eeg_packet(
                    block,
                    frame_id=frame,
                    first_sample=32 * frame,
                    channel_names=("C3", "C4"),
                    anchor_us=ANCHOR_US,
                )
            )
        await wait_until(lambda: recorder.stats()["samples_written"] == 96)
        await recorder.stop()
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    raw = mne.io.read_raw_bdf(tmp_path / "declared.bdf", preload=True, verbose="error")
    steps = np.array([[high - low] for low, high in span]) / (2**24 - 1)
    error = np.abs(raw.get_data() - np.concatenate(volts, axis=1))
    assert np.all(error <= steps)
    meta = json.loads((tmp_path / "declared.json").read_text())
    declared = [[float(text) for text in pair] for pair in meta["calibration"]["physical_range"]]
    assert declared == [[-3200.0, 3200.0], [-10000.0, 10000.0]]  # µV


async def capacities(tmp_path: Path, first: EegPacket | SystemEvent, sized: int) -> int:
    """The recorder's queue capacity before ``first`` (once it is sized to ``sized``)."""
    said = {"source": {"kind": "test", "sample_rate": 16000, "batch_size": 1}}
    recorder = Recorder(RecordingSettings(directory=str(tmp_path), queue_s=10.0))
    bus = EventBus()
    task = asyncio.create_task(recorder.run(PluginContext(bus, logging.getLogger("t"), {}, said)))

    def capacity() -> int:
        return next(c.capacity for c in bus.consumers() if c.name == "recorder")

    try:
        await wait_until(lambda: recorder.ready)
        before = capacity()
        bus.publish(first)
        await wait_until(lambda: capacity() == sized)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    return before


async def test_the_queue_holds_queue_s_of_the_sessions_packets_whatever_the_file_said(
    tmp_path: Path,
) -> None:
    """Sized by the session (or, restarted within one, by its first packet), never by
    ``[source]`` as the file wrote it (16 kHz, one sample a packet): before either, the
    documented 1024 packets and 256 other events; then 10 s of 500 Hz (or 250 Hz) in
    packets of 32, and the 256."""
    assert await capacities(tmp_path, connected("one", 500, ("C3", "C4")), 157 + 256) == 1280
    assert await capacities(tmp_path, packet(0), 79 + 256) == 1280
