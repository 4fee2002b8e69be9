"""Labels from an LSL marker stream's samples: whatever a stimulus program sends."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from eegd.sources.lsl_markers import MAX_LABEL_BYTES, marker_label


@given(st.text())
def test_a_label_is_the_text_cut_to_its_longest_whole_characters_that_fit(text: str) -> None:
    label = marker_label(text)
    assert len(label.encode()) <= MAX_LABEL_BYTES
    assert text.strip().startswith(label)
    if len(text.strip().encode()) <= MAX_LABEL_BYTES:
        assert label == text.strip()
    else:
        rest = text.strip()[len(label) :]
        assert len((label + rest[0]).encode()) > MAX_LABEL_BYTES


@given(st.integers(-(2**31), 2**31 - 1))
def test_a_numeric_marker_is_its_number(value: int) -> None:
    assert marker_label(float(value)) == str(value)
    assert marker_label(value) == str(value)


def test_a_fractional_marker_keeps_its_fraction() -> None:
    assert marker_label(2.5) == "2.5"
