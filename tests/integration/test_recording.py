"""Recordings end to end: an in-process daemon records the synthetic source, MNE reads it.

The source runs on a stepped clock, so a recording holds exactly the packets the test
releases, and every one of them is compared with what was published on ``raw_eeg`` (a
subscription of the test's own on the daemon's bus).
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import datetime as dt
import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import mne
import numpy as np
import pytest

import eegd.client
from eegd.bus import DropPolicy, Subscription
from eegd.events import EegPacket, MarkerEvent, Topic
from eegd.plugins.recorder import Recorder
from eegd.sources.adc import Ads1299Scale
from tests.support.live import LiveDaemon, live_daemon, next_of, stop_recording
from tests.support.rest import api
from tests.support.timing import scaled
from tests.support.waiting import wait_until

#: Packets in 10 s of the default stream: 32 samples at 250 Hz.
TEN_SECONDS = 79
LSB_V = Ads1299Scale().lsb_volts


def recorder_of(live: LiveDaemon) -> Recorder:
    recorder = live.daemon.plugins["recorder"]
    assert isinstance(recorder, Recorder)
    return recorder


@contextlib.asynccontextmanager
async def recording_daemon(
    directory: Path, file_format: str = "bdf", extra: str = ""
) -> AsyncIterator[LiveDaemon]:
    toml = f'[recording]\ndirectory = "{directory}"\nformat = "{file_format}"\n{extra}'
    async with live_daemon(toml, stepped=True) as live:
        await wait_until(lambda: "recorder" in live.daemon.plugins and recorder_of(live).ready)
        yield live


@contextlib.contextmanager
def raw_log(live: LiveDaemon) -> Iterator[Subscription]:
    with live.daemon.bus.subscribe(
        [Topic.RAW_EEG], maxsize=100_000, policy=DropPolicy.DROP_NEWEST
    ) as subscription:
        yield subscription


def published(subscription: Subscription) -> list[EegPacket]:
    packets = []
    while (event := subscription.get_nowait()) is not None:
        assert isinstance(event, EegPacket)
        packets.append(event)
    return packets


async def record(live: LiveDaemon, name: str, packets: int) -> dict[str, Any]:
    """Start ``name``, release ``packets``, stop; the stop reply.

    All but the last packet are written before Stop; the last holds the sample of Stop's
    moment, so the file holds exactly ``packets``.
    """
    recorder = recorder_of(live)
    started = await api(live, "POST", "api/recordings", {"name": name, "notes": "a test"})
    assert started["name"] == name
    before = recorder.stats()["samples_written"]
    await live.release(packets - 1)
    batch = live.daemon.config.source.batch_size
    await wait_until(lambda: recorder.stats()["samples_written"] >= before + (packets - 1) * batch)
    return await stop_recording(live)


def sidecar(directory: Path, name: str) -> dict[str, Any]:
    content: dict[str, Any] = json.loads((directory / f"{name}.json").read_text())
    return content


def volts_of(packets: list[EegPacket], first_sample: int, n_samples: int) -> np.ndarray:
    joined = np.concatenate([packet.volts for packet in packets], axis=1).astype(np.float64)
    start = first_sample - packets[0].first_sample
    return joined[:, start : start + n_samples]


@pytest.mark.parametrize("file_format", ["bdf", "edf"])
async def test_a_10_s_recording_reads_back_in_mne_sample_for_sample(
    tmp_path: Path, file_format: str
) -> None:
    async with recording_daemon(tmp_path, file_format) as live:
        with raw_log(live) as log:
            stopped = await record(live, "round", TEN_SECONDS)
            packets = published(log)
    assert stopped["samples_written"] == TEN_SECONDS * 32
    meta = sidecar(tmp_path, "round")
    assert meta["status"] == "complete"
    reader = mne.io.read_raw_bdf if file_format == "bdf" else mne.io.read_raw_edf
    raw = reader(tmp_path / f"round.{file_format}", preload=True, verbose="error")
    names = ("Fp1", "Fp2", "C3", "C4", "P3", "P4", "O1", "O2")
    assert tuple(raw.ch_names) == names
    assert raw.info["sfreq"] == 250
    assert raw.n_times == TEN_SECONDS * 32
    expected = volts_of(packets, meta["first_sample"], raw.n_times)
    step = LSB_V if file_format == "bdf" else 2 * 187500e-6 / 65535
    assert np.max(np.abs(raw.get_data() - expected)) <= step
    first = next(packet for packet in packets if packet.first_sample == meta["first_sample"])
    start = dt.datetime.fromtimestamp(int(first.timestamps[0]) // 1_000_000, tz=dt.UTC)
    assert raw.info["meas_date"] == start
    assert len(raw.annotations) == 0
    assert meta["eegd_version"] == eegd.__version__
    assert meta["config"]["recording"]["format"] == file_format
    assert meta["source"]["kind"] == "synthetic"
    assert meta["source"]["sample_rate"] == 250
    assert meta["filter"]["notch_hz"] == 50
    assert meta["notes"] == "a test"
    clock = np.array(meta["clock_map"])
    assert len(clock) == 10  # at the first packet of each second of the 10.1 s
    assert np.all(np.diff(clock[:, 0]) <= 256)
    stamps = {
        packet.first_sample + k: int(packet.timestamps[k])
        for packet in packets
        for k in range(packet.n_samples)
    }
    assert clock[:, 1].tolist() == [stamps[s] for s in clock[:, 0].tolist()]  # the data's own
    ledger = meta["ledger"]
    assert ledger["samples_expected"] == ledger["samples_written"] == raw.n_times
    assert ledger["gaps"] == []


async def test_a_csv_recording_holds_every_sample_with_its_time_frame_and_index(
    tmp_path: Path,
) -> None:
    async with recording_daemon(tmp_path, "csv") as live:
        with raw_log(live) as log:
            await record(live, "table", 20)
            packets = published(log)
    with (tmp_path / "table.csv").open() as file:
        rows = list(csv.reader(file))
    header, body = rows[0], np.array(rows[1:], dtype=np.float64)
    assert header == ["timestamp_us", "frame_id", "sample_index", "Fp1", "Fp2", "C3", "C4"] + [
        "P3",
        "P4",
        "O1",
        "O2",
    ]
    assert body.shape == (20 * 32, 11)
    first_sample = int(body[0, 2])
    recorded = [packet for packet in packets if packet.first_sample >= first_sample][:20]
    stamps = np.concatenate([packet.timestamps for packet in recorded])
    frames = np.concatenate([np.full(32, packet.frame_id) for packet in recorded])
    assert np.array_equal(body[:, 0].astype(np.uint64), stamps)
    assert np.array_equal(body[:, 1], frames)
    assert np.array_equal(body[:, 2], np.arange(first_sample, first_sample + 640))
    expected = volts_of(packets, first_sample, 640) * 1e6
    assert np.max(np.abs(body[:, 3:].T - expected)) <= 1e-5


async def test_one_recording_at_a_time_and_each_start_and_stop_is_a_system_event(
    tmp_path: Path,
) -> None:
    async with recording_daemon(tmp_path) as live:
        with live.daemon.bus.subscribe([Topic.SYSTEM], maxsize=1000) as system:
            await api(live, "POST", "api/recordings", {"name": "first"})
            refused = await api(live, "POST", "api/recordings", {"name": "second"}, status=409)
            assert refused["type"] == "error"
            assert refused["code"] == "recording"
            assert "first" in refused["message"]
            await live.release(2)
            await wait_until(lambda: recorder_of(live).stats()["samples_written"] >= 64)
            stopped = await stop_recording(live)
            kinds = [event.kind.value for event in published_events(system)]
    assert stopped["name"] == "first"
    assert kinds.count("recording_started") == 1
    assert kinds.count("recording_stopped") == 1
    assert not (tmp_path / "second.bdf").exists()


def published_events(subscription: Subscription) -> list[Any]:
    events = []
    while (event := subscription.get_nowait()) is not None:
        events.append(event)
    return events


async def test_a_marker_3_s_into_a_recording_lands_at_its_sample_and_reaches_ws_clients(
    tmp_path: Path,
) -> None:
    async with (
        recording_daemon(tmp_path) as live,
        eegd.client.connect(live.ws_url + "ws", ["marker"]) as stream,
    ):
        recorder = recorder_of(live)
        with raw_log(live) as log:
            await api(live, "POST", "api/recordings", {"name": "marked"})
            await live.release(24)  # 3.072 s
            await wait_until(lambda: recorder.stats()["samples_written"] >= 24 * 32)
            packets = published(log)
        first = packets[0]
        moment = int(first.timestamps[0]) + 3_000_000
        reply = await api(
            live,
            "POST",
            "api/markers",
            {"label": "stimulus", "duration_s": 0.5, "timestamp_us": moment},
        )
        assert reply["sample"] == first.first_sample + 750
        (holder,) = [p for p in packets if 0 <= reply["sample"] - p.first_sample < p.n_samples]
        stamp = int(holder.timestamps[reply["sample"] - holder.first_sample])
        assert abs(stamp - moment) <= 2_000  # the nearest sample: within half a period
        sent = await next_of(stream, MarkerEvent)
        assert (sent.label, sent.timestamp, sent.duration_s) == ("stimulus", stamp, 0.5)
        assert sent.sample == first.first_sample + 750
        now = await api(live, "POST", "api/markers", {"label": "now"})
        assert now["timestamp_us"] > moment - 3_000_000
        bad = await api(live, "POST", "api/markers", {"label": ""}, status=400)
        assert bad["code"] == "bad_field"
        await live.release(8)
        await wait_until(lambda: recorder.stats()["samples_written"] >= 32 * 32)
        await stop_recording(live)
    raw = mne.io.read_raw_bdf(tmp_path / "marked.bdf", verbose="error")
    stimulus = [item for item in raw.annotations if item["description"] == "stimulus"]
    (annotation,) = stimulus
    assert abs(annotation["onset"] - 3.0) <= 1 / 250
    assert annotation["duration"] == 0.5
    (entry,) = [
        item for item in sidecar(tmp_path, "marked")["markers"] if item["label"] == "stimulus"
    ]
    assert entry["sample"] == first.first_sample + 750


async def test_a_websocket_client_records_and_marks_with_control_messages(tmp_path: Path) -> None:
    async with (
        recording_daemon(tmp_path) as live,
        aiohttp.ClientSession() as session,
        session.ws_connect(live.ws_url + "ws") as ws,
    ):

        async def answer() -> dict[str, Any]:
            while True:
                message = await ws.receive(timeout=scaled(10))
                reply: dict[str, Any] = json.loads(message.data)
                if reply["type"] in ("done", "error"):
                    return reply

        await ws.send_str('{"type": "record", "action": "start", "name": "by_ws"}')
        started = await answer()
        assert started["type"] == "done"
        assert started["command"] == "record"
        assert started["result"]["name"] == "by_ws"
        await ws.send_str('{"type": "record", "action": "start"}')
        refused = await answer()
        assert refused["type"] == "error"
        assert "by_ws" in refused["message"]
        recorder = recorder_of(live)
        await live.release(8)
        await wait_until(lambda: recorder.stats()["samples_written"] >= 8 * 32)
        await ws.send_str('{"type": "marker", "label": "eyes closed"}')
        marked = await answer()
        assert marked["command"] == "marker"
        assert marked["result"]["label"] == "eyes closed"
        await live.release(8)
        await wait_until(lambda: recorder.stats()["samples_written"] >= 16 * 32)
        await ws.send_str('{"type": "record", "action": "stop"}')
        stopped = await answer()
        assert stopped["result"]["name"] == "by_ws"
        await ws.send_str('{"type": "marker", "duration_s": 1}')
        malformed = await answer()
        assert malformed["code"] == "bad_field"
        assert "label" in malformed["message"]
    raw = mne.io.read_raw_bdf(tmp_path / "by_ws.bdf", verbose="error")
    assert "eyes closed" in list(raw.annotations.description)


async def test_commands_without_the_recorder_say_it_is_not_there() -> None:
    async with (
        live_daemon('plugins = ["voltage_filter"]\n') as live,
        aiohttp.ClientSession() as session,
        session.ws_connect(live.ws_url + "ws") as ws,
    ):
        await ws.send_str('{"type": "record", "action": "start"}')
        async with asyncio.timeout(scaled(10)):
            while (reply := json.loads((await ws.receive()).data))["type"] != "error":
                pass
    assert reply["code"] == "not_available"
    assert "recorder" in reply["message"]
