"""The aux stream through the whole daemon: BrainFlow's own synthetic board (the real
library) gives its accelerometer and battery rows on the ``aux`` topic of ``/ws``; a source
without aux has none.

BrainFlow's file streamer keeps its own copy of every row of every sample the board
produces: that copy is the oracle the aux frames are compared with, the columns matched by
their EEG values.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import numpy as np
from brainflow.board_shim import BoardIds, BoardShim, BrainFlowInputParams
from brainflow.data_filter import DataFilter

import eegd.client
from eegd.net.protocol import AuxFrame, EegFrame
from tests.support.live import live_daemon
from tests.support.timing import scaled

SYNTHETIC = int(BoardIds.SYNTHETIC_BOARD)
BRAINFLOW = (
    '[source]\nkind = "brainflow"\nbatch_size = 25\n[source.brainflow]\nboard = "synthetic"\n'
)


async def test_brainflows_accelerometer_rows_reach_a_websocket_client_as_aux_frames(
    tmp_path: Path,
) -> None:
    copy = f"file://{tmp_path / 'board.csv'}:w"
    eeg: dict[int, EegFrame] = {}
    aux: list[AuxFrame] = []
    async with (
        live_daemon(BRAINFLOW) as live,
        eegd.client.connect(live.ws_url + "ws", ["raw_eeg", "aux"]) as stream,
    ):
        board = BoardShim(SYNTHETIC, BrainFlowInputParams())  # the same board, as a client
        board.add_streamer(copy)
        try:
            async with asyncio.timeout(scaled(30)):
                async for item in stream:
                    if isinstance(item, AuxFrame):
                        assert item.frame_id not in eeg  # sent before its EEG frame
                        aux.append(item)
                    elif isinstance(item, EegFrame):
                        eeg[item.frame_id] = item
                    if len(aux) >= 20 and aux[-1].frame_id in eeg:
                        break
        finally:
            board.delete_streamer(copy)
        hello = stream.hello
    assert hello is not None
    assert hello.aux is not None
    assert "aux" in hello.topics
    assert hello.aux.channels == ("AccelX", "AccelY", "AccelZ", "Battery")
    assert hello.aux.units == ("g", "g", "g", "%")
    assert hello.aux.kinds == ("accelerometer",) * 3 + ("battery",)
    assert hello.aux.sample_rate == BoardShim.get_sampling_rate(SYNTHETIC)
    ids = [frame.frame_id for frame in aux]
    assert ids == list(range(ids[0], ids[0] + len(ids)))
    for frame in aux:  # at the EEG rate: the same indices and stamps as its EEG frame
        assert frame.first_sample == eeg[frame.frame_id].first_sample
        np.testing.assert_array_equal(frame.timestamps, eeg[frame.frame_id].timestamps)
    rows = DataFilter.read_file(str(tmp_path / "board.csv"))
    streamed_eeg = rows[list(BoardShim.get_eeg_channels(SYNTHETIC))]
    streamed_aux = rows[[*BoardShim.get_accel_channels(SYNTHETIC), 29]]
    assert BoardShim.get_battery_channel(SYNTHETIC) == 29
    checked = 0
    for frame in aux[-10:]:  # frames read after the streamer started
        samples = eeg[frame.frame_id].samples_uv.astype(np.float64)
        matches = np.flatnonzero(np.all(np.abs(streamed_eeg - samples[:, :1]) < 1e-3, axis=0))
        if matches.size != 1 or matches[0] + frame.n_samples > rows.shape[1]:
            continue
        column = int(matches[0])
        span = slice(column, column + frame.n_samples)
        assert np.allclose(streamed_eeg[:, span], samples, atol=1e-3)
        # the streamer's CSV keeps 6 decimals, the frame BrainFlow's value as float32
        float32 = float(np.finfo(np.float32).eps)
        np.testing.assert_allclose(frame.values, streamed_aux[:, span], rtol=float32, atol=1e-6)
        checked += 1
    assert checked >= 5
    assert 0.5 < float(np.min(streamed_aux[:3]))
    assert float(np.max(streamed_aux[:3])) < 1.5


async def test_a_source_without_aux_has_no_aux_topic_and_sends_no_aux_frames() -> None:
    frames: list[object] = []
    async with (
        live_daemon('[source]\nkind = "synthetic"\nbatch_size = 25\n') as live,
        eegd.client.connect(live.ws_url + "ws", ["aux", "raw_eeg"]) as stream,
    ):
        async with asyncio.timeout(scaled(30)):
            async for item in stream:
                frames.append(item)
                if sum(isinstance(frame, EegFrame) for frame in frames) >= 5:
                    break
        hello = stream.hello
    assert hello is not None
    assert hello.aux is None
    assert "aux" not in hello.topics
    assert not any(isinstance(frame, AuxFrame) for frame in frames)
