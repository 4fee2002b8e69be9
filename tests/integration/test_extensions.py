"""Third-party extensions end to end: a toy source and a toy plugin, installed as a real
distribution with entry points, run in the daemon exactly like the built-ins.

The daemon names no concrete source or plugin, so ``source.kind = "toy"`` and
``plugins = [..., "toy_counter"]`` are all it takes: the toy's samples come out of the
voltage filter, the toy plugin's counters and figures show in ``/api/status`` and
``/metrics``, and its route is served.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import aiohttp
import numpy as np
import pytest
from prometheus_client.parser import text_string_to_metric_families

from eegd.client import connect
from eegd.dsp.filters import StreamingFilter, design_sos
from eegd.net.protocol import EegFrame
from eegd.plugins.voltage_filter import settings_from_options
from tests.support.live import live_daemon
from tests.support.waiting import wait_until

RATE = 1000
CHANNELS = 3
BATCH = 10

TOY = '''
import math

import numpy as np

from eegd.errors import ConfigError
from eegd.events import Topic
from eegd.sources.base import SampleBlock, Source


def toy_volts(first, n, channels, rate, offset_uv):
    """Sample i of channel c: a 10 Hz sine of 50 µV on an offset, channels 10 µV apart."""
    index = np.arange(first, first + n)
    sine = 50.0 * np.sin(2 * math.pi * 10.0 * index / rate)
    rows = [offset_uv + 10.0 * c + sine for c in range(channels)]
    return (np.array(rows) * 1e-6).astype(np.float32)


class ToySource(Source):
    kind = "toy"

    def __init__(self, channels, rate, offset_uv):
        self._channels, self._rate, self._offset = channels, float(rate), offset_uv
        self._next = 0

    @classmethod
    def from_options(cls, shared, options):
        unknown = sorted(set(options) - {"offset_uv"})
        if unknown:
            raise ConfigError(f"source.toy.{unknown[0]}: unknown key (allowed: offset_uv)")
        return cls(shared.channels, shared.sample_rate, options.get("offset_uv", 200.0))

    @property
    def sample_rate(self):
        return self._rate

    @property
    def channel_names(self):
        return tuple(f"T{c}" for c in range(self._channels))

    def open(self):
        self._next = 0

    def read(self, n_samples):
        """The next samples at once, as a file delivers them (un-paced)."""
        first = self._next
        self._next += n_samples
        volts = toy_volts(first, n_samples, self._channels, self._rate, self._offset)
        return SampleBlock(first, (volts * 1e7).astype(np.int32), volts)

    def close(self):
        pass


class ToyCounter:
    name = "toy_counter"
    consumes = (Topic.FILTERED_EEG,)
    produces = ()

    def __init__(self, every):
        self.every = every
        self.packets = 0

    @classmethod
    def from_options(cls, options):
        return cls(options.get("every", 1))

    @classmethod
    def routes(cls):
        from eegd.routes import Route

        return [Route("GET", "/api/toy_counter", lambda request: request.control.state(), "viewer")]

    def stats(self):
        return {"packets": self.packets}

    def status(self):
        from eegd.plugin import StatusFigure

        return [
            StatusFigure("toy_packets", self.packets, True, "eegd_toy_packets", "Toy packets."),
            StatusFigure("spectra_computed", 1000000),
        ]

    async def run(self, ctx):
        with ctx.bus.subscribe(self.consumes) as subscription:
            async for _ in subscription:
                self.packets += 1
'''


def install_toy(root: Path) -> None:
    """The ``toy_eegd_ext`` distribution on ``root``: a package and its entry points."""
    package = root / "toy_eegd_ext"
    package.mkdir()
    (package / "__init__.py").write_text(textwrap.dedent(TOY))
    info = root / "toy_eegd_ext-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: toy_eegd_ext\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(
        "[eegd.sources]\ntoy = toy_eegd_ext:ToySource\n\n"
        "[eegd.plugins]\ntoy_counter = toy_eegd_ext:ToyCounter\n"
    )


@pytest.fixture
def toy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    install_toy(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))


@pytest.mark.usefixtures("toy")
async def test_a_toy_source_and_plugin_from_entry_points_run_like_the_built_ins() -> None:
    import toy_eegd_ext  # type: ignore[import-not-found]

    toml = f"""
        plugins = ["voltage_filter", "brain_waves", "toy_counter"]
        [source]
        kind = "toy"
        channels = {CHANNELS}
        sample_rate = {RATE}
        batch_size = {BATCH}
        [source.toy]
        offset_uv = 300.0
        [plugin.toy_counter]
        every = 2
    """
    async with (
        live_daemon(textwrap.dedent(toml)) as live,
        aiohttp.ClientSession() as session,
    ):
        frames: list[EegFrame] = []
        async with connect(live.ws_url + "ws", ["filtered_eeg"]) as stream:
            async for item in stream:
                if isinstance(item, EegFrame):
                    frames.append(item)
                    if len(frames) == 5:
                        break
        end = frames[-1].first_sample + frames[-1].n_samples
        signal = toy_eegd_ext.toy_volts(0, end, CHANNELS, RATE, 300.0)
        settings = settings_from_options(live.daemon.plugin_state("voltage_filter"))
        expected_uv = StreamingFilter(design_sos(settings, RATE), CHANNELS).process(signal) * 1e6
        for frame in frames:
            assert frame.channel_names == ("T0", "T1", "T2")
            window = expected_uv[:, frame.first_sample : frame.first_sample + frame.n_samples]
            np.testing.assert_allclose(frame.samples_uv, window, rtol=1e-4, atol=1e-3)

        async with session.get(live.url + "api/status") as response:
            status = await response.json()
        assert status["source"]["kind"] == "toy"
        assert status["plugins"]["toy_counter"]["packets"] > 0
        assert "voltage_filter" in status["plugins"]
        # The toy's own figures: one in the ledger, one beside the brain-waves plugin's.
        assert status["ledger"]["toy_packets"] > 0
        brain_waves = status["plugins"]["brain_waves"]["spectra_computed"]
        assert status["spectra_computed"] == brain_waves + 1000000
        async with session.get(live.url + "metrics") as response:
            metrics = text_string_to_metric_families(await response.text())
            toy = {s.name: s.value for family in metrics for s in family.samples}
        assert toy["eegd_toy_packets_total"] > 0
        await wait_until(lambda: live.daemon.report.plugin_stats()["toy_counter"]["packets"] >= 5)
        async with session.get(live.url + "api/toy_counter") as response:
            assert response.status == 200
            assert await response.json() == {"every": 2}


@pytest.mark.usefixtures("toy")
async def test_a_bad_option_of_the_toy_source_names_its_key() -> None:
    from eegd.config import load_config
    from eegd.errors import ConfigError

    with pytest.raises(ConfigError, match=r"^source\.toy\.offset: unknown key"):
        load_config(overrides={"source.kind": ("--source", "toy"), "source.toy.offset": ("", 1)})
