"""Device sources through the whole daemon: bus, plugins, clients, CLI.

BrainFlow's own synthetic board (the real library) streams to a WebSocket client; a board
that cannot open is retried with a growing back-off; EDF, EDF+, BDF and BDF+ files written
by pyedflib play with their names, rate, values, annotations and spectra intact.
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
from eegd.events import EegPacket, Event, FftPacket, SystemEvent, SystemEventKind, Topic
from eegd.net.protocol import EegFrame
from eegd.plugins.brain_waves import BrainWaves
from eegd.supervisor import TaskState
from tests.support.live import live_daemon
from tests.support.recordings import WrittenRecording, write_recording, write_temperature_only
from tests.support.timing import scaled
from tests.support.waiting import wait_until

ANNOTATIONS = ((1.5, -1.0, "eyes closed"), (4.25, 0.5, "stimulus"), (8.0, 1.0, "eyes open"))


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

[spectrum]
window_s = 1.0
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
                if sum(frame.n_samples for frame in frames) >= 2 * rate and spectra:
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


async def spectra_of_every_packet(live: Running, seen: list[Event]) -> list[FftPacket]:
    """Every spectrum of the played packets in ``seen``, the last one's included.

    At speed 0 the file ends as soon as it is read, while its spectra come from two plugins
    downstream (the filter, then brain_waves), so some may follow ``source_ended`` on the
    bus: wait until brain_waves has consumed every packet (it publishes each spectrum as it
    computes it), then take the rest from the subscription.
    """
    brain_waves = live.daemon.plugins["brain_waves"]
    assert isinstance(brain_waves, BrainWaves)
    played = sum(isinstance(event, EegPacket) for event in seen)
    await wait_until(lambda: brain_waves.packets_seen >= played, timeout=30)
    later = iter(live.events.get_nowait, None)
    return [event for event in (*seen, *later) if isinstance(event, FftPacket)]


def playback_toml(path: Path, speed: float = 0) -> str:
    return f"""
[source]
kind = "playback"

[source.playback]
path = "{path}"
speed = {speed}
directories = ["{path.parent}"]
"""


def written(directory: Path, file_format: str, **options: object) -> WrittenRecording:
    annotations = ANNOTATIONS if file_format.endswith("+") else ()
    return write_recording(directory, file_format, annotations=annotations, **options)  # type: ignore[arg-type]


@pytest.mark.parametrize("file_format", ["EDF", "EDF+", "BDF", "BDF+"])
async def test_a_file_plays_through_the_pipeline_as_it_was_written(
    tmp_path: Path, file_format: str
) -> None:
    recording = written(tmp_path, file_format)
    config = config_of(playback_toml(recording.path))
    async with running(config, Topic.RAW_EEG, Topic.SYSTEM, Topic.FFT) as live:
        seen = await events_until(live.events, SystemEventKind.SOURCE_ENDED)
        spectra = await spectra_of_every_packet(live, seen)
        url = "ws" + live.url.removeprefix("http") + "ws"
        async with eegd.client.connect(url, control=True) as stream:
            async with asyncio.timeout(scaled(10)):
                while stream.hello is None:
                    await anext(stream)
            hello = stream.hello
        assert await live.healthy()  # the file has ended; the daemon serves on
        declared = live.daemon.status()["source"]["physical_range"]
    assert hello.channels == recording.channel_names
    assert hello.sample_rate == recording.sample_rate == 200

    packets = [event for event in seen if isinstance(event, EegPacket)]
    assert [packet.frame_id for packet in packets] == list(range(len(packets)))
    volts = np.concatenate([packet.volts for packet in packets], axis=1)
    assert volts.shape == recording.microvolts.shape
    step = recording.step_uv[0] * 1e-6
    assert np.abs(volts - recording.microvolts * 1e-6).max() <= step
    assert packets[0].channel_names == recording.channel_names
    assert len(declared) == len(recording.channel_names)  # the file's range, per channel
    assert all(low < 0 < high for low, high in declared)

    annotations = [
        (index, event)
        for index, event in enumerate(seen)
        if isinstance(event, SystemEvent) and event.kind is SystemEventKind.ANNOTATION
    ]
    assert [event.detail["text"] for _, event in annotations] == [
        text for _, _, text in recording.annotations
    ]
    for (index, event), (onset, _, _) in zip(annotations, recording.annotations, strict=True):
        sample = round(onset * recording.sample_rate)
        assert event.detail["sample"] == sample
        following = seen[index + 1]  # published just before the packet holding its sample
        assert isinstance(following, EegPacket)
        assert following.first_sample <= sample < following.first_sample + following.n_samples
        assert event.detail["frame_id"] == following.frame_id

    spectrum = spectra[-1]
    for row, frequency in enumerate(recording.frequencies):
        peak = spectrum.freqs[int(np.argmax(spectrum.psd[row]))]
        assert peak == pytest.approx(frequency, abs=0.5)


async def test_a_minute_of_file_at_speed_zero_plays_to_its_end_and_the_daemon_serves_on(
    tmp_path: Path,
) -> None:
    recording = write_recording(tmp_path, "BDF+", seconds=60, annotations=ANNOTATIONS)
    config = config_of(playback_toml(recording.path, speed=0))
    async with running(config, Topic.SYSTEM) as live:
        ended = await next_event(live.events, SystemEventKind.SOURCE_ENDED)  # generous deadline
        assert ended.detail["samples"] == 60 * 200
        stats = live.daemon.acquisition.stats()
        assert (stats.samples_acquired, stats.samples_lost, stats.sessions) == (12_000, 0, 1)
        assert await live.healthy()
        supervisor = live.daemon.supervisor
        # The task ends once the file is closed, just after the event.
        await wait_until(lambda: supervisor.status("acquisition").state is TaskState.FINISHED)
        states = {status.name: status.state for status in supervisor.statuses()}
        del states["acquisition"]
        assert set(states.values()) == {TaskState.RUNNING}


def _truncated(directory: Path) -> Path:
    path = write_recording(directory, "EDF").path
    path.write_bytes(path.read_bytes()[:-7])
    return path


def _not_edf(directory: Path) -> Path:
    path = directory / "notes.bdf"
    path.write_text("a shopping list\n" * 40)
    return path


def _no_usable_channel(directory: Path) -> Path:
    return write_temperature_only(directory / "thermometer.edf")


@pytest.mark.parametrize(
    ("make", "problem"),
    [
        (lambda directory: directory / "missing.edf", "no such file"),
        (_truncated, "truncated"),
        (_not_edf, "not an EDF or BDF file"),
        (_no_usable_channel, "no signal to play"),
    ],
)
def test_a_file_that_cannot_play_fails_the_start_with_one_line_and_exit_code_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], make: object, problem: str
) -> None:
    path = make(tmp_path)  # type: ignore[operator]
    code = main(["run", "--source", "playback", "--file", str(path), "--port", "0"])
    out, err = capsys.readouterr()
    assert code == 2
    assert out == ""
    lines = err.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("eegd: error: ")
    assert str(path) in lines[0]
    assert problem in lines[0]


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
