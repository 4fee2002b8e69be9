"""A recording's time: wall-clock steps in the sidecar, markers at their samples and all in
the file, Stop at the sample of the moment it was asked, a name that exists from the start.

The source runs on a stepped clock (its wall clock on the same virtual time), so the test
decides when each packet's time comes and when the wall clock steps.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import mne
import numpy as np

from eegd.plugins.recorder.library import list_recordings, recover_all
from tests.integration.test_recording import (
    api,
    published,
    raw_log,
    recorder_of,
    recording_daemon,
)
from tests.support.live import stop_recording
from tests.support.waiting import wait_until


def sidecar(directory: Path, name: str) -> dict[str, Any]:
    content: dict[str, Any] = json.loads((directory / f"{name}.json").read_text())
    return content


async def test_a_wall_clock_step_is_in_the_sidecar_and_moves_no_stamp(tmp_path: Path) -> None:
    async with recording_daemon(tmp_path) as live:
        assert live.clock is not None
        recorder = recorder_of(live)
        with raw_log(live) as log:
            await api(live, "POST", "api/recordings", {"name": "stepped"})
            await live.release(8)
            live.clock.step_wall_clock(-3_600_000_000)  # NTP sets the time back an hour
            await live.release(8)
            await wait_until(lambda: recorder.stats()["samples_written"] >= 16 * 32)
            await stop_recording(live)
            packets = published(log)
        session = live.daemon.acquisition.session
        assert session is not None
    stamps = np.concatenate([packet.timestamps for packet in packets]).astype(np.int64)
    # 250 Hz on, across the step (the stepped clock lets each packet come a µs late)
    assert np.abs(np.diff(stamps) - 4000).max() <= 1
    meta = sidecar(tmp_path, "stepped")
    (step,) = meta["clock_steps"]
    assert step["step_us"] == -3_600_000_000
    assert step["after_us"] - step["before_us"] == -3_600_000_000
    assert step["session"] == session.id
    assert meta["source"]["utc_offset_us"] == session.utc_offset_us
    raw = mne.io.read_raw_bdf(tmp_path / "stepped.bdf", verbose="error")
    assert raw.n_times == meta["samples"]


async def test_200_markers_in_one_second_then_stop_are_all_in_the_file(tmp_path: Path) -> None:
    async with recording_daemon(tmp_path) as live:
        with raw_log(live) as log:
            await api(live, "POST", "api/recordings", {"name": "burst"})
            await live.release(2)
            replies = []
            for packet in range(8):  # one second of data, 25 markers a packet's time
                await live.release(1)
                for number in range(25):
                    body = {"label": f"m{packet * 25 + number}"}
                    replies.append(await api(live, "POST", "api/markers", body))
            stopped = await stop_recording(live)
            packets = published(log)
    meta = sidecar(tmp_path, "burst")
    assert len(meta["markers"]) == 200
    assert meta["ledger"]["annotations_not_written"] == 0
    raw = mne.io.read_raw_bdf(tmp_path / "burst.bdf", verbose="error")
    onsets = {item["description"]: item["onset"] for item in raw.annotations}
    first = meta["first_sample"]
    assert len([label for label in onsets if label.startswith("m")]) == 200
    for reply in replies:  # each on its sample, which the file holds
        assert abs(onsets[reply["label"]] * 250 - (reply["sample"] - first)) <= 1
        assert reply["sample"] - first < raw.n_times
    # The file ends with the packet that holds the sample of the moment Stop was asked.
    last = max(reply["sample"] for reply in replies)
    assert first + raw.n_times > last
    assert stopped["samples_written"] == raw.n_times
    assert raw.n_times <= sum(p.n_samples for p in packets if p.first_sample >= first)


async def test_a_marker_outside_the_recording_is_refused_naming_the_window(
    tmp_path: Path,
) -> None:
    async with recording_daemon(tmp_path) as live:
        with raw_log(live) as log:
            await live.release(8)
            await api(live, "POST", "api/recordings", {"name": "windowed"})
            await live.release(4)
            packets = published(log)
        recorder = recorder_of(live)
        await wait_until(lambda: recorder.stats()["samples_written"] >= 4 * 32)
        start = sidecar(tmp_path, "windowed")["start_us"]
        assert start > int(packets[0].timestamps[0])
        for moment in (start - 4_000, int(packets[0].timestamps[0]), start + 3_600_000_000):
            body = {"label": "late", "timestamp_us": moment}
            refused = await api(live, "POST", "api/markers", body, status=400)
            assert refused["code"] == "bad_field"
            assert f"allowed from {start} to " in refused["message"]
            assert "recording windowed" in refused["message"]
        inside = await api(live, "POST", "api/markers", {"label": "in", "timestamp_us": start})
        assert inside["timestamp_us"] == start
        await stop_recording(live)


async def test_a_recording_is_on_disk_and_listed_before_its_first_packet(tmp_path: Path) -> None:
    crashed = tmp_path / "crashed"
    crashed.mkdir()
    async with recording_daemon(tmp_path) as live:
        started = await api(live, "POST", "api/recordings", {"name": "early"})
        assert Path(started["path"]).is_file()
        listed = await api(live, "GET", "api/recordings")
        (entry,) = [item for item in listed["recordings"] if item["name"] == "early"]
        assert entry["status"] == "recording"
        # What a crash now would leave behind: the empty file and its sidecar.
        for suffix in (".bdf", ".json"):
            (crashed / f"early{suffix}").write_bytes((tmp_path / f"early{suffix}").read_bytes())
        await stop_recording(live)
    assert recover_all(crashed) == [("early", 0.0)]
    (entry,) = list_recordings(crashed)
    assert (entry["name"], entry["status"], entry["duration_s"]) == ("early", "recovered", 0.0)


async def test_a_recording_stopped_before_its_first_packet_is_complete_and_empty(
    tmp_path: Path,
) -> None:
    async with recording_daemon(tmp_path) as live:
        await api(live, "POST", "api/recordings", {"name": "brief"})
        stopped = await api(live, "POST", "api/recordings/current/stop")
        listed = await api(live, "GET", "api/recordings")
    assert stopped["samples_written"] == 0
    (entry,) = [item for item in listed["recordings"] if item["name"] == "brief"]
    assert (entry["status"], entry["size"], entry["duration_s"]) == ("complete", 0, 0.0)
