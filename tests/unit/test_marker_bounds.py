"""A marker's duration is bounded: 1e308 s once made a TAL too long for any record, and no
later annotation reached the file."""

from __future__ import annotations

import pytest

from eegd.errors import ConfigError
from eegd.plugins.recorder.edf import tal
from eegd.plugins.recorder.markers import MAX_MARKER_DURATION_S, marker_from_body


@pytest.mark.parametrize("duration", [1e308, 1e20, MAX_MARKER_DURATION_S * 1.01, -1.0])
def test_a_marker_duration_out_of_range_is_refused_naming_the_key(duration: float) -> None:
    with pytest.raises(ConfigError) as caught:
        marker_from_body({"label": "x", "duration_s": duration}, None, None)
    assert caught.value.key == "duration_s"
    assert f"{MAX_MARKER_DURATION_S:g}" in str(caught.value)


def test_the_longest_duration_allowed_makes_a_short_annotation() -> None:
    marker = marker_from_body({"label": "x", "duration_s": MAX_MARKER_DURATION_S}, None, None)
    assert marker.duration_s == MAX_MARKER_DURATION_S
    assert len(tal(86_399.5, "x" * 64, marker.duration_s)) < 100
