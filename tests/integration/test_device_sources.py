"""Device sources through the whole daemon: bus, plugins, clients, CLI.

BrainFlow's own synthetic board (the real library) streams to a WebSocket client; a board
that cannot open is retried with a growing back-off.
"""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import numpy as np
import pytest
from brainflow.board_shim import BoardIds, BoardShim

import eegd.client
from eegd.bus import Subscription
from eegd.cli import main
from eegd.config import Config, load_config
from eegd.daemon import Daemon
from eegd.errors import ConfigError
from eegd.events import Event, FftPacket, SystemEvent, SystemEventKind, Topic
from eegd.net.protocol import EegFrame
from eegd.supervisor import TaskState
from tests.support.live import live_daemon
from tests.support.timing import scaled


def config_of(toml: str) -> Config:
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "eegd.toml"
        path.write_text(toml)
        return load_config(path, {"server.port": ("--port", 0)})


@dataclass
class Running:
    """A started daemon, the URL it serves, and a deep subscription opened before it started."""

    daemon: Daemon
    url: str
    events: Subscription

    async def healthy(self) -> bool:
        """Whether the daemon's server still answers."""
        async with aiohttp.ClientSession() as session:
            async with session.get(self.url + "healthz") as response:
                return response.status == 200


@contextlib.asynccontextmanager
async def running(config: Config, *topics: Topic) -> AsyncIterator[Running]:
    """A started daemon whose bus events on ``topics`` are all kept, from the first."""
    daemon = Daemon(config)
    events = daemon.bus.subscribe(topics, maxsize=1_000_000)
    url = await daemon.serve()
    daemon.start()
    try:
        yield Running(daemon, url, events)
    finally:
        await daemon.stop()


async def events_until(events: Subscription, kind: SystemEventKind) -> list[Event]:
    """Every event up to the first system event of ``kind``, which comes last."""
    seen: list[Event] = []
    async with asyncio.timeout(scaled(30)):
        async for event in events:
            seen.append(event)
            if isinstance(event, SystemEvent) and event.kind is kind:
                return seen
    raise AssertionError(f"the bus closed before a {kind} event")


async def next_event(events: Subscription, kind: SystemEventKind) -> SystemEvent:
    """The next system event of ``kind``."""
    last = (await events_until(events, kind))[-1]
    assert isinstance(last, SystemEvent)
    return last


BRAINFLOW_SYNTHETIC = """
[source]
kind = "brainflow"
batch_size = 25

[source.brainflow]
board = "synthetic"
"""


async def test_brainflows_synthetic_board_streams_to_a_websocket_client() -> None:
    board = int(BoardIds.SYNTHETIC_BOARD)
    rate = BoardShim.get_sampling_rate(board)
    frames: list[EegFrame] = []
    spectra: list[FftPacket] = []
    async with (
        live_daemon(BRAINFLOW_SYNTHETIC) as live,
        eegd.client.connect(live.ws_url + "ws", ["raw_eeg", "fft"]) as stream,
    ):
        async with asyncio.timeout(scaled(30)):
            async for item in stream:
                if isinstance(item, EegFrame):
                    frames.append(item)
                elif isinstance(item, FftPacket):
                    spectra.append(item)
                if sum(frame.n_samples for frame in frames) >= 5 * rate and spectra:
                    break
        hello = stream.hello
        dropped = stream.frames_dropped
    assert hello is not None
    assert hello.sample_rate == rate == 250
    assert hello.channels == tuple(BoardShim.get_eeg_names(board))
    assert len(hello.channels) == 16
    ids = [frame.frame_id for frame in frames]
    assert ids == list(range(ids[0], ids[0] + len(ids)))
    assert [frame.first_sample for frame in frames] == [
        frames[0].first_sample + 25 * index for index in range(len(frames))
    ]
    assert dropped == 0
    samples = np.concatenate([frame.samples_uv for frame in frames], axis=1)
    assert samples.shape[0] == 16
    assert np.all(np.isfinite(samples))
    assert 1.0 < np.abs(samples).max() < 10_000.0  # BrainFlow's synthetic EEG is µV-scale
    spectrum = spectra[-1]
    assert spectrum.psd.shape == (16, len(spectrum.freqs))
    assert np.all(np.isfinite(spectrum.band_power))


CYTON_WITHOUT_PORT = """
[source]
kind = "brainflow"

[source.brainflow]
board = "cyton"
serial_port = "/dev/ttyDOESNOTEXIST"

[supervisor]
initial_backoff = 0.01
multiplier = 2.0
jitter = 0.0
max_retries = 50
"""


async def test_a_board_that_cannot_open_is_retried_with_a_growing_back_off() -> None:
    async with running(config_of(CYTON_WITHOUT_PORT), Topic.SYSTEM) as live:
        failures: list[SystemEvent] = []
        while len(failures) < 4:
            event = await next_event(live.events, SystemEventKind.TASK_FAILED)
            if event.detail["task"] == "acquisition":
                failures.append(event)
        assert await live.healthy()
        others = [s for s in live.daemon.supervisor.statuses() if s.name != "acquisition"]
        assert all(status.state is TaskState.RUNNING for status in others)
    delays = [event.detail["retry_in"] for event in failures]
    assert delays == pytest.approx([0.01, 0.02, 0.04, 0.08])
    error = failures[0].detail["error"]
    assert error.startswith(
        "SourceError: cannot open brainflow cyton board on /dev/ttyDOESNOTEXIST: "
    )
    assert "UNABLE_TO_OPEN_PORT_ERROR" in error
    assert [event.detail["failures"] for event in failures] == [1, 2, 3, 4]


def test_the_board_flags_choose_a_brainflow_board(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(
        [
            "config",
            "--source",
            "brainflow",
            "--board",
            "Cyton_Daisy",
            "--serial-port",
            "/dev/ttyUSB0",
        ]
    )
    out, err = capsys.readouterr()
    assert (code, err) == (0, "")
    assert '"board": "Cyton_Daisy"' in out
    assert '"serial_port": "/dev/ttyUSB0"' in out


def test_an_unknown_board_is_one_line_naming_the_flag(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["config", "--source", "brainflow", "--board", "cyton daisy"])
    _, err = capsys.readouterr()
    assert code == 2
    assert err.startswith("eegd: error: --board (source.brainflow.board: 'cyton daisy' is not a ")
    assert "did you mean cyton_daisy" in err
    assert len(err.splitlines()) == 1


def test_only_the_shared_keys_the_user_set_are_checked_against_the_board() -> None:
    assert config_of(BRAINFLOW_SYNTHETIC).source.explicit == frozenset()
    written = BRAINFLOW_SYNTHETIC.replace("batch_size = 25", "batch_size = 25\nchannels = 16")
    assert config_of(written).source.explicit == {"channels"}
    with pytest.raises(ConfigError, match="^source.channels: 8 is not what the synthetic board"):
        config_of(BRAINFLOW_SYNTHETIC.replace("batch_size = 25", "channels = 8"))
    flags = {"source.kind": ("--source", "brainflow"), "source.sample_rate": ("--sample-rate", 500)}
    with pytest.raises(ConfigError) as caught:
        load_config(None, flags)
    assert str(caught.value).startswith(
        "--sample-rate (source.sample_rate: 500 is not the synthetic board's rate (250 Hz"
    )
