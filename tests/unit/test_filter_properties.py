"""Property tests: no ``PUT /api/filter`` body can break the voltage filter.

Arbitrary JSON objects, over the known keys and junk ones, with extreme floats, huge integers,
strings, null and nesting, go through ``Daemon.reconfigure``, the function the REST route
calls, into a running ``VoltageFilter``. Each is either refused with a ``ConfigError`` (and
changes nothing) or accepted, and then the filter's output stays finite.
"""

from __future__ import annotations

import functools
import math
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from eegd.config import load_config
from eegd.daemon import Daemon
from eegd.dsp.filters import POLE_MARGIN, FilterSettings, StreamingFilter, design_sos
from eegd.errors import ConfigError
from eegd.events import EegPacket, FilteredEegPacket
from eegd.plugins.voltage_filter import VoltageFilter, settings_from_options
from tests.support.packets import chunks, eeg_packet

KEYS = ("highpass_hz", "lowpass_hz", "notch_hz", "order", "notch_q")
CHANNELS = 8
BATCH = {250.0: 32, 16000.0: 512}

#: Values near every edge: 0 Hz, Nyquist at both rates, the float range, Python's int limits.
EDGES = st.sampled_from(
    [
        0,
        0.0,
        -0.0,
        1,
        8,
        9,
        50,
        60,
        5e-324,
        1e-300,
        1e-7,
        1e-3,
        0.5,
        124.9,
        124.99999,
        float(np.nextafter(125.0, 0.0)),
        125.0,
        7999.999,
        8000.0,
        1e6,
        1e300,
        1.7976931348623157e308,
        math.inf,
        -math.inf,
        math.nan,
        2**63,
        10**400,
        -(10**30),
    ]
)
NUMBERS = st.one_of(
    EDGES,
    st.floats(),
    st.floats(min_value=1e-6, max_value=8000.0),
    st.integers(),
    st.integers(min_value=-3, max_value=12),
)
SCALARS = st.one_of(NUMBERS, st.none(), st.booleans(), st.text(max_size=8))
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner),
    max_leaves=6,
)
BODIES = st.dictionaries(
    st.sampled_from(KEYS) | st.text(max_size=12), st.one_of(NUMBERS, VALUES), max_size=5
)
#: Bodies of known keys with plausible-to-extreme numbers: most of them get accepted.
NUMERIC_BODIES = st.dictionaries(
    st.sampled_from(KEYS), st.one_of(NUMBERS, st.none()), min_size=1, max_size=5
)


@functools.cache
def white_noise(rate: float, seed: int = 0) -> npt.NDArray[np.float64]:
    """2 s of 20 µV white noise on a 50 mV electrode offset, in volts (made once, read-only)."""
    rng = np.random.default_rng(seed)
    noise = 0.05 + rng.normal(0.0, 20e-6, (CHANNELS, int(2 * rate)))
    noise.flags.writeable = False
    return noise


def packets(volts: npt.NDArray[np.float64], rate: float, first: int = 0) -> list[EegPacket]:
    size = BATCH[rate]
    return [
        eeg_packet(
            block,
            frame_id=(first + start) // size,
            first_sample=first + start,
            sample_rate=rate,
            channel_names=tuple(f"E{index}" for index in range(CHANNELS)),
        )
        for start, block in chunks(volts, size)
    ]


def filtered(plugin: VoltageFilter, inputs: list[EegPacket]) -> npt.NDArray[np.float32]:
    outputs = [event for packet in inputs for event in plugin.process(packet)]
    return np.concatenate(
        [event.samples for event in outputs if isinstance(event, FilteredEegPacket)], axis=1
    )


CONFIG = load_config()


def running_daemon(rate: float) -> tuple[Daemon, VoltageFilter]:
    """A daemon (not serving) whose voltage filter has already filtered a packet at ``rate``."""
    daemon = Daemon(CONFIG)
    plugin = VoltageFilter.from_options(daemon.plugin_state(VoltageFilter.name))
    plugin.process(packets(white_noise(rate, seed=1)[:, : BATCH[rate]], rate)[0])
    daemon.plugins[VoltageFilter.name] = plugin
    return daemon, plugin


def check_update(body: dict[str, Any], rate: float) -> None:
    daemon, plugin = running_daemon(rate)
    before = daemon.plugin_state(VoltageFilter.name)
    try:
        daemon.reconfigure(VoltageFilter.name, body)
    except ConfigError:
        assert daemon.plugin_state(VoltageFilter.name) == before
        assert plugin.settings == FilterSettings(**before)
        return
    assert plugin.settings == FilterSettings(**daemon.plugin_state(VoltageFilter.name))
    signal = white_noise(rate)
    after_switch = filtered(plugin, packets(signal, rate, first=BATCH[rate]))
    assert np.isfinite(after_switch).all(), body
    sos = design_sos(plugin.settings, rate)
    radii = [float(np.max(np.abs(np.roots(section[3:])))) for section in sos]
    assert max(radii, default=0.0) < 1.0 - POLE_MARGIN
    fresh = StreamingFilter(sos, CHANNELS).process(signal)
    assert np.isfinite(fresh).all(), body


PROPERTY = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.mark.parametrize("rate", sorted(BATCH))
@PROPERTY
@given(body=BODIES)
def test_any_body_is_refused_with_a_config_error_or_filters_finitely(
    rate: float, body: dict[str, Any]
) -> None:
    check_update(body, rate)


@pytest.mark.parametrize("rate", sorted(BATCH))
@PROPERTY
@given(body=NUMERIC_BODIES)
def test_any_numbers_for_the_known_keys_are_refused_or_filter_finitely(
    rate: float, body: dict[str, Any]
) -> None:
    check_update(body, rate)


@settings(max_examples=150, deadline=None)
@given(
    body=NUMERIC_BODIES,
    rate=st.one_of(st.sampled_from([250.0, 500.0, 1000.0, 16000.0]), st.floats(1.0, 1e5)),
)
def test_every_design_that_is_accepted_is_stable(body: dict[str, Any], rate: float) -> None:
    try:
        sos = design_sos(settings_from_options(body), rate)
    except ConfigError:
        return
    assert np.isfinite(sos).all()
    for section in sos:
        assert float(np.max(np.abs(np.roots(section[3:])))) < 1.0 - POLE_MARGIN
