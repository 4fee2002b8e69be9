"""eegd and the Lab Streaming Layer, on loopback, with the LSL peer in another process."""

from __future__ import annotations

import asyncio
import contextlib
import os
import time

import numpy as np
import pylsl
import pytest

import eegd.client
from eegd.bus import Subscription
from eegd.errors import ConfigError, SourceError
from eegd.events import Event, FilteredEegPacket, SystemEvent, SystemEventKind, Topic
from eegd.net.protocol import EegFrame
from eegd.plugins.lsl_outlet import LslOutlet, default_source_id, lsl_times
from eegd.sources.base import MAX_STREAM_CHANNELS
from eegd.sources.lsl import LslOptions, LslSource
from tests.support.live import live_daemon, next_released
from tests.support.lsl import start_peer
from tests.support.lsl_peer import known_value
from tests.support.timing import scaled
from tests.support.waiting import wait_until

FRAMES = 40  # of 32 samples at 250 Hz: 5.1 s of data
TOTAL = 512  # samples the amplifier pushes: 1 s at 500 Hz


def test_local_clock_is_the_monotonic_clock() -> None:
    before = time.monotonic_ns() / 1e9
    lsl = pylsl.local_clock()
    after = time.monotonic_ns() / 1e9
    assert before <= lsl <= after


def test_lsl_times_are_stamps_less_the_sessions_utc_offset() -> None:
    epoch_us = np.array([1_700_000_009_988_000, 1_700_000_010_000_000], dtype=np.uint64)
    assert lsl_times(epoch_us, 1_700_000_000_000_000) == pytest.approx([9.988, 10.0], abs=1e-9)


def test_source_id_is_stable_per_device() -> None:
    board = {"source": {"kind": "brainflow", "brainflow": {"board": "cyton", "serial": "/dev/x"}}}
    assert default_source_id(board) == default_source_id(dict(board))
    other = {"source": {"kind": "brainflow", "brainflow": {"board": "cyton", "serial": "/dev/y"}}}
    assert default_source_id(board) != default_source_id(other)


def test_bad_options_name_the_key() -> None:
    with pytest.raises(ConfigError, match="topic"):
        LslOutlet.from_options({"topic": "fft"})


async def test_labrecorder_view_of_filtered_eeg() -> None:
    name = f"eegd-test-{os.getpid()}"
    toml = f'plugins = ["voltage_filter", "lsl_outlet"]\n[plugin.lsl_outlet]\nname = "{name}"\n'
    async with live_daemon(toml, stepped=True) as live:
        outlet = live.daemon.plugins["lsl_outlet"]
        assert isinstance(outlet, LslOutlet)
        await live.release(1)  # the first packet opens the EEG outlet
        await wait_until(lambda: outlet.stats()["chunks_pushed"] >= 1, timeout=10)
        batch = live.daemon.config.source.batch_size
        peer = await start_peer("inlet", "--name", name, "--samples", str(FRAMES * batch))
        try:
            await peer.line()  # ready: the inlet has opened the stream
            with live.daemon.bus.subscribe([Topic.FILTERED_EEG], maxsize=FRAMES + 4) as sub:
                await live.release(FRAMES)
                packets = [sub.get_nowait() for _ in range(FRAMES)]
            result = (await peer.line())["result"]
        finally:
            await peer.stop()
        session = live.daemon.acquisition.session
        assert session is not None
    assert all(isinstance(packet, FilteredEegPacket) for packet in packets)
    names = list(packets[0].channel_names)
    assert result["type"] == "EEG"
    assert result["channel_count"] == len(names)
    assert result["nominal_srate"] == packets[0].sample_rate
    assert result["labels"] == names
    assert result["units"] == ["microvolts"] * len(names)
    assert result["types"] == ["EEG"] * len(names)
    assert result["manufacturer"] == "eegd"
    expected = np.concatenate([packet.samples for packet in packets], axis=1).T * np.float32(1e6)
    received = np.asarray(result["samples"], dtype=np.float32)
    assert received.shape == expected.shape  # no gap, nothing extra
    np.testing.assert_array_equal(received, expected.astype(np.float32))
    stamps = np.asarray(result["timestamps"])
    # Every sample's LSL time is its stamp on the source's clock (stepped here, so the
    # clock model lays the samples one nominal period apart from the first).
    offset = session.utc_offset_us
    sample_stamps = np.concatenate([packet.timestamps for packet in packets])
    np.testing.assert_allclose(stamps, (sample_stamps.astype(np.int64) - offset) / 1e6, atol=1e-6)
    np.testing.assert_allclose(np.diff(stamps), 1 / packets[0].sample_rate, atol=2e-6)


async def test_lsl_amplifier_feeds_the_websocket_clients() -> None:
    name = f"amp-{os.getpid()}"
    peer = await start_peer("outlet", "--name", name, "--channels", "8", "--rate", "500")
    try:
        await peer.line()  # ready: the outlet is up
        toml = (
            f'plugins = []\n[source]\nkind = "lsl"\n[source.lsl]\nname = "{name}"\n'
            "resolve_timeout_s = 20\nstall_timeout_s = 30\n"
        )
        async with (
            live_daemon(toml) as live,
            eegd.client.connect(live.ws_url + "ws", ["raw_eeg"]) as stream,
        ):
            source = live.daemon.acquisition.session
            assert source is not None
            frames: list[EegFrame] = []
            pushed = 0
            while not frames:  # until the client's subscription is in place, a block at a time
                await peer.send({"push": 32})
                pushed = (await peer.line())["pushed"]
                with contextlib.suppress(TimeoutError):
                    item = await asyncio.wait_for(anext(stream), scaled(1.0))
                    if isinstance(item, EegFrame):
                        frames.append(item)
            await peer.send({"push": TOTAL})
            pushed = (await peer.line())["pushed"]
            async for item in stream:
                if isinstance(item, EegFrame):
                    frames.append(item)
                    if item.first_sample + item.samples_uv.shape[1] >= pushed - 31:
                        break
            hello = stream.hello
    finally:
        await peer.stop()
    assert hello is not None
    assert hello.sample_rate == 500
    assert hello.channels == tuple(f"L{index + 1}" for index in range(8))
    firsts = [frame.first_sample for frame in frames]
    sizes = [frame.samples_uv.shape[1] for frame in frames]
    assert firsts == [firsts[0] + sum(sizes[:i]) for i in range(len(frames))]  # in order, no gap
    received = np.concatenate([frame.samples_uv for frame in frames], axis=1)
    indices = np.arange(firsts[0], firsts[0] + received.shape[1])
    expected = np.array([[known_value(int(i), c) for i in indices] for c in range(8)])
    np.testing.assert_allclose(received, expected, rtol=1e-5, atol=1e-3)


async def test_round_trip_through_lsl_into_a_second_eegd_keeps_every_sample() -> None:
    name = f"eegd-trip-{os.getpid()}"
    first = f'plugins = ["voltage_filter", "lsl_outlet"]\n[plugin.lsl_outlet]\nname = "{name}"\n'
    second = (
        f'plugins = []\n[source]\nkind = "lsl"\n[source.lsl]\nname = "{name}"\ntype = "EEG"\n'
        "stall_timeout_s = 60\n"
    )
    async with live_daemon(first, stepped=True) as upstream:
        outlet = upstream.daemon.plugins["lsl_outlet"]
        assert isinstance(outlet, LslOutlet)
        await upstream.release(1)  # the first packet opens the EEG outlet
        await wait_until(lambda: outlet.stats()["chunks_pushed"] >= 1, timeout=10)
        with upstream.daemon.bus.subscribe([Topic.FILTERED_EEG], maxsize=10_000) as sent:
            async with (
                live_daemon(second) as downstream,
                eegd.client.connect(downstream.ws_url + "ws", ["raw_eeg"]) as stream,
            ):
                frames = [await next_released(upstream, stream, EegFrame)]
                await upstream.release(FRAMES)
                while frames[-1].first_sample + 32 < frames[0].first_sample + FRAMES * 32:
                    item = await asyncio.wait_for(anext(stream), scaled(10))
                    if isinstance(item, EegFrame):
                        frames.append(item)
                hello = stream.hello
            packets: list[Event] = []
            while (event := sent.get_nowait()) is not None:
                packets.append(event)
    assert hello is not None
    assert all(isinstance(packet, FilteredEegPacket) for packet in packets)
    assert hello.channels == tuple(upstream.daemon.acquisition.session.channel_names)
    assert hello.sample_rate == 250
    firsts = [frame.first_sample for frame in frames]
    assert firsts == list(range(firsts[0], firsts[0] + 32 * len(frames), 32))  # no gap
    received = np.concatenate([frame.samples_uv for frame in frames], axis=1)
    upstream_uv = np.concatenate(
        [packet.samples for packet in packets if isinstance(packet, FilteredEegPacket)], axis=1
    ) * np.float32(1e6)
    (offsets,) = np.nonzero(upstream_uv[0] == received[0, 0])
    assert offsets.size == 1  # the second eegd's first sample, found in the first's stream
    start = int(offsets[0])
    assert upstream_uv.shape[1] - start >= received.shape[1]
    # µV in float32 both ways, through volts in the second eegd: equal to a float32 rounding.
    np.testing.assert_allclose(
        received, upstream_uv[:, start : start + received.shape[1]], rtol=3e-7, atol=0
    )


async def test_an_outlet_that_vanishes_is_lost_then_found_and_the_gap_is_counted() -> None:
    name = f"amp-gone-{os.getpid()}"
    gone = 1500  # 3 s at 500 Hz of the amplifier's clock, no real time
    peer = await start_peer("outlet", "--name", name, "--channels", "4", "--rate", "500")
    try:
        await peer.line()  # ready
        toml = (
            f'plugins = []\n[source]\nkind = "lsl"\n[source.lsl]\nname = "{name}"\n'
            "resolve_timeout_s = 20\nstall_timeout_s = 30\n"
            "[supervisor]\ninitial_backoff = 0.01\njitter = 0\n"
        )
        async with live_daemon(toml) as live:
            acquisition = live.daemon.acquisition
            before = acquisition.session
            assert before is not None
            with live.daemon.bus.subscribe([Topic.SYSTEM], maxsize=1000) as system:
                await peer.send({"push": 128})
                await peer.line()
                await wait_until(lambda: acquisition.session_ledger().acquired == 128, 10)
                await peer.send({"vanish": gone})
                assert (await peer.line())["gone"] == gone
                lost = await next_system(system, SystemEventKind.SOURCE_LOST)
                assert "lost" in lost.detail["error"]
                await peer.send({"return": True})
                await peer.line()
                connected = await next_system(system, SystemEventKind.SOURCE_CONNECTED)
                await peer.send({"push": 128})
                await peer.line()
                await wait_until(lambda: acquisition.session_ledger().acquired == 256, 10)
                gap = await next_system(system, SystemEventKind.SAMPLES_LOST)
            status = live.daemon.status()
    finally:
        await peer.stop()
    # Reopened in the same session, placed by the stream's own clock: the gap is its time.
    assert connected.detail["session"] == before.id
    assert connected.detail["resumed"] is True
    assert gap.detail["session"] == before.id
    assert gap.detail["cause"] == "outage"
    assert gap.detail["first_sample"] == 128
    assert abs(gap.detail["count"] - gone) <= 32  # within one packet
    ledger = status["ledger"]
    assert abs(ledger["samples_lost"] - gone) <= 32
    assert (ledger["samples_acquired"], ledger["session_count"]) == (256, 1)
    assert ledger["consistent"] is True


async def next_system(subscription: Subscription, kind: SystemEventKind) -> SystemEvent:
    """The next system event of ``kind`` on ``subscription``."""
    async with asyncio.timeout(scaled(20)):
        async for event in subscription:
            if isinstance(event, SystemEvent) and event.kind is kind:
                return event
    raise AssertionError(f"the subscription closed before a {kind.value} event")


@pytest.mark.parametrize(
    ("rate", "channel_format", "problem"),
    [(pylsl.IRREGULAR_RATE, pylsl.cf_float32, "irregular rate"), (100, pylsl.cf_string, "strings")],
)
async def test_an_irregular_or_string_stream_is_refused_with_a_clear_error(
    rate: float, channel_format: int, problem: str
) -> None:
    name = f"not-eeg-{os.getpid()}-{channel_format}"
    info = pylsl.StreamInfo(name, "Markers", 1, rate, channel_format, f"{name}-id")
    outlet = pylsl.StreamOutlet(info)
    source = LslSource(LslOptions(name=name, resolve_timeout_s=scaled(10)))
    with pytest.raises(SourceError, match=problem) as refused:
        await asyncio.to_thread(source.open)
    del outlet
    assert name in str(refused.value)


async def test_a_stream_with_more_channels_than_eegd_streams_is_refused() -> None:
    """66,000 channels once reached the encoder (and 580 MB); the limit is eegd's own."""
    name = f"wide-{os.getpid()}"
    info = pylsl.StreamInfo(name, "EEG", MAX_STREAM_CHANNELS + 1, 100, pylsl.cf_float32, name)
    outlet = pylsl.StreamOutlet(info)
    source = LslSource(LslOptions(name=name, resolve_timeout_s=scaled(10)))
    with pytest.raises(SourceError, match=f"at most {MAX_STREAM_CHANNELS}") as refused:
        await asyncio.to_thread(source.open)
    del outlet
    assert f"{MAX_STREAM_CHANNELS + 1} channels" in str(refused.value)


@pytest.mark.parametrize("bad", [3e38, -2e6, float("nan"), float("inf")])
async def test_values_outside_the_declared_range_are_a_malformed_block(bad: float) -> None:
    """A finite 3e38 µV once passed as infinity to every frame, and the FFT stopped."""
    name = f"absurd-{os.getpid()}-{bad}"
    info = pylsl.StreamInfo(name, "EEG", 2, 100, pylsl.cf_float32, name)
    channel = info.desc().append_child("channels").append_child("channel")
    channel.append_child_value("label", "Cz")
    channel.append_child_value("unit", "microvolts")
    outlet = pylsl.StreamOutlet(info)
    source = LslSource(LslOptions(name=name, resolve_timeout_s=scaled(10)))
    await asyncio.to_thread(source.open)
    try:
        await wait_until(outlet.have_consumers, timeout=10)
        outlet.push_chunk([[10.0, -10.0]] * 10)  # 10 µV: fine
        outlet.push_chunk([[10.0, bad]] + [[10.0, -10.0]] * 9)
        good = await asyncio.to_thread(source.read, 10)
        absurd = await asyncio.to_thread(source.read, 10)
    finally:
        source.close()
    assert good.problem(2, 10) is None
    problem = absurd.problem(2, 10)
    assert problem is not None
    assert "1 values outside ±1 V" in problem
