"""The recorder's own queue overflowing: the frames it lost are a gap, annotated and counted.

The recorder runs on a bus of the test's own; its files open through an opener whose writes
wait until the test lets them go (a disk that stalls), so its subscription fills up while
the test publishes packets.
"""

from __future__ import annotations

import asyncio
import io
import logging
import threading
from pathlib import Path
from typing import IO

import mne
import numpy as np

from eegd.bus import EventBus
from eegd.events import EegPacket, Topic
from eegd.plugin import PluginContext
from eegd.plugins.recorder import Recorder, RecordingSettings
from eegd.sources.adc import Ads1299Scale
from tests.support.packets import eeg_packet
from tests.support.timing import scaled
from tests.support.waiting import wait_until

SCALE = Ads1299Scale()


class StallingFile(io.FileIO):
    """A real file whose writes wait while ``flowing`` is clear."""

    def __init__(self, path: Path, flowing: threading.Event) -> None:
        super().__init__(path, "xb")
        self._flowing = flowing

    def write(self, data: object) -> int:  # type: ignore[override]
        if not self._flowing.wait(scaled(10)):
            raise OSError("the test never let the write go")
        return super().write(data)  # type: ignore[arg-type]


def packet(frame_id: int) -> EegPacket:
    rng = np.random.default_rng(frame_id)
    counts = rng.integers(-5000, 5000, size=(2, 32), dtype=np.int32)
    return eeg_packet(
        SCALE.to_volts(counts),
        raw=counts,
        frame_id=frame_id,
        first_sample=32 * frame_id,
        channel_names=("C3", "C4"),
        anchor_us=1_700_000_000_000_000,
    )


async def test_frames_the_recorder_could_not_queue_are_an_annotated_counted_gap(
    tmp_path: Path,
) -> None:
    flowing = threading.Event()
    flowing.set()

    def opener(path: Path) -> IO[bytes]:
        return StallingFile(path, flowing)

    settings = RecordingSettings(directory=str(tmp_path), queue_s=1.0)
    recorder = Recorder(settings, opener=opener)
    bus = EventBus()
    config = {"source": {"kind": "test", "sample_rate": 250, "batch_size": 32}}
    context = PluginContext(bus, logging.getLogger("test"), {}, config)
    task = asyncio.create_task(recorder.run(context))
    try:
        await wait_until(lambda: recorder.ready)
        await recorder.start({"name": "stalled"})
        bus.publish(packet(0))
        await wait_until(lambda: recorder.stats()["samples_written"] == 32)
        flowing.clear()  # the disk stalls
        frame = 1
        while (dropped := bus.stats().topics[Topic.RAW_EEG].dropped) < 5:
            bus.publish(packet(frame))
            frame += 1
        flowing.set()
        queued = 32 * (frame - dropped)
        await wait_until(lambda: recorder.stats()["samples_written"] == queued)
        bus.publish(packet(frame))
        await wait_until(lambda: recorder.stats()["frames_overflowed"] == dropped)
        await recorder.stop()
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert recorder.stats()["gaps"] == 1
    first = mne.io.read_raw_bdf(tmp_path / "stalled.bdf", verbose="error")
    second = mne.io.read_raw_bdf(tmp_path / "stalled.part2.bdf", verbose="error")
    lost = dropped * 32
    (end,) = first.annotations
    assert f"{lost} samples" in end["description"]
    assert "recorder queue overflow" in end["description"]
    (start,) = second.annotations
    assert "gap before this sample" in start["description"]
    assert first.n_times + lost + second.n_times == 32 * (frame + 1)
