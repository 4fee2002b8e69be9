"""BIDS export end to end: the in-process daemon records the synthetic source on a stepped
clock, ``POST /api/recordings/{name}/bids`` exports it, and mne-bids reads it back.

What was published on ``raw_eeg`` and ``marker`` (the test's own subscriptions on the
daemon's bus) is the truth the dataset is compared with; electrode positions are MNE's own
10-20 template.
"""

from __future__ import annotations

import asyncio
import csv
import json
import sys
from pathlib import Path
from typing import Any

import mne
import mne_bids
import numpy as np
import pytest
from brainflow.board_shim import BoardIds, BoardShim, BrainFlowInputParams
from brainflow.data_filter import DataFilter

import eegd
from eegd.bus import DropPolicy
from eegd.cli import main
from eegd.events import EegPacket, MarkerEvent, Topic
from tests.integration.test_recording import (
    LSB_V,
    api,
    published_events,
    raw_log,
    recorder_of,
    recording_daemon,
    sidecar,
    volts_of,
)
from tests.integration.test_recording_crash import record_then_kill_9
from tests.support.live import LiveDaemon, live_daemon, stop_recording
from tests.support.timing import scaled
from tests.support.waiting import wait_until

SYNTHETIC = int(BoardIds.SYNTHETIC_BOARD)
NAMES = ("Fp1", "Fp2", "C3", "C4", "P3", "P4", "O1", "O2")


async def written(live: LiveDaemon, samples: int) -> None:
    recorder = recorder_of(live)
    await wait_until(lambda: recorder.stats()["samples_written"] >= samples)


async def record_with_markers(
    live: LiveDaemon, name: str
) -> tuple[list[EegPacket], list[MarkerEvent]]:
    """A 4 s recording with markers at samples 250 and 627 of it; what was published."""
    marks = live.daemon.bus.subscribe([Topic.MARKER], maxsize=100, policy=DropPolicy.DROP_NEWEST)
    with raw_log(live) as log, marks:
        await api(live, "POST", "api/recordings", {"name": name, "notes": "for BIDS"})
        await live.release(20)
        await written(live, 20 * 32)
        packets = published_events(log)
        first = packets[0]
        assert isinstance(first, EegPacket)
        for offset, label in ((250, "eyes closed"), (627, "stimulus\tA")):
            stamp = int(first.timestamps[0]) + offset * 4000
            await api(live, "POST", "api/markers", {"label": label, "timestamp_us": stamp})
        await live.release(11)
        await written(live, 31 * 32)
        await stop_recording(live)  # the 32nd packet holds the sample of Stop's moment
        packets += published_events(log)
        markers = [item for item in published_events(marks) if isinstance(item, MarkerEvent)]
    return packets, markers


def bids_path(root: Path, **entities: Any) -> mne_bids.BIDSPath:
    return mne_bids.BIDSPath(root=root, datatype="eeg", **entities)


def events_table(path: mne_bids.BIDSPath) -> list[dict[str, str]]:
    events = path.copy().update(suffix="events", extension=".tsv")
    with events.fpath.open(newline="") as file:
        return list(csv.DictReader(file, delimiter="\t"))


@pytest.mark.parametrize("file_format", ["bdf", "edf"])
async def test_an_exported_recording_reads_back_in_mne_bids_with_its_samples_and_events(
    tmp_path: Path, file_format: str
) -> None:
    async with recording_daemon(tmp_path, file_format) as live:
        packets, markers = await record_with_markers(live, "session-one")
        reply = await api(
            live,
            "POST",
            "api/recordings/session-one/bids",
            {"subject": "07", "session": "2", "task": "eyes", "run": 3},
        )
    meta = sidecar(tmp_path, "session-one")
    root = tmp_path / "bids"
    path = bids_path(root, subject="07", session="2", task="eyes", run=3)
    expected_file = root / "sub-07/ses-2/eeg" / f"sub-07_ses-2_task-eyes_run-3_eeg.{file_format}"
    assert reply["file"] == str(expected_file)
    assert expected_file.is_file()

    raw = mne_bids.read_raw_bids(path, verbose="error")
    raw.load_data()
    assert tuple(raw.ch_names) == NAMES
    assert raw.info["sfreq"] == 250
    assert raw.n_times == 32 * 32
    assert set(raw.get_channel_types()) == {"eeg"}
    published = volts_of(packets, meta["first_sample"], raw.n_times)
    low, high = np.array(meta["calibration"]["physical_range"], dtype=np.float64).T * 1e-6
    digital_low, digital_high = meta["calibration"]["digital_range"]
    half_step = (high - low) / (digital_high - digital_low) / 2  # as the file's header says
    assert np.all(np.abs(raw.get_data() - published) <= half_step[:, np.newaxis] * (1 + 1e-6))
    if file_format == "bdf":
        assert np.allclose(half_step, LSB_V / 2, rtol=1e-6)  # BDF holds the ADC's own counts

    # Each marker is an event at its own sample, with its label (a tab is a space in TSV).
    assert [marker.label for marker in markers] == ["eyes closed", "stimulus\tA"]
    rows = events_table(path)
    assert [row["trial_type"] for row in rows] == ["eyes closed", "stimulus A"]
    samples = [marker.sample - meta["first_sample"] for marker in markers if marker.sample]
    assert [int(row["sample"]) for row in rows] == samples == [250, 627]
    assert [float(row["onset"]) for row in rows] == [250 / 250, 627 / 250]
    onsets = np.round(raw.annotations.onset * 250).astype(int).tolist()
    assert onsets == [250, 627]
    assert list(raw.annotations.description) == ["eyes closed", "stimulus A"]

    with (path.copy().update(suffix="channels", extension=".tsv")).fpath.open() as file:
        channels = list(csv.DictReader(file, delimiter="\t"))
    assert [row["name"] for row in channels] == list(NAMES)
    assert {row["type"] for row in channels} == {"EEG"}
    assert {row["units"] for row in channels} == {"µV"}

    eeg_json = json.loads(path.copy().update(suffix="eeg", extension=".json").fpath.read_text())
    assert eeg_json["TaskName"] == "eyes"
    assert eeg_json["SamplingFrequency"] == 250
    assert eeg_json["PowerLineFrequency"] == 50
    assert eeg_json["SoftwareVersions"] == f"eegd {eegd.__version__}"
    assert eeg_json["Manufacturer"] == "n/a"
    assert eeg_json["ManufacturersModelName"] == "eegd synthetic source"
    provenance = eeg_json["eegd"]
    assert provenance["status"] == "complete"
    assert provenance["notes"] == "for BIDS"
    assert provenance["source"]["kind"] == "synthetic"
    assert provenance["first_sample"] == meta["first_sample"]
    assert provenance["ledger"]["samples_written"] == 32 * 32
    assert "auth" not in provenance["config"]
    assert provenance["config"]["recording"]["format"] == file_format

    # The 10-20 channels sit where MNE's template puts them.
    template = mne.channels.make_standard_montage("colin27_1020")
    expected = mne.create_info(list(NAMES), 250, "eeg")
    with mne.utils.use_log_level("error"):
        placed = mne.io.RawArray(np.zeros((8, 1)), expected).set_montage(template)
    read_back = raw.get_montage().get_positions()["ch_pos"]
    for name, position in placed.get_montage().get_positions()["ch_pos"].items():
        assert np.allclose(read_back[name], position, atol=1e-6), name


async def test_exports_that_cannot_be_done_are_refused_saying_why(tmp_path: Path) -> None:
    async with recording_daemon(tmp_path) as live:
        missing = await api(live, "POST", "api/recordings/nothing/bids", {}, status=404)
        assert (missing["code"], missing["message"]) == ("not_found", "no recording named nothing")
        unsafe = await api(live, "POST", "api/recordings/..%2Fx/bids", {}, status=400)
        assert unsafe["code"] == "bad_name"

        await api(live, "POST", "api/recordings", {"name": "busy"})
        await live.release(3)
        await written(live, 3 * 32)
        writing = await api(live, "POST", "api/recordings/busy/bids", {}, status=409)
        assert writing["code"] == "recording"
        assert "busy is being written" in writing["message"]
        await stop_recording(live)  # the 4th packet holds the sample of Stop's moment

        label = await api(live, "POST", "api/recordings/busy/bids", {"subject": "s_1"}, status=400)
        assert label["code"] == "bad_field"
        assert label["message"].startswith("subject: 's_1' is not a BIDS label")
        assert not (tmp_path / "bids").exists()

        first = await api(live, "POST", "api/recordings/busy/bids", {})
        again = await api(live, "POST", "api/recordings/busy/bids", {}, status=409)
        assert again["code"] == "exists"
        assert "sub-01_task-rest_eeg.bdf exists already" in again["message"]
        replaced = await api(live, "POST", "api/recordings/busy/bids", {"overwrite": True})
    assert replaced["file"] == first["file"]
    raw = mne_bids.read_raw_bids(bids_path(tmp_path / "bids", subject="01", task="rest"))
    assert raw.n_times == 4 * 32


async def test_a_csv_recording_is_refused_naming_the_formats_mne_bids_takes(
    tmp_path: Path,
) -> None:
    async with recording_daemon(tmp_path, "csv") as live:
        await api(live, "POST", "api/recordings", {"name": "table"})
        await live.release(2)
        await written(live, 2 * 32)
        await stop_recording(live)
        refused = await api(live, "POST", "api/recordings/table/bids", {}, status=409)
    assert refused["code"] == "unsupported_format"
    assert "table is csv" in refused["message"]
    assert "EDF or BDF" in refused["message"]
    assert "record as bdf" in refused["message"]


def export_cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["export", *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


async def test_a_recording_recovered_after_kill_9_exports_from_the_cli_and_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    await record_then_kill_9(tmp_path, "crashed", 250)
    config = tmp_path / "eegd.toml"
    root = tmp_path / "dataset"
    code, out, err = export_cli(capsys, "--bids", str(root), "crashed", "--config", str(config))
    assert (code, out) == (1, "")
    assert "crashed is being written" in err
    assert "recovered when eegd starts again" in err

    async with recording_daemon(tmp_path):
        pass  # its start recovers the recording
    data = tmp_path / "crashed.bdf"
    code, out, err = export_cli(capsys, "--bids", str(root), str(data), "--task", "crash")
    assert code == 0, err
    assert out.strip() == str(root / "sub-01" / "eeg" / "sub-01_task-crash_eeg.bdf")
    assert "recording crashed (recovered) exported" in err

    kept = mne.io.read_raw_bdf(data, preload=True, verbose="error")
    raw = mne_bids.read_raw_bids(bids_path(root, subject="01", task="crash"), verbose="error")
    assert raw.n_times == kept.n_times == sidecar(tmp_path, "crashed")["samples"] >= 250
    assert np.array_equal(raw.get_data(), kept.get_data())
    path = bids_path(root, subject="01", task="crash", suffix="eeg", extension=".json")
    provenance = json.loads(path.fpath.read_text())["eegd"]
    assert provenance["status"] == "recovered"
    assert provenance["note"].startswith("recovered: the daemon stopped without finishing")
    assert provenance["recovered_at"] == sidecar(tmp_path, "crashed")["recovered_at"]


def test_without_mne_bids_the_cli_says_how_to_install_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "mne_bids", None)  # what import finds when it is missing
    code, out, err = export_cli(capsys, "--bids", str(tmp_path), str(tmp_path / "x.bdf"))
    assert (code, out) == (1, "")
    assert err == (
        "eegd: error: BIDS export needs mne-bids, which is missing; "
        "install it with: pip install 'eegd[bids]'\n"
    )


def test_a_bad_label_on_the_command_line_is_named_with_exit_code_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = export_cli(capsys, "--bids", str(tmp_path), "x", "--session", "pre-op")
    assert code == 2
    assert err.startswith("eegd: error: session: 'pre-op' is not a BIDS label (allowed: letters")


async def test_a_marker_on_brainflows_board_is_an_event_at_its_sample_in_the_dataset(
    tmp_path: Path,
) -> None:
    # BrainFlow's file streamer keeps its own copy of every sample, marker row included: the
    # marked sample's EEG values there are the oracle of where the marker belongs.
    copy = f"file://{tmp_path / 'board.csv'}:w"
    toml = (
        '[source]\nkind = "brainflow"\nbatch_size = 25\n'
        f'[source.brainflow]\nboard = "synthetic"\n[recording]\ndirectory = "{tmp_path}"\n'
    )
    async with live_daemon(toml) as live:
        await wait_until(lambda: "recorder" in live.daemon.plugins and recorder_of(live).ready)
        marks = live.daemon.bus.subscribe([Topic.MARKER], maxsize=10)
        with marks:
            await api(live, "POST", "api/recordings", {"name": "board"})
            await written(live, 50)
            board = BoardShim(SYNTHETIC, BrainFlowInputParams())  # the same board, as a client
            board.add_streamer(copy)
            board.insert_marker(7)
            async with asyncio.timeout(scaled(10)):
                marker = await anext(aiter(marks))
            assert isinstance(marker, MarkerEvent)
            count = recorder_of(live).stats()["samples_written"]
            await written(live, count + 100)
            board.delete_streamer(copy)
        await stop_recording(live)
        await api(live, "POST", "api/recordings/board/bids", {"task": "board"})
    assert marker.label == "7"
    at = marker.sample - sidecar(tmp_path, "board")["first_sample"]
    path = bids_path(tmp_path / "bids", subject="01", task="board")
    ((row),) = events_table(path)
    assert (row["trial_type"], int(row["sample"])) == ("7", at)
    raw = mne_bids.read_raw_bids(path, verbose="error")
    aux = ("AccelX", "AccelY", "AccelZ", "Battery")  # the board's aux rows, after the EEG
    assert tuple(raw.ch_names) == (*BoardShim.get_eeg_names(SYNTHETIC), *aux)
    rows = DataFilter.read_file(str(tmp_path / "board.csv"))
    (column,) = np.flatnonzero(rows[BoardShim.get_marker_channel(SYNTHETIC)])
    streamed_uv = rows[list(BoardShim.get_eeg_channels(SYNTHETIC)), column]
    recorded_uv = raw.get_data(picks="eeg", start=at - 1, stop=at + 2) * 1e6
    step_uv = 2 * 187_500 / 2**24
    assert np.allclose(recorded_uv[:, 1], streamed_uv, atol=step_uv)
    assert not np.allclose(recorded_uv[:, 0], streamed_uv, atol=step_uv)
    assert not np.allclose(recorded_uv[:, 2], streamed_uv, atol=step_uv)
