"""Loading plugins by name: built-ins, third-party entry points, and errors that name them;
and the transform base that runs them."""

from __future__ import annotations

import asyncio
import logging
import textwrap
from collections.abc import Sequence
from pathlib import Path
from typing import ClassVar

import numpy as np
import pytest

from eegd.bus import EventBus
from eegd.config import load_config
from eegd.daemon import Daemon
from eegd.errors import ConfigError, PluginError
from eegd.events import (
    EegPacket,
    Event,
    FilteredEegPacket,
    SystemEvent,
    SystemEventKind,
    Topic,
)
from eegd.plugin import (
    PluginContext,
    TransformPlugin,
    available_plugins,
    load_plugin_class,
    plugin_routes,
)
from eegd.plugins.brain_waves import BrainWaves
from eegd.plugins.voltage_filter import VoltageFilter
from eegd.routes import Route
from tests.support.packets import eeg_packet, fft_packet
from tests.support.timing import scaled
from tests.support.waiting import wait_until


def install_distribution(root: Path, module: str, source: str, entry: str) -> None:
    """A minimal installed distribution on ``root``: a module and its entry point."""
    (root / f"{module}.py").write_text(textwrap.dedent(source))
    info = root / f"{module}-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {module}\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(f"[eegd.plugins]\n{entry}\n")


def test_builtins_load_by_name_through_their_entry_points() -> None:
    assert load_plugin_class("voltage_filter") is VoltageFilter
    assert load_plugin_class("brain_waves") is BrainWaves
    assert {"voltage_filter", "brain_waves"} <= set(available_plugins())


def test_a_third_party_plugin_loads_through_its_entry_point(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    install_distribution(
        tmp_path,
        "eegd_counter",
        """
        from eegd.events import Topic

        class Counter:
            name = "counter"
            consumes = (Topic.RAW_EEG,)
            produces = ()

            @classmethod
            def from_options(cls, options):
                return cls()

            async def run(self, ctx):
                pass
        """,
        "counter = eegd_counter:Counter",
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    plugin_class = load_plugin_class("counter")
    assert plugin_class.__name__ == "Counter"
    assert plugin_class.name == "counter"


def test_unknown_plugin_names_the_plugin_and_the_available_ones() -> None:
    with pytest.raises(PluginError, match=r"plugin 'nope': not found \(available: .*brain_waves"):
        load_plugin_class("nope")


def test_a_plugin_that_fails_to_import_is_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    install_distribution(tmp_path, "eegd_broken", "import not_a_module\n", "broken = eegd_broken:X")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(
        PluginError, match=r"plugin 'broken': failed to load eegd_broken:X: No module named"
    ):
        load_plugin_class("broken")


def test_something_that_is_not_a_plugin_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    install_distribution(
        tmp_path, "eegd_thing", "class Thing:\n    pass\n", "thing = eegd_thing:Thing"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(PluginError, match=r"plugin 'thing': .* has no 'name'"):
        load_plugin_class("thing")


async def test_the_daemon_runs_a_third_party_plugin_with_its_options(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    install_distribution(
        tmp_path,
        "eegd_tally",
        """
        from eegd.errors import ConfigError
        from eegd.events import Topic

        class Tally:
            name = "tally"
            consumes = (Topic.RAW_EEG,)
            produces = ()

            def __init__(self, every):
                self.every = every
                self.seen = 0

            @classmethod
            def from_options(cls, options):
                if set(options) - {"every"}:
                    raise ConfigError(f"plugin.tally: unknown options {sorted(options)}")
                return cls(options.get("every", 1))

            async def run(self, ctx):
                with ctx.bus.subscribe(self.consumes) as subscription:
                    async for _ in subscription:
                        self.seen += 1
        """,
        "tally = eegd_tally:Tally",
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    config_file = tmp_path / "eegd.toml"
    config_file.write_text(
        'plugins = ["voltage_filter", "tally"]\n'
        "[plugin.tally]\nevery = 3\n"
        "[source.synthetic]\npaced = false\n"
    )
    daemon = Daemon(load_config(config_file))
    daemon.start()
    try:
        await wait_until(lambda: getattr(daemon.plugins.get("tally"), "seen", 0) > 5)
        assert getattr(daemon.plugins["tally"], "every", None) == 3
        assert getattr(daemon.plugins["tally"], "seen", 0) > 5
    finally:
        await daemon.stop()

    config_file.write_text('plugins = ["tally"]\n[plugin.tally]\nevry = 3\n')
    with pytest.raises(ConfigError, match="plugin.tally: unknown options"):
        Daemon(load_config(config_file))


class Poisoned(TransformPlugin):
    """Passes packets through, except that odd frames come out with a NaN or an infinity."""

    name: ClassVar[str] = "poisoned"
    consumes: ClassVar[tuple[Topic, ...]] = (Topic.RAW_EEG,)
    produces: ClassVar[tuple[Topic, ...]] = (Topic.FILTERED_EEG, Topic.FFT)

    def process(self, event: Event) -> Sequence[Event]:
        if not isinstance(event, EegPacket):
            return []
        samples = np.array(event.volts)
        band_power = np.ones((samples.shape[0], 5), dtype=np.float32)
        if event.frame_id % 2:
            samples[0, 0] = np.nan
            band_power[-1, -1] = np.inf
        spectrum = fft_packet(
            np.ones((samples.shape[0], 3)),
            band_power,
            np.arange(3),
            source_frame_id=event.frame_id,
            timestamp=int(event.timestamps[-1]),
            fft_size=4,
            sample_rate=event.sample_rate,
            channel_names=event.channel_names,
            monotonic_ns=event.monotonic_ns,
        )
        return [FilteredEegPacket.from_source(event, samples), spectrum]


def raw_packet(frame_id: int) -> EegPacket:
    return eeg_packet(
        np.full((2, 4), 1e-5),
        frame_id=frame_id,
        first_sample=frame_id * 4,
        channel_names=("C3", "C4"),
    )


async def test_non_finite_output_is_dropped_counted_and_reported_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    bus = EventBus()
    plugin = Poisoned()
    logger = logging.getLogger("test.poisoned")
    with bus.subscribe([Topic.FILTERED_EEG, Topic.FFT, Topic.SYSTEM]) as outputs:
        task = asyncio.create_task(plugin.run(PluginContext(bus, logger)))
        try:
            await wait_until(lambda: bus.has_subscribers(Topic.RAW_EEG))
            for frame_id in range(7):
                bus.publish(raw_packet(frame_id))
            async with asyncio.timeout(scaled(5.0)):
                received = [await outputs.get() for _ in range(9)]
        finally:
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
    shown = [
        (type(event).__name__, getattr(event, "frame_id", getattr(event, "source_frame_id", None)))
        for event in received
    ]
    assert shown == [
        ("FilteredEegPacket", 0),
        ("FftPacket", 0),
        ("SystemEvent", None),  # the first bad packet, frame 1, is reported ...
        ("FilteredEegPacket", 2),  # ... and frame 1's spectrum, and frames 3 and 5, are not
        ("FftPacket", 2),
        ("FilteredEegPacket", 4),
        ("FftPacket", 4),
        ("FilteredEegPacket", 6),
        ("FftPacket", 6),
    ]
    report = received[2]
    assert isinstance(report, SystemEvent)
    assert report.kind is SystemEventKind.PLUGIN_OUTPUT_INVALID
    assert dict(report.detail) == {
        "plugin": "poisoned",
        "event": "FilteredEegPacket",
        "field": "samples",
        "reason": "not finite",
    }
    assert plugin.non_finite_dropped == 6
    warnings = [record for record in caplog.records if record.name == "test.poisoned"]
    assert len(warnings) == 1
    assert warnings[0].levelno == logging.WARNING
    assert "non-finite samples" in warnings[0].getMessage()


async def test_run_time_changes_survive_a_restart_by_the_supervisor(tmp_path: Path) -> None:
    config_file = tmp_path / "eegd.toml"
    config_file.write_text('plugins = ["voltage_filter"]\n[supervisor]\ninitial_backoff = 0\n')
    daemon = Daemon(load_config(config_file))
    daemon.start()
    try:
        await wait_until(lambda: VoltageFilter.name in daemon.plugins)
        first = daemon.plugins[VoltageFilter.name]
        state = daemon.reconfigure(VoltageFilter.name, {"notch_hz": 60})
        assert state["notch_hz"] == 60
        # A malformed packet (a buggy producer's 3-D block) crashes the filter; it restarts.
        daemon.bus.publish(
            EegPacket.create(
                frame_id=0,
                first_sample=0,
                timestamps=np.zeros(4, dtype=np.uint64),
                raw=np.zeros((2, 4, 1), dtype=np.int32),
                volts=np.zeros((2, 4, 1), dtype=np.float32),
                sample_rate=250.0,
                channel_names=("C3", "C4"),
            )
        )
        await wait_until(lambda: daemon.plugins[VoltageFilter.name] is not first)
        restarted = daemon.plugins[VoltageFilter.name]
        assert isinstance(restarted, VoltageFilter)
        assert restarted.settings.notch_hz == 60
        assert daemon.plugin_state(VoltageFilter.name)["notch_hz"] == 60
        assert daemon.supervisor.status(VoltageFilter.name).restarts == 1
    finally:
        await daemon.stop()


def test_only_plugins_that_offer_it_are_reconfigured(tmp_path: Path) -> None:
    daemon = Daemon(load_config())
    with pytest.raises(ConfigError, match=r"plugin 'brain_waves': its options cannot change"):
        daemon.reconfigure(BrainWaves.name, {"hop_s": 0.5})
    with pytest.raises(ConfigError, match=r"plugin 'nope': not running \(running: voltage_f"):
        daemon.reconfigure("nope", {})
    assert daemon.plugin_state(BrainWaves.name)["window_s"] == 2.0
    assert [(name, route.method, route.path) for name, route in daemon.routes()] == [
        ("voltage_filter", "GET", "/api/filter"),
        ("voltage_filter", "PUT", "/api/filter"),
        ("recorder", "GET", "/api/recordings"),
        ("recorder", "POST", "/api/recordings"),
        ("recorder", "POST", "/api/recordings/current/stop"),
        ("recorder", "GET", "/api/recordings/{name}"),
        ("recorder", "DELETE", "/api/recordings/{name}"),
        ("recorder", "POST", "/api/markers"),
        ("recorder", "POST", "/api/recordings/{name}/bids"),
        ("source", "GET", "/api/source"),
        ("source", "PUT", "/api/source"),
        ("kiosk", "GET", "/api/kiosk"),
        ("selftest", "POST", "/api/selftest"),
        ("impedance", "POST", "/api/impedance"),
        ("playback", "GET", "/api/playback"),
        ("playback", "PUT", "/api/playback"),
    ]


def test_routes_that_are_not_route_declarations_are_refused() -> None:
    class Odd(VoltageFilter):
        name: ClassVar[str] = "odd"

        @classmethod
        def routes(cls) -> list[Route]:
            return [("GET", "/api/odd")]  # type: ignore[list-item]

    with pytest.raises(PluginError, match=r"plugin 'odd': routes\(\) gave .* not a Route"):
        plugin_routes(Odd)
