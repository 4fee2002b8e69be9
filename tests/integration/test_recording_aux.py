"""A recording from BrainFlow's own synthetic board (the real library) through eegd holds its
accelerometer and battery rows as signals of the same EDF/BDF file, which MNE reads back
with the values BrainFlow produced, the EEG unchanged; the sidecar describes them; a BIDS
export of it reads back with mne-bids.

BrainFlow's file streamer keeps its own copy of every row of every sample the board
produces: that copy is the oracle, the recording's first sample found in it by its EEG
values.
"""

from __future__ import annotations

import csv
from pathlib import Path

import mne
import mne_bids
import numpy as np
import pytest
from brainflow.board_shim import BoardIds, BoardShim, BrainFlowInputParams
from brainflow.data_filter import DataFilter

from tests.integration.test_bids_export import bids_path, written
from tests.integration.test_recording import api, published, raw_log, recorder_of, sidecar
from tests.support.live import live_daemon
from tests.support.waiting import wait_until

SYNTHETIC = int(BoardIds.SYNTHETIC_BOARD)
AUX = ("AccelX", "AccelY", "AccelZ", "Battery")
#: BrainFlow's accelerometer rows, then its battery row.
AUX_ROWS = [*BoardShim.get_accel_channels(SYNTHETIC), BoardShim.get_battery_channel(SYNTHETIC)]
#: What each aux channel spans (eegd's declared range) and the EEG's, in their units.
AUX_SPANS = np.array([32.0, 32.0, 32.0, 100.0])
EEG_SPAN_UV = 2 * 187_500.0


def config(directory: Path, file_format: str) -> str:
    return (
        '[source]\nkind = "brainflow"\nbatch_size = 25\n'
        '[source.brainflow]\nboard = "synthetic"\n'
        f'[recording]\ndirectory = "{directory}"\nformat = "{file_format}"\n'
    )


async def record_board(directory: Path, file_format: str, name: str) -> list[object]:
    """Record 2 s of the synthetic board with BrainFlow's streamer copying every row."""
    copy = f"file://{directory.parent / 'board.csv'}:w"  # beside the recordings, not one
    async with live_daemon(config(directory, file_format)) as live:
        await wait_until(lambda: "recorder" in live.daemon.plugins and recorder_of(live).ready)
        board = BoardShim(SYNTHETIC, BrainFlowInputParams())  # the same board, as a client
        board.add_streamer(copy)
        try:
            with raw_log(live) as log:
                await api(live, "POST", "api/recordings", {"name": name})
                await written(live, 500)
                await api(live, "POST", "api/recordings/current/stop")
                packets: list[object] = list(published(log))
        finally:
            board.delete_streamer(copy)
    return packets


def streamed_overlap(directory: Path, recorded_uv: np.ndarray) -> tuple[int, np.ndarray]:
    """Where the recording and BrainFlow's copy of the board's rows start to overlap, in the
    recording, and the copy's rows over the rest of the recording. The streamer is added
    before the recording starts, but eegd may still hold samples from before it, so either
    may begin first: on a loaded machine the recording can start rows after the streamer."""
    rows = DataFilter.read_file(str(directory.parent / "board.csv"))
    eeg = rows[list(BoardShim.get_eeg_channels(SYNTHETIC))]
    step_uv = EEG_SPAN_UV / 2**16  # EDF's, the coarser

    def columns_of(columns: np.ndarray, column: np.ndarray) -> np.ndarray:
        return np.flatnonzero(np.all(np.abs(columns - column) <= step_uv, axis=0))

    streamer_first = columns_of(recorded_uv, eeg[:, :1])
    if streamer_first.size:
        (at,), skip = streamer_first, 0
    else:
        at, (skip,) = 0, columns_of(eeg, recorded_uv[:, :1])
    count = min(recorded_uv.shape[1] - int(at), rows.shape[1] - int(skip))
    assert np.all(np.abs(eeg[:, skip : skip + count] - recorded_uv[:, at : at + count]) <= step_uv)
    return int(at), rows[:, skip : skip + count]


@pytest.mark.parametrize(("file_format", "bits"), [("bdf", 24), ("edf", 16)])
async def test_brainflows_accelerometer_is_recorded_beside_the_eeg_and_mne_reads_it_back(
    tmp_path: Path, file_format: str, bits: int
) -> None:
    directory = tmp_path / "recordings"
    packets = await record_board(directory, file_format, "board")
    reader = mne.io.read_raw_bdf if file_format == "bdf" else mne.io.read_raw_edf
    raw = reader(directory / f"board.{file_format}", preload=True, verbose="error")
    eeg_names = tuple(BoardShim.get_eeg_names(SYNTHETIC))
    assert tuple(raw.ch_names) == (*eeg_names, *AUX)
    assert raw.info["sfreq"] == 250
    assert raw.n_times >= 500
    recorded_uv = raw.get_data(picks=list(eeg_names)) * 1e6
    recorded_aux = raw.get_data(picks=list(AUX))
    meta = sidecar(directory, "board")
    # The EEG is the samples eegd published, to the file's step.
    first = meta["first_sample"]
    volts = np.concatenate([packet.volts for packet in packets], axis=1).astype(np.float64)  # type: ignore[attr-defined]
    start = first - packets[0].first_sample  # type: ignore[attr-defined]
    published_uv = volts[:, start : start + raw.n_times] * 1e6
    assert np.max(np.abs(recorded_uv - published_uv)) <= EEG_SPAN_UV / (2**bits - 1)
    # The aux rows are BrainFlow's, to the file's step (and the streamer's 6 decimals).
    at, columns = streamed_overlap(directory, recorded_uv)
    assert columns.shape[1] >= 400
    recorded_aux_there = recorded_aux[:, at : at + columns.shape[1]]
    # Half a step of the file, the bus's float32 rounding and the streamer's 6 decimals.
    expected = columns[AUX_ROWS]
    tolerance = (AUX_SPANS / (2**bits - 1) / 2)[:, np.newaxis] + np.abs(expected) * 2**-24 + 1e-6
    assert np.all(np.abs(recorded_aux_there - expected) <= tolerance)
    assert 0.5 < float(recorded_aux[:3].min())
    assert float(recorded_aux[:3].max()) < 1.5
    aux = meta["aux"]
    assert aux["channels"] == list(AUX)
    assert aux["units"] == ["g", "g", "g", "%"]
    assert aux["kinds"] == ["accelerometer"] * 3 + ["battery"]
    assert aux["sample_rate"] == 250
    assert aux["in_file"] is True
    assert aux["samples_per_record"] == 25
    assert aux["first_sample"] == first
    ledger = meta["ledger"]
    assert ledger["aux_samples_written"] == raw.n_times
    assert ledger["aux_samples_padded"] == ledger["aux_samples_dropped"] == 0


async def test_a_bids_export_of_a_recording_with_aux_reads_back_with_mne_bids(
    tmp_path: Path,
) -> None:
    directory = tmp_path / "recordings"
    await record_board(directory, "bdf", "board")
    async with live_daemon(config(directory, "bdf")) as live:
        await wait_until(lambda: "recorder" in live.daemon.plugins and recorder_of(live).ready)
        await api(live, "POST", "api/recordings/board/bids", {"task": "aux"})
    path = bids_path(directory / "bids", subject="01", task="aux")
    raw = mne_bids.read_raw_bids(path, verbose="error")
    eeg_names = list(BoardShim.get_eeg_names(SYNTHETIC))
    assert raw.ch_names == [*eeg_names, *AUX]
    assert raw.get_channel_types(picks=list(AUX)) == ["misc"] * 4
    assert raw.get_channel_types(picks=eeg_names) == ["eeg"] * 16
    direct = mne.io.read_raw_bdf(directory / "board.bdf", preload=True, verbose="error")
    np.testing.assert_array_equal(raw.get_data(), direct.get_data())
    channels = path.copy().update(suffix="channels", extension=".tsv")
    with channels.fpath.open(newline="") as table:
        rows = {row["name"]: row for row in csv.DictReader(table, delimiter="\t")}
    assert [rows[name]["type"] for name in AUX] == ["MISC"] * 4
    assert [rows[name]["units"] for name in AUX] == ["g", "g", "g", "%"]
