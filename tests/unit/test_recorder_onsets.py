"""Where a recording puts its annotations: on the samples they name, read back by MNE.

The session's clock model follows the device's drift, so packet stamps stray from the
nominal grid of data records; a marker's place in the file must come from its sample.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from pathlib import Path

import mne
import numpy as np

from eegd.bus import EventBus
from eegd.events import EegPacket, MarkerEvent
from eegd.plugin import PluginContext
from eegd.plugins.recorder import Recorder, RecordingSettings
from tests.support.packets import eeg_packet
from tests.support.waiting import wait_until

RATE = 250
BATCH = 25
#: Each packet's stamps run this much later than the grid: a clock fitted 0.8 % slow.
DRIFT_US_PER_PACKET = 800
ANCHOR_US = 1_700_000_000_000_000


def drifting_packet(frame_id: int) -> EegPacket:
    first = BATCH * frame_id
    return eeg_packet(
        np.full((2, BATCH), 1e-6 * frame_id),
        frame_id=frame_id,
        first_sample=first,
        sample_rate=RATE,
        channel_names=("C3", "C4"),
        anchor_us=ANCHOR_US + DRIFT_US_PER_PACKET * frame_id,
    )


@contextlib.asynccontextmanager
async def running_recorder(directory: Path) -> AsyncIterator[tuple[Recorder, EventBus]]:
    """A recorder into ``directory`` running on its own bus, ready; cancelled afterwards."""
    recorder = Recorder(RecordingSettings(directory=str(directory)))
    bus = EventBus()
    config = {"source": {"kind": "test", "sample_rate": RATE, "batch_size": BATCH}}
    task = asyncio.create_task(
        recorder.run(PluginContext(bus, logging.getLogger("test"), {}, config))
    )
    try:
        await wait_until(lambda: recorder.ready)
        yield recorder, bus
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_markers_land_on_their_samples_when_stamps_drift_from_the_records(
    tmp_path: Path,
) -> None:
    marked = [37, 512, 1013]
    async with running_recorder(tmp_path) as (recorder, bus):
        await recorder.start({"name": "drift"})
        packets = [drifting_packet(frame) for frame in range(48)]
        for packet in packets:
            bus.publish(packet)
            for sample in marked:
                if packet.first_sample <= sample < packet.first_sample + BATCH:
                    stamp = int(packet.timestamps[sample - packet.first_sample])
                    bus.publish(MarkerEvent(label=f"s{sample}", timestamp=stamp, sample=sample))
        await wait_until(lambda: recorder.stats()["samples_written"] == 48 * BATCH)
        await recorder.stop()
    raw = mne.io.read_raw_bdf(tmp_path / "drift.bdf", verbose="error")
    found = {
        annotation["description"]: round(annotation["onset"] * RATE)
        for annotation in raw.annotations
    }
    assert found == {f"s{sample}": sample for sample in marked}


async def test_a_marker_published_just_before_stop_is_in_the_file(tmp_path: Path) -> None:
    """A source's marker can reach the bus after its packet (an LSL marker matched late);
    Stop asked at that moment still writes it."""
    async with running_recorder(tmp_path) as (recorder, bus):
        await recorder.start({"name": "late"})
        packets = [drifting_packet(frame) for frame in range(8)]
        for packet in packets:
            bus.publish(packet)
        await wait_until(lambda: recorder.stats()["samples_written"] == 8 * BATCH)
        sample = 7 * BATCH + 3
        stamp = int(packets[-1].timestamps[3])
        bus.publish(MarkerEvent(label="late", timestamp=stamp, sample=sample))
        await recorder.stop()
    raw = mne.io.read_raw_bdf(tmp_path / "late.bdf", verbose="error")
    found = [
        (annotation["description"], round(annotation["onset"] * RATE))
        for annotation in raw.annotations
    ]
    assert found == [("late", sample)]
