"""Hardware triggers through the daemon: an edge on a GPIO line is a marker at its sample.

The source is the stepped synthetic one: sample ``k`` of the session is taken at ``k /
rate`` seconds on the test's clock, which is also the clock the stand-in gpiochip stamps
its edges on (the kernel stamps CLOCK_MONOTONIC, the clock a real source's model is fitted
on). So an edge at ``(k + f) / rate`` belongs to sample ``k`` for ``f`` below one half,
and to ``k + 1`` above: that is the expectation, worked out from the times alone.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from pathlib import Path

import mne
import pytest

from eegd.bus import DropPolicy, Subscription
from eegd.events import MarkerEvent, Topic
from eegd.plugins.gpio_trigger import GpioTrigger
from tests.integration.test_cli import in_process
from tests.integration.test_recording import recorder_of
from tests.support.live import LiveDaemon, live_daemon, stop_recording
from tests.support.rest import api
from tests.support.standin.trigger import TriggerBoard, install_trigger_board, levels
from tests.support.timing import scaled
from tests.support.waiting import wait_until

RATE = 250


@pytest.fixture
def board(monkeypatch: pytest.MonkeyPatch) -> TriggerBoard:
    chip = TriggerBoard()
    install_trigger_board(monkeypatch, chip)
    return chip


@contextlib.asynccontextmanager
async def trigger_daemon(
    board: TriggerBoard, table: str, directory: Path | None = None
) -> AsyncIterator[LiveDaemon]:
    plugins = '"recorder", "gpio_trigger"' if directory else '"gpio_trigger"'
    toml = f"plugins = [{plugins}]\n[plugin.gpio_trigger]\n{table}\n"
    if directory is not None:
        toml += f'[recording]\ndirectory = "{directory}"\nformat = "bdf"\n'
    async with live_daemon(toml, stepped=True) as live:
        await wait_until(lambda: 17 in board.requested)
        if directory is not None:
            await wait_until(lambda: recorder_of(live).ready)
        yield live


async def next_markers(subscription: Subscription, count: int) -> list[MarkerEvent]:
    markers = []
    async with asyncio.timeout(scaled(10)):
        async for event in subscription:
            assert isinstance(event, MarkerEvent)
            markers.append(event)
            if len(markers) == count:
                return markers
    raise AssertionError("the subscription closed")


def trigger_of(live: LiveDaemon) -> GpioTrigger:
    plugin = live.daemon.plugins["gpio_trigger"]
    assert isinstance(plugin, GpioTrigger)
    return plugin


async def test_each_rising_edge_is_a_marker_at_its_sample(board: TriggerBoard) -> None:
    async with trigger_daemon(board, 'line = 17\nlabel = "stim"') as live:
        bus = live.daemon.bus
        with bus.subscribe([Topic.MARKER], 64, DropPolicy.DROP_NEWEST) as markers:
            await live.release(8)  # samples already taken and stamped (8 × 32) ...
            past = [(10, 0.3), (37, 0.7), (100, 0.0)]
            # ... and samples still to come: their markers wait for them
            ahead = [(300, 0.2), (301, 0.9)]
            for k, f in past + ahead:
                board.pulse(17, levels([(k + f) / RATE], width=0.001))
            got = await next_markers(markers, 3)
            await live.release(4)
            got += await next_markers(markers, 2)
        session = live.daemon.acquisition.session
        assert session is not None
        clock = live.daemon.acquisition.clock
        assert clock is not None
        assert [m.sample for m in got] == [10, 38, 100, 300, 302]
        assert {m.label for m in got} == {"stim"}  # the falling edges are no markers
        assert {m.session for m in got} == {session.id}
        for marker in got:  # each carries its sample's stamp, as the EEG has it
            assert marker.sample is not None
            assert marker.timestamp == clock.stamp_us(marker.sample)
        stats = trigger_of(live).stats()
        assert (stats["markers"], stats["markers_ahead"], stats["edges"]) == (5, 0, 5)


async def test_both_edges_and_a_debounced_bounce(board: TriggerBoard) -> None:
    table = 'line = 17\nedge = "both"\ndebounce_ms = 2\nlabel = "button"'
    async with trigger_daemon(board, table) as live:
        with live.daemon.bus.subscribe([Topic.MARKER], 64, DropPolicy.DROP_NEWEST) as markers:
            await live.release(8)
            press = 50 / RATE
            # contacts bounce for 0.3 ms, then hold for 40 ms; a 0.5 ms glitch later on
            board.pulse(
                17,
                [
                    (press, 1),
                    (press + 0.0001, 0),
                    (press + 0.0003, 1),
                    (press + 0.0401, 0),
                    (120 / RATE, 1),
                    (120 / RATE + 0.0005, 0),
                ],
            )
            got = await next_markers(markers, 2)
            # the glitch made no marker: the next edge's marker comes after the two
            board.pulse(17, levels([200.25 / RATE], width=0.02))
            got += await next_markers(markers, 2)
    # the kernel stamps a debounced edge once it has held for 2 ms; eegd takes that off,
    # which leaves the last bounce (0.3 ms after the press, within the press's sample)
    assert [(m.label, m.sample) for m in got] == [
        ("button rising", 50),
        ("button falling", 60),
        ("button rising", 200),
        ("button falling", 205),
    ]


async def test_a_trigger_is_in_the_recording_mne_reads_at_its_sample(
    board: TriggerBoard, tmp_path: Path
) -> None:
    async with trigger_daemon(board, "line = 17", tmp_path) as live:
        recorder = recorder_of(live)
        with live.daemon.bus.subscribe([Topic.MARKER], 64, DropPolicy.DROP_NEWEST) as markers:
            await api(live, "POST", "api/recordings", {"name": "triggered"})
            await live.release(4)
            board.pulse(17, levels([(k + 0.25) / RATE for k in (40, 77, 90)], width=0.001))
            got = await next_markers(markers, 3)
            await live.release(4)
            await wait_until(lambda: recorder.stats()["samples_written"] >= 8 * 32)
            await stop_recording(live)
    first = json.loads((tmp_path / "triggered.json").read_text())["first_sample"]
    raw = mne.io.read_raw_bdf(tmp_path / "triggered.bdf", verbose="error")
    onsets = [a["onset"] for a in raw.annotations if a["description"] == "trigger"]
    assert [m.sample for m in got] == [40, 77, 90]
    assert [first + round(onset * RATE) for onset in onsets] == [40, 77, 90]


def test_a_debounce_out_of_range_exits_2_naming_the_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    toml = 'plugins = ["gpio_trigger"]\n[plugin.gpio_trigger]\ndebounce_ms = 5000\n'
    (tmp_path / "eegd.toml").write_text(toml)
    code, _, stderr = in_process(["run", "--port", "0"], tmp_path, capsys, monkeypatch)
    assert code == 2
    assert "plugin.gpio_trigger.debounce_ms: 5000" in stderr


@pytest.mark.parametrize(
    ("ads1299", "line", "key"),
    [
        ("", 25, "source.ads1299.drdy_gpio"),  # the seed board's DRDY
        ("start_gpio = 22\n", 22, "source.ads1299.start_gpio"),
        ("", 10, "source.ads1299.spi_bus"),  # SPI0 MOSI
    ],
)
def test_a_line_the_source_holds_exits_2_naming_both_keys(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    ads1299: str,
    line: int,
    key: str,
) -> None:
    toml = (
        'plugins = ["gpio_trigger"]\n[source]\nkind = "ads1299"\n'
        f"[source.ads1299]\n{ads1299}[plugin.gpio_trigger]\nline = {line}\n"
    )
    (tmp_path / "eegd.toml").write_text(toml)
    code, _, stderr = in_process(["run", "--port", "0"], tmp_path, capsys, monkeypatch)
    assert code == 2
    (message,) = stderr.strip().splitlines()
    assert f"plugin.gpio_trigger.line: GPIO{line} of /dev/gpiochip0 is already {key}" in message


def test_a_line_of_an_emulated_chip_is_free(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    toml = (
        'plugins = ["gpio_trigger"]\n[source]\nkind = "ads1299"\n'
        "[source.ads1299]\nemulate = true\n[plugin.gpio_trigger]\nline = 25\n"
    )
    (tmp_path / "eegd.toml").write_text(toml)
    code, out, stderr = in_process(["config"], tmp_path, capsys, monkeypatch)
    assert code == 0, stderr
    assert '"line": 25' in out


async def test_edges_beyond_the_kernels_buffer_are_counted_lost(board: TriggerBoard) -> None:
    async with trigger_daemon(board, "line = 17") as live:
        with live.daemon.bus.subscribe([Topic.MARKER], 64, DropPolicy.DROP_NEWEST) as markers:
            await live.release(8)
            # 20 pulses at once, before the reader can take any: the kernel keeps 16
            board.pulse(17, levels([(k + 0.25) / RATE for k in range(100, 120)], width=0.001))
            got = await next_markers(markers, 16)
            # an edge before the session's first sample makes no marker
            board.pulse(17, levels([-0.5], width=0.001))
            board.pulse(17, levels([150.25 / RATE], width=0.001))
            got += await next_markers(markers, 1)
        stats = trigger_of(live).stats()
    assert [m.sample for m in got] == [*range(104, 120), 150]  # the oldest 4 went
    assert (stats["edges_lost"], stats["edges_outside_session"]) == (4, 1)
    assert stats["edges"] == stats["markers"] + 1 == 18
