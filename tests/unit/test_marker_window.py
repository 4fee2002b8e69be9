"""Markers from ``POST /api/markers`` through the session's clock model: one sample each,
stamped with that sample's stamp, refused outside the session or the recording."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from eegd.acquisition.clock_model import ClockModel
from eegd.errors import ConfigError
from eegd.plugins.recorder.markers import marker_from_body

EPOCH_US = 1_800_000_000_000_000


def session_clock(now: list[float]) -> ClockModel:
    """A 250 Hz session started at monotonic 0, 4 s of packets (of 25) issued, on time."""
    model = ClockModel(250.0, 0.0, EPOCH_US, monotonic=lambda: now[0])
    for block in range(40):
        model.observe((block + 1) * 25, (block + 1) * 0.1)
        model.stamps(block * 25, 25)
    return model


@given(moment=st.integers(EPOCH_US, EPOCH_US + 5_000_000))
def test_a_moment_in_the_session_maps_to_the_nearest_sample_and_takes_its_stamp(
    moment: int,
) -> None:
    clock = session_clock([4.0])
    marker = marker_from_body({"label": "s", "timestamp_us": moment}, clock, "s1")
    assert marker.sample == round((moment - EPOCH_US) / 4000)
    assert marker.timestamp == clock.stamp_us(marker.sample)
    assert abs(marker.timestamp - moment) <= 2000
    assert marker.session == "s1"


@pytest.mark.parametrize("moment", [EPOCH_US - 1, EPOCH_US + 5_000_001, 0])
def test_a_moment_outside_the_session_is_refused_naming_the_window(moment: int) -> None:
    clock = session_clock([4.0])
    with pytest.raises(ConfigError) as refused:
        marker_from_body({"label": "s", "timestamp_us": moment}, clock, "s1")
    assert str(refused.value) == (
        f"timestamp_us: {moment} lies outside the session: allowed from {EPOCH_US} to "
        f"{EPOCH_US + 5_000_000} (µs since the epoch, up to a second ahead of now)"
    )


def test_a_moment_before_the_recording_is_refused_naming_the_recording() -> None:
    clock = session_clock([4.0])
    since = ("night-1", EPOCH_US + 2_000_000)
    with pytest.raises(
        ConfigError, match=r"outside recording night-1: allowed from 1800000002000000 to"
    ):
        marker_from_body({"label": "s", "timestamp_us": EPOCH_US + 1_999_999}, clock, "s1", since)
    marker = marker_from_body(
        {"label": "s", "timestamp_us": EPOCH_US + 2_000_000}, clock, "s1", since
    )
    assert marker.sample == 500


def test_now_is_the_sample_of_this_moment() -> None:
    now = [4.05]  # half a packet after the last one issued
    clock = session_clock(now)
    marker = marker_from_body({"label": "now"}, clock, "s1")
    assert marker.sample in (1012, 1013)  # 4.05 s at 250 Hz, ± rounding
    assert marker.timestamp == clock.stamp_us(marker.sample)


def test_without_a_session_a_moment_cannot_be_named() -> None:
    with pytest.raises(ConfigError, match="no source session"):
        marker_from_body({"label": "s", "timestamp_us": EPOCH_US}, None, None)
    assert marker_from_body({"label": "s"}, None, None).sample is None
