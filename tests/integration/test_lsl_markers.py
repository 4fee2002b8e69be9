"""Markers both ways between eegd and the Lab Streaming Layer, on loopback.

eegd → LSL: a marker put through eegd's API goes out on its ``Markers`` outlet, stamped
with the LSL time of its sample on the EEG outlet's clock. LSL → eegd: a stimulus
program's ``Markers`` stream, named by ``[source.lsl] markers``, lands in an eegd recording
at the sample of the EEG stream taken at the marker's time. The LSL peers here are pylsl
outlets and inlets of the test process: real LSL over loopback sockets, cheaper than a
process of their own.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import mne
import numpy as np
import pylsl

from eegd.events import FilteredEegPacket, MarkerEvent, Topic
from eegd.plugins.lsl_outlet import LslOutlet, lsl_times
from eegd.plugins.recorder import Recorder
from tests.support.live import live_daemon, stop_recording
from tests.support.rest import api
from tests.support.timing import scaled
from tests.support.waiting import wait_until

RATE = 500.0
CHANNELS = 4


def pull_until(inlet: pylsl.StreamInlet, label: str) -> tuple[list[str], float]:
    """Every marker up to the one labelled ``label``, and that one's LSL time."""
    seen: list[str] = []
    for _ in range(1000):
        sample, stamp = inlet.pull_sample(timeout=scaled(10))
        if sample is None:
            break
        seen.append(sample[0])
        if sample[0] == label:
            return seen, stamp
    raise AssertionError(f"no {label!r} marker on the LSL outlet; saw {seen}")


async def test_a_marker_put_through_the_api_goes_out_on_the_lsl_markers_outlet() -> None:
    name = f"eegd-marks-{os.getpid()}"
    toml = (
        f'plugins = ["voltage_filter", "recorder", "lsl_outlet"]\n'
        f'[plugin.lsl_outlet]\nname = "{name}"\n'
    )
    async with live_daemon(toml, stepped=True) as live:
        outlet = live.daemon.plugins["lsl_outlet"]
        assert isinstance(outlet, LslOutlet)
        found = await asyncio.to_thread(
            pylsl.resolve_bypred, f"name='{name}-markers' and type='Markers'", 1, scaled(10)
        )
        assert found, "eegd's Markers outlet was not found"
        inlet = pylsl.StreamInlet(found[0])
        await asyncio.to_thread(inlet.open_stream, scaled(10))
        with live.daemon.bus.subscribe([Topic.FILTERED_EEG], maxsize=16) as filtered:
            await live.release(4)
            await wait_until(lambda: outlet.stats()["chunks_pushed"] >= 4, timeout=10)
            packets = [filtered.get_nowait() for _ in range(4)]
        last = packets[-1]
        assert isinstance(last, FilteredEegPacket)
        moment = int(last.timestamps[10])  # the 11th sample of the last packet out
        reply = await api(
            live, "POST", "api/markers", {"label": "stimulus 1", "timestamp_us": moment}
        )
        seen, stamp = await asyncio.to_thread(pull_until, inlet, "stimulus 1")
        inlet.close_stream()
        session = live.daemon.acquisition.session
        assert session is not None
    assert reply["sample"] == last.first_sample + 10
    assert reply["timestamp_us"] == moment
    assert seen.count("stimulus 1") == 1
    eeg_stamps = lsl_times(last.timestamps, session.utc_offset_us)
    assert abs(stamp - eeg_stamps[10]) < 2e-6  # on the EEG outlet's clock, at its sample


async def test_a_marker_from_an_lsl_markers_stream_lands_in_a_recording_at_its_sample(
    tmp_path: Path,
) -> None:
    name = f"amp-marked-{os.getpid()}"
    eeg = pylsl.StreamOutlet(
        pylsl.StreamInfo(name, "EEG", CHANNELS, RATE, pylsl.cf_float32, f"{name}-id")
    )
    stimuli = pylsl.StreamOutlet(
        pylsl.StreamInfo(
            f"{name}-stim", "Markers", 1, pylsl.IRREGULAR_RATE, pylsl.cf_string, f"{name}-s"
        )
    )
    toml = (
        f'plugins = ["recorder"]\n[recording]\ndirectory = "{tmp_path}"\nformat = "bdf"\n'
        f'[source]\nkind = "lsl"\n[source.lsl]\nname = "{name}"\nmarkers = "{name}-stim"\n'
        "stall_timeout_s = 60\n"
    )
    start = pylsl.local_clock()
    pushed = 0

    def push(samples: int) -> None:
        """The amplifier's next ``samples`` (each sample's value: its index, in µV), stamped
        by its own clock."""
        nonlocal pushed
        values = np.repeat(np.arange(pushed, pushed + samples, dtype=np.float32), CHANNELS)
        eeg.push_chunk(
            values.reshape(samples, CHANNELS), [start + (pushed + i) / RATE for i in range(samples)]
        )
        pushed += samples

    marked = 300  # the sample the stimulus came at
    async with live_daemon(toml) as live:
        recorder = live.daemon.plugins["recorder"]
        assert isinstance(recorder, Recorder)
        acquisition = live.daemon.acquisition
        await wait_until(lambda: recorder.ready and stimuli.have_consumers(), timeout=10)
        with live.daemon.bus.subscribe([Topic.MARKER], maxsize=100) as markers:
            await api(live, "POST", "api/recordings", {"name": "stimulated"})
            push(400)
            stimuli.push_sample(["stimulus"], start + (marked + 0.3) / RATE)
            while (marker := markers.get_nowait()) is None:  # a block at a time until it comes
                target = acquisition.stats().frames_published + 1
                push(32)
                await wait_until(lambda t=target: acquisition.stats().frames_published >= t, 10)
            session = acquisition.session
            written = acquisition.stats().samples_acquired
            await wait_until(lambda: recorder.stats()["samples_written"] >= written, timeout=10)
            await stop_recording(live)
    assert session is not None
    assert isinstance(marker, MarkerEvent)
    assert (marker.label, marker.sample, marker.session) == ("stimulus", marked, session.id)
    raw = mne.io.read_raw_bdf(tmp_path / "stimulated.bdf", verbose="error")
    (annotation,) = [item for item in raw.annotations if item["description"] == "stimulus"]
    assert abs(annotation["onset"] * RATE - marked) <= 1  # ± one sample period
    # The recording starts at the stream's sample 0: each sample's value is its index.
    assert abs(raw.get_data(picks=[0])[0, marked] * 1e6 - marked) < 0.05
