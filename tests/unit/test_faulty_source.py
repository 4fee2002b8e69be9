"""The ``faulty`` source: each injected fault, its schedule, and its configuration errors."""

from __future__ import annotations

import math

import numpy as np
import pytest

from eegd.errors import ConfigError, SourceError
from eegd.sources.adc import COUNT_MAX
from eegd.sources.base import SharedSourceOptions
from eegd.sources.faulty import FaultOptions, FaultySource
from eegd.sources.registry import load_source_class
from eegd.sources.synthetic import SyntheticSettings, SyntheticSource
from tests.support.clocks import FakeClock


def faulty(clock: FakeClock | None = None, **faults: object) -> FaultySource:
    inner = SyntheticSource(SyntheticSettings(channels=4, paced=False))
    source = FaultySource(inner, FaultOptions(**faults), clock)  # type: ignore[arg-type]
    source.open()
    return source


def test_it_is_registered_and_wraps_the_kind_it_names() -> None:
    assert load_source_class("faulty") is FaultySource
    shared = SharedSourceOptions(kind="faulty", channels=3, sample_rate=500)
    source = FaultySource.from_options(shared, {"wraps": "synthetic", "options": {"seed": 3}})
    assert source.sample_rate == 500
    assert len(source.channel_names) == 3


def test_every_nth_read_fails_then_the_device_is_away_for_down_s() -> None:
    clock = FakeClock()
    source = faulty(clock, fail_every=3, fail_times=2, down_s=2.0)
    firsts = [source.read(10).first_sample, source.read(10).first_sample]
    assert firsts == [0, 10]
    with pytest.raises(SourceError, match="injected failure 1"):
        source.read(10)
    source.close()
    with pytest.raises(SourceError, match="away"):
        source.open()
    clock.now = 2.0
    source.open()  # back, from the wrapped source's sample 0: the acquisition places it
    assert source.read(10).first_sample == 0
    source.read(10)
    with pytest.raises(SourceError, match="injected failure 2"):
        source.read(10)  # read 6: reads count over every opening
    clock.now = 10.0
    source.close()
    source.open()
    assert all(source.read(10).n_samples == 10 for _ in range(9))  # fail_times reached


def test_a_silence_loses_its_samples_and_keeps_the_device_away_meanwhile() -> None:
    clock = FakeClock()
    source = faulty(clock, silence_every=2, silence_times=1, silence_s=0.5)
    assert source.read(25).first_sample == 0
    # 0.5 s at 250 Hz is 125 samples: five blocks of 25 never come.
    assert source.read(25).first_sample == 25 + 125
    assert source.read(25).first_sample == 175
    assert source.read(25).first_sample == 200  # silence_times reached


def test_malformed_blocks_are_what_the_acquisition_rejects() -> None:
    source = faulty(wrong_shape_every=2, nan_every=3)
    good = source.read(8)
    assert good.problem(4, 8) is None
    wrong = source.read(8)
    assert wrong.volts.shape == (3, 8)
    assert "shape" in str(wrong.problem(4, 8))
    nan = source.read(8)
    assert math.isnan(nan.volts[0, 0])
    assert "NaN" in str(nan.problem(4, 8))
    assert good.problem(4, 4) is not None  # more samples than asked for


def test_railed_and_flat_channels() -> None:
    source = faulty(railed_channels=[1], flat_channels=[2])
    block = source.read(16)
    assert np.all(block.raw[1] == COUNT_MAX)
    assert np.all(block.volts[1] > 0.18)  # the ADS1299's +187.5 mV at gain 24
    assert np.all(block.volts[2] == 0.0)
    assert np.any(block.volts[0] != 0.0)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"wraps": "nope"}, r"^source\.faulty\.wraps: 'nope' is not a source"),
        ({"wraps": "faulty"}, r"^source\.faulty\.wraps: 'faulty' cannot wrap itself"),
        ({"fail_every": -1}, r"^source\.faulty\.fail_every: "),
        ({"railed_channels": [8]}, r"^source\.faulty\.railed_channels: \[8\] out of range"),
        ({"options": {"seed": "x"}}, r"^source\.faulty\.options\.seed: "),
        ({"silence": 2}, r"^source\.faulty\.silence: unknown"),
    ],
)
def test_bad_options_name_the_key(options: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        FaultySource.from_options(SharedSourceOptions(kind="faulty"), options)
