"""Recordings when things go wrong: a gap in the source, roll-over, a full disk, bad names.

Every daemon runs in-process on a stepped clock (``tests/support/live.py``); the lossy
source is a real synthetic source whose sample indices jump once, as a source that lost
samples reports them.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import aiohttp
import mne
import numpy as np
import pytest

from eegd.config import load_config
from eegd.daemon import Daemon
from eegd.events import SystemEvent, SystemEventKind, Topic
from eegd.sources.base import SampleBlock, Source
from eegd.sources.synthetic import SyntheticSettings, SyntheticSource
from eegd.supervisor import TaskState
from tests.integration.test_recording import (
    LSB_V,
    api,
    published,
    published_events,
    raw_log,
    record,
    recorder_of,
    recording_daemon,
    sidecar,
    volts_of,
)
from tests.support.clocks import FakeClock
from tests.support.live import LiveDaemon, stop_recording
from tests.support.waiting import wait_until


class LossySource(Source):
    """The synthetic source, except that after ``after`` blocks ``lost`` samples are skipped."""

    kind = "lossy"

    def __init__(self, clock: FakeClock, after: int, lost: int) -> None:
        self._inner = SyntheticSource(SyntheticSettings(), clock)
        self._after = after
        self._lost = lost
        self._blocks = 0

    @property
    def sample_rate(self) -> float:
        return self._inner.sample_rate

    @property
    def channel_names(self) -> tuple[str, ...]:
        return self._inner.channel_names

    def open(self) -> None:
        self._inner.open()

    def read(self, n_samples: int) -> SampleBlock:
        block = self._inner.read(n_samples)
        self._blocks += 1
        if self._blocks <= self._after:
            return block
        return SampleBlock(block.first_sample + self._lost, block.raw, block.volts)

    def close(self) -> None:
        self._inner.close()


@contextlib.asynccontextmanager
async def lossy_daemon(directory: Path, after: int, lost: int) -> AsyncIterator[LiveDaemon]:
    toml = directory / "eegd.toml"
    toml.write_text(f'[recording]\ndirectory = "{directory}"\n')
    config = load_config(toml, {"server.port": ("--port", 0)})
    clock = FakeClock(manual=True)
    daemon = Daemon(config, lambda: LossySource(clock, after, lost))
    url = await daemon.serve()
    daemon.start()
    try:
        await wait_until(lambda: daemon.acquisition.session is not None)
        live = LiveDaemon(daemon, url, clock)
        await wait_until(lambda: "recorder" in daemon.plugins and recorder_of(live).ready)
        yield live
    finally:
        clock.run_free()
        await daemon.stop()


async def test_samples_lost_at_the_source_end_the_part_with_a_gap_of_the_right_length(
    tmp_path: Path,
) -> None:
    async with lossy_daemon(tmp_path, after=12, lost=50) as live:
        with raw_log(live) as log:
            await api(live, "POST", "api/recordings", {"name": "gappy"})
            await live.release(20)
            recorder = recorder_of(live)
            await wait_until(lambda: recorder.stats()["samples_written"] >= 20 * 32)
            await api(live, "POST", "api/recordings/current/stop")
            packets = published(log)
    before, after = sidecar(tmp_path, "gappy"), sidecar(tmp_path, "gappy.part2")
    gap_at = 12 * 32  # the first sample the source lost
    assert before["first_sample"] + before["samples"] == gap_at
    assert after["first_sample"] == gap_at + 50
    assert after["start_us"] - before["start_us"] == (before["samples"] + 50) * 4000
    assert before["ledger"]["gaps"][0]["samples"] == 50
    assert recorder.stats()["gaps"] == 1
    first = mne.io.read_raw_bdf(tmp_path / "gappy.bdf", verbose="error")
    second = mne.io.read_raw_bdf(tmp_path / "gappy.part2.bdf", preload=True, verbose="error")
    (end,) = first.annotations
    assert "gap after this sample: 50 samples (0.2 s) lost" in end["description"]
    assert abs(end["onset"] - (first.n_times - 1) / 250) <= 1 / 250
    (start,) = second.annotations
    assert "gap before this sample: 50 samples (0.2 s) lost" in start["description"]
    assert abs(start["onset"]) <= 1 / 250
    resumed = [packet for packet in packets if packet.first_sample >= after["first_sample"]]
    expected = volts_of(resumed, after["first_sample"], second.n_times)
    assert np.max(np.abs(second.get_data() - expected)) <= LSB_V


async def test_roll_over_parts_hold_every_sample_exactly_once(tmp_path: Path) -> None:
    async with recording_daemon(tmp_path, extra="max_duration_s = 1\n") as live:
        with raw_log(live) as log:
            await record(live, "long", 40)
            packets = published(log)
    names = ["long"] + [f"long.part{number}" for number in range(2, 6)]
    parts = [sidecar(tmp_path, name) for name in names]
    assert not (tmp_path / "long.part6.json").exists()
    assert [part["samples"] for part in parts] == [256] * 5  # 8 packets reach 1 s
    for earlier, later in zip(parts, parts[1:], strict=False):
        assert later["first_sample"] == earlier["first_sample"] + earlier["samples"]
    data = np.concatenate(
        [
            mne.io.read_raw_bdf(tmp_path / f"{name}.bdf", preload=True, verbose="error").get_data()
            for name in names
        ],
        axis=1,
    )
    expected = volts_of(packets, parts[0]["first_sample"], 40 * 32)
    assert data.shape == expected.shape
    assert np.max(np.abs(data - expected)) <= LSB_V


@pytest.mark.parametrize("name", ["../x", "/etc/x", "a\0b", "x" * 300, ".hidden", "a b", ""])
async def test_a_name_that_breaks_the_rules_is_a_400_naming_them(tmp_path: Path, name: str) -> None:
    async with recording_daemon(tmp_path) as live:
        refused = await api(live, "POST", "api/recordings", {"name": name}, status=400)
        assert refused["type"] == "error"
        assert refused["code"] == "bad_name"
        assert "letters, digits" in refused["message"]
        assert recorder_of(live).recording is None
        if name and "/" not in name and "\0" not in name:
            for method in ("GET", "DELETE"):
                path = "api/recordings/" + name
                refused = await api(live, method, path, status=400)
                assert refused["code"] == "bad_name"


async def test_a_recording_is_listed_downloaded_and_deleted_but_not_while_it_is_written(
    tmp_path: Path,
) -> None:
    async with recording_daemon(tmp_path) as live:
        await api(live, "POST", "api/recordings", {"name": "kept"})
        await live.release(3)
        await wait_until(lambda: recorder_of(live).stats()["samples_written"] >= 96)
        listing = await api(live, "GET", "api/recordings")
        assert [(entry["name"], entry["status"]) for entry in listing["recordings"]] == [
            ("kept", "recording")
        ]
        busy = await api(live, "GET", "api/recordings/kept", status=409)
        assert busy["code"] == "recording"
        assert (await api(live, "DELETE", "api/recordings/kept", status=409))["code"] == "recording"
        await stop_recording(live)  # the 4th packet holds the sample of Stop's moment
        (entry,) = (await api(live, "GET", "api/recordings"))["recordings"]
        assert entry["status"] == "complete"
        assert entry["format"] == "bdf"
        assert entry["duration_s"] == 128 / 250
        assert entry["size"] == (tmp_path / "kept.bdf").stat().st_size
        async with (
            aiohttp.ClientSession() as session,
            session.get(live.url + "api/recordings/kept") as reply,
        ):
            assert reply.status == 200
            assert reply.headers["Content-Type"] == "application/x-bdf"
            assert 'filename="kept.bdf"' in reply.headers["Content-Disposition"]
            assert await reply.read() == (tmp_path / "kept.bdf").read_bytes()
        missing = await api(live, "GET", "api/recordings/nothing", status=404)
        assert missing["code"] == "not_found"
        await api(live, "DELETE", "api/recordings/kept")
        assert (await api(live, "GET", "api/recordings"))["recordings"] == []
        assert not (tmp_path / "kept.bdf").exists()


@contextlib.contextmanager
def tiny_disk(path: Path, size: str = "48k") -> Iterator[Path]:
    """A tmpfs of ``size`` mounted at ``path``: a real disk that fills up.

    Mounting needs root, as ``make test`` has in CI and on the project's machines; without
    it the test fails saying so, rather than passing over the full-disk case unseen.
    """
    path.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
        capture_output=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.fail(f"cannot mount a small tmpfs (needs root): {mounted.stderr.decode().strip()}")
    try:
        yield path
    finally:
        subprocess.run(["umount", "--lazy", str(path)], check=True)


async def test_a_full_disk_stops_the_recording_cleanly_with_a_truthful_sidecar_and_no_tmp_file(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with tiny_disk(tmp_path / "disk") as disk:
        async with recording_daemon(disk) as live:
            recorder = recorder_of(live)
            with live.daemon.bus.subscribe([Topic.SYSTEM], maxsize=1000) as system:
                await api(live, "POST", "api/recordings", {"name": "big"})
                await live.release_until(
                    lambda: recorder.stats()["write_errors"] == 1 and recorder.recording is None,
                    500,
                )
                events = [
                    event
                    for event in published_events(system)
                    if isinstance(event, SystemEvent)
                    and event.kind is SystemEventKind.RECORDING_STOPPED
                ]
            (stopped,) = events
            assert "No space left on device" in stopped.detail["reason"]
            assert recorder.recording is None
            assert any("No space left on device" in message for message in caplog.messages)
            streamed = live.frames
            await live.release(8)  # the stream goes on
            assert live.frames == streamed + 8
            assert live.daemon.supervisor.status("recorder").state is TaskState.RUNNING
            refused = await api(live, "POST", "api/recordings/current/stop", status=409)
            assert refused["code"] == "not_recording"
            listed = await api(live, "GET", "api/recordings")
            assert {entry["name"]: entry["status"] for entry in listed["recordings"]} == {
                "big": "failed"
            }
        assert json.loads((disk / "big.json").read_text())["status"] == "failed"
        assert sorted(path.name for path in disk.iterdir()) == ["big.bdf", "big.json"]


@pytest.mark.parametrize(
    "names",
    [
        ["Fp1\u0007", "Fp2"],
        ["Kanal-Ä", "Fp2"],
        ["Temporal-Left-01", "Temporal-Left-012"],
    ],
)
async def test_channel_names_an_edf_header_cannot_hold_refuse_the_recording(
    tmp_path: Path, names: list[str]
) -> None:
    extra = f"[source]\nchannels = 2\nchannel_names = {json.dumps(names)}\n"
    async with recording_daemon(tmp_path, "bdf", extra) as live:
        refused = await api(live, "POST", "api/recordings", {"name": "labels"}, status=409)
        assert refused["code"] == "bad_channel_names"
        assert "EDF/BDF header" in refused["message"]
        assert recorder_of(live).recording is None
    assert not list(tmp_path.glob("labels*"))
