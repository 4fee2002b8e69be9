"""What pylsl reads from eegd's outlets: EEG stamps that never step back, each marker on its
sample's EEG stamp, and a burst of markers just before Stop all in the recording.

The daemon's source runs on a stepped clock (LSL times are then that clock's seconds), the
pylsl inlets are the test process's own, over loopback.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import mne
import numpy as np
import pylsl

from eegd.events import FilteredEegPacket, Topic
from eegd.plugins.lsl_outlet import LslOutlet, lsl_times
from tests.integration.test_recording import recorder_of
from tests.integration.test_recording_time import sidecar
from tests.support.live import live_daemon, stop_recording
from tests.support.rest import api
from tests.support.timing import scaled
from tests.support.waiting import wait_until

RATE = 250.0


def inlet_of(predicate: str) -> pylsl.StreamInlet:
    found = pylsl.resolve_bypred(predicate, 1, scaled(10))
    assert found, f"no LSL stream {predicate}"
    inlet = pylsl.StreamInlet(found[0], max_buflen=60)
    inlet.open_stream(scaled(10))
    return inlet


def pull_all(inlet: pylsl.StreamInlet, until: int) -> tuple[list[list[object]], list[float]]:
    """Samples and stamps until ``until`` samples came (or LSL goes quiet)."""
    values: list[list[object]] = []
    stamps: list[float] = []
    while len(values) < until:
        chunk, times = inlet.pull_chunk(timeout=scaled(5), max_samples=until - len(values))
        if not chunk:
            break
        values.extend(chunk)
        stamps.extend(times)
    return values, stamps


async def test_pylsl_sees_monotonic_eeg_stamps_and_each_marker_on_its_sample(
    tmp_path: Path,
) -> None:
    name = f"eegd-time-{os.getpid()}"
    toml = (
        'plugins = ["voltage_filter", "recorder", "lsl_outlet"]\n'
        f'[recording]\ndirectory = "{tmp_path}"\n[plugin.lsl_outlet]\nname = "{name}"\n'
    )
    async with live_daemon(toml, stepped=True) as live:
        await wait_until(lambda: "recorder" in live.daemon.plugins and recorder_of(live).ready)
        outlet = live.daemon.plugins["lsl_outlet"]
        assert isinstance(outlet, LslOutlet)
        await live.release(1)  # the first packet opens the EEG outlet
        await wait_until(lambda: outlet.stats()["chunks_pushed"] >= 1, timeout=10)
        eeg = await asyncio.to_thread(inlet_of, f"name='{name}' and type='EEG'")
        marks = await asyncio.to_thread(inlet_of, f"name='{name}-markers' and type='Markers'")
        pushed_before = outlet.stats()["samples_pushed"]
        with live.daemon.bus.subscribe([Topic.FILTERED_EEG], maxsize=10_000) as filtered:
            await api(live, "POST", "api/recordings", {"name": "lsl"})
            replies = []
            for packet in range(20):
                await live.release(1)
                replies.append(await api(live, "POST", "api/markers", {"label": f"p{packet}"}))
            for number in range(40):  # a burst just before Stop
                replies.append(await api(live, "POST", "api/markers", {"label": f"b{number}"}))
            await stop_recording(live)
            packets = []
            while (event := filtered.get_nowait()) is not None:
                assert isinstance(event, FilteredEegPacket)
                packets.append(event)
        await wait_until(lambda: outlet.stats()["markers_pushed"] >= 60, timeout=10)
        await wait_until(lambda: outlet.stats()["chunks_pushed"] >= packets[-1].frame_id + 1)
        pushed = outlet.stats()["samples_pushed"] - pushed_before
        _, eeg_stamps = await asyncio.to_thread(pull_all, eeg, pushed)
        labels, mark_stamps = await asyncio.to_thread(pull_all, marks, 60 + 2)  # and the
        # recording_started and recording_stopped events
        session = live.daemon.acquisition.session
        assert session is not None
    stamps = np.asarray(eeg_stamps)
    assert stamps.size == pushed
    assert np.all(np.diff(stamps) > 0)  # never a step back
    # What pylsl got is what eegd's stamps say on LSL's clock, for the packets seen here.
    lsl = {
        packet.first_sample + k: stamp
        for packet in packets
        for k, stamp in enumerate(lsl_times(packet.timestamps, session.utc_offset_us))
    }
    seen = np.asarray(list(lsl.values()))
    np.testing.assert_allclose(stamps[-seen.size :], seen, atol=1e-6)
    by_label = {value[0]: stamp for value, stamp in zip(labels, mark_stamps, strict=True)}
    for reply in replies:
        stamp = by_label[reply["label"]]
        assert abs(stamp - lsl[reply["sample"]]) <= 1 / RATE  # on its sample's EEG stamp
        nearest = min(lsl, key=lambda sample, stamp=stamp: abs(lsl[sample] - stamp))
        assert abs(nearest - reply["sample"]) <= 1
    raw = mne.io.read_raw_bdf(tmp_path / "lsl.bdf", verbose="error")
    burst = [item for item in raw.annotations if item["description"].startswith("b")]
    assert len(burst) == 40
    first = sidecar(tmp_path, "lsl")["first_sample"]
    onsets = {item["description"]: item["onset"] for item in raw.annotations}
    for reply in replies:
        assert abs(onsets[reply["label"]] * RATE - (reply["sample"] - first)) <= 1
