"""Channel names as EDF/BDF labels: printable ASCII, and distinct in the 16 characters a
header keeps; anything else is refused with a message saying which and why, never cut or
replaced silently."""

from __future__ import annotations

import pytest

from eegd.errors import RequestRefused
from eegd.plugins.recorder.edf import label_problem
from eegd.plugins.recorder.part import check_labels


@pytest.mark.parametrize(
    ("names", "words"),
    [
        (("Fp1", "C3\n"), "channel 2's name 'C3\\\\n' holds characters"),
        (("Fp1", "C3\x07"), "channel 2's name 'C3\\\\x07'"),
        (("Fp1", "Cz\u00b5"), "printable ASCII"),
        (("Fp1", "Ω"), "printable ASCII"),
        (("Temporal-Left-01", "Temporal-Left-012"), "the same in the 16 characters"),
        (("Fp1", "Fp1"), "'Fp1' and 'Fp1'"),
        (("Fp1 ", "Fp1"), "the same in the 16"),
        (("Fp1", "EDF Annotations"), "the annotation signal's 'EDF Annotations'"),
    ],
)
def test_names_an_edf_header_cannot_hold_are_refused_saying_why(
    names: tuple[str, ...], words: str
) -> None:
    problem = label_problem(names, bdf=False)
    assert problem is not None
    assert words.replace("\\\\", "\\") in problem
    with pytest.raises(RequestRefused) as refused:
        check_labels(names, "edf")
    assert (refused.value.status, refused.value.code) == (409, "bad_channel_names")
    assert "record as csv" in str(refused.value)


def test_sixteen_printable_ascii_characters_are_a_label_and_csv_takes_anything() -> None:
    assert label_problem(("Fp1", "Temporal-Left-01", "x" * 16, "EDF Annotations"), bdf=True) is None
    check_labels(("C3\n", "C3\n", "Ω"), "csv")
