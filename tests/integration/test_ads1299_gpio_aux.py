"""The chip's GPIO input pins through the whole daemon: the ADS1299 driver on its real
spidev/gpiod code path, talking to the held-out chip model, gives the levels the model
drove on the ``aux`` topic of ``/ws`` and in a recording MNE reads back, sample by sample,
and on the LSL aux outlet (real pylsl), described as GPIO channels.

The model runs on its own clock as fast as the host reads it; every expectation comes from
what the model put in each conversion's status word (``ADS1299Model.gpio_shifted``).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from pathlib import Path

import mne
import numpy as np
import pytest

import eegd.client
from eegd.net.protocol import AuxFrame, EegFrame
from eegd.sources.ads1299 import ADS1299Settings, ADS1299Source
from eegd.sources.ads1299.hardware import open_hardware
from tests.integration.test_bids_export import written
from tests.integration.test_lsl_aux import channels_of, pull, stream_of
from tests.integration.test_recording import recorder_of, sidecar
from tests.support.clock_gate import ClockGate
from tests.support.gpio_levels import driven_levels, random_levels
from tests.support.live import live_daemon
from tests.support.rest import api
from tests.support.standin import SeedBoard, install
from tests.support.timing import scaled
from tests.support.waiting import wait_until

RATE = 250
PINS = (3, 1)


@pytest.fixture
def board(monkeypatch: pytest.MonkeyPatch) -> SeedBoard:
    seed_board = SeedBoard()
    install(monkeypatch, seed_board)
    seed_board.chip.inputs.gpio = {pin: random_levels(pin, RATE) for pin in PINS}
    return seed_board


def chip_on(board: SeedBoard) -> Callable[[], ADS1299Source]:
    settings = ADS1299Settings.from_mapping({"gpio_inputs": list(PINS)})
    return lambda: ADS1299Source(
        settings, 8, RATE, hardware=lambda: open_hardware(settings, clock=board.clock)
    )


def config(plugins: str = "", tables: str = "") -> str:
    return f'plugins = [{plugins}]\n[source]\nkind = "ads1299"\nbatch_size = 25\n{tables}'


async def test_input_pin_levels_reach_a_websocket_client_at_their_samples(
    board: SeedBoard,
) -> None:
    eeg: dict[int, EegFrame] = {}
    aux: list[AuxFrame] = []
    async with (
        live_daemon(config(), source=chip_on(board)) as live,
        eegd.client.connect(live.ws_url + "ws", ["raw_eeg", "aux"]) as stream,
    ):
        async with asyncio.timeout(scaled(30)):
            async for item in stream:
                if isinstance(item, AuxFrame):
                    aux.append(item)
                elif isinstance(item, EegFrame):
                    eeg[item.frame_id] = item
                if len(aux) >= 20 and aux[-1].frame_id in eeg:
                    break
        hello = stream.hello
    assert hello is not None
    assert hello.aux is not None
    assert hello.aux.channels == ("GPIO3", "GPIO1")
    assert hello.aux.kinds == ("gpio", "gpio")
    assert hello.aux.units == ("", "")
    assert hello.aux.sample_rate == RATE
    assert hello.aux.physical_range == ((0.0, 1.0), (0.0, 1.0))
    for frame in aux:
        expected = driven_levels(board.chip, frame.first_sample, frame.n_samples, PINS)
        np.testing.assert_array_equal(frame.values, expected)
        if frame.frame_id in eeg:
            assert frame.first_sample == eeg[frame.frame_id].first_sample


@pytest.mark.parametrize("file_format", ["bdf", "edf"])
async def test_input_pin_levels_are_recorded_and_mne_reads_them_back(
    board: SeedBoard, tmp_path: Path, file_format: str
) -> None:
    directory = tmp_path / "recordings"
    recording = f'[recording]\ndirectory = "{directory}"\nformat = "{file_format}"\n'
    gate = ClockGate(board.clock, 1.0)  # start-up, then samples up to 1 s of the chip's time
    async with live_daemon(config('"recorder"', recording), source=chip_on(board)) as live:
        try:
            await wait_until(lambda: "recorder" in live.daemon.plugins)
            await wait_until(lambda: recorder_of(live).ready)
            await api(live, "POST", "api/recordings", {"name": "pins"})
            # 3 s of samples: fewer than the recorder's queue holds (10 s), however slow it is
            gate.release_until(board.clock.now + 3.0)
            await written(live, 500)
            stopping = asyncio.ensure_future(api(live, "POST", "api/recordings/current/stop"))
            await wait_until(lambda: recorder_of(live).stopping or stopping.done())
        finally:
            gate.open()  # the sample of Stop's moment comes; the source closes unhindered
        await stopping
    reader = mne.io.read_raw_bdf if file_format == "bdf" else mne.io.read_raw_edf
    raw = reader(directory / f"pins.{file_format}", preload=True, verbose="error")
    assert raw.ch_names[-2:] == ["GPIO3", "GPIO1"]
    levels = raw.get_data(picks=["GPIO3", "GPIO1"])
    assert raw.n_times >= 500
    assert np.max(np.abs(levels - np.rint(levels))) < 1e-9  # 0 and 1 exactly, to the float
    meta = sidecar(directory, "pins")
    expected = driven_levels(board.chip, meta["first_sample"], raw.n_times, PINS)
    np.testing.assert_array_equal(np.rint(levels), expected)
    assert meta["aux"]["kinds"] == ["gpio", "gpio"]
    assert meta["aux"]["in_file"] is True
    assert meta["ledger"]["aux_samples_padded"] == 0


async def test_input_pin_levels_are_an_aux_lsl_outlet_of_gpio_channels(board: SeedBoard) -> None:
    name = f"eegd-gpio-{os.getpid()}"
    toml = config('"lsl_outlet"', f'[plugin.lsl_outlet]\nname = "{name}"\n')
    async with live_daemon(toml, source=chip_on(board)):
        info, inlet = await asyncio.to_thread(stream_of, f"name='{name}-aux'")
        samples, _ = await asyncio.to_thread(pull, inlet, 100)
    assert info.type() == "AUX"
    assert info.nominal_srate() == RATE
    assert channels_of(info) == [
        {"label": "GPIO3", "unit": "", "type": "gpio"},
        {"label": "GPIO1", "unit": "", "type": "gpio"},
    ]
    # LSL samples carry no index, and an un-paced source may outrun the outlet's queue,
    # which then drops whole packets (25 samples): of any 100 pulled, some 25 in a row are
    # 25 consecutive levels the model drove
    conversions = {k for k, _ in board.chip.gpio_shifted}
    levels = driven_levels(board.chip, 0, len(conversions) - 1, PINS)
    driven = {levels[:, i : i + 25].tobytes() for i in range(levels.shape[1] - 24)}
    pulled = samples.T.astype(np.float32)
    assert set(np.unique(pulled)) <= {0.0, 1.0}
    assert any(pulled[:, i : i + 25].tobytes() in driven for i in range(76))
