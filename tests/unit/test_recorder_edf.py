"""The EDF+/BDF+ encoding, checked against edfio (the reader eegd plays files with) and by
the arithmetic every reader does with the header's calibration fields."""

from __future__ import annotations

import datetime as dt
from fractions import Fraction
from pathlib import Path

import edfio
import numpy as np
import pytest

from eegd.errors import RequestRefused
from eegd.plugins.recorder.edf import BDF_DIGITAL, Layout, exact_decimal, outward_range, tal
from eegd.plugins.recorder.settings import MAX_NAME, check_name

START = dt.datetime(2026, 12, 2, 3, 4, 5, tzinfo=dt.UTC)


def layout(bdf: bool = True, **changes: object) -> Layout:
    values: dict[str, object] = {
        "bdf": bdf,
        "labels": ("Fp1", "O2"),
        "physical": outward_range(-187500.0, 187499.97764825821),
        "samples_per_record": 32,
        "record_s": "0.128",
    }
    values["physical"] = (values["physical"], values["physical"])
    values.update(changes)
    return Layout(**values)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (Fraction(32, 250), "0.128"),
        (Fraction(512, 16000), "0.032"),
        (Fraction(1), "1"),
        (Fraction(32, 200), "0.16"),
        (Fraction(1, 16000), None),  # 0.0000625 needs 9 characters
        (Fraction(32, 3), None),  # never a finite decimal
    ],
)
def test_a_record_duration_is_written_exactly_or_not_at_all(
    value: Fraction, text: str | None
) -> None:
    assert exact_decimal(value) == text


@pytest.mark.parametrize(
    ("low", "high"), [(-187500.0, 187499.97764825821), (-3.2e-3, 3.2e-3), (-9e6, 9999999.5)]
)
def test_a_physical_range_is_rounded_outwards_into_8_characters(low: float, high: float) -> None:
    text_low, text_high = outward_range(low, high)
    assert len(text_low) <= 8
    assert len(text_high) <= 8
    assert float(text_low) <= low
    assert float(text_high) >= high


@pytest.mark.parametrize("bdf", [True, False])
def test_quantising_reads_back_within_half_a_step_and_counts_clipping(bdf: bool) -> None:
    shape = layout(bdf)
    gain, _ = shape.calibration()
    rng = np.random.default_rng(1)
    microvolts = rng.uniform(-180000, 180000, size=(2, 32))
    digital, clipped = shape.quantise(microvolts)
    gain, offset = shape.calibration()
    back = digital * gain[:, None] + offset[:, None]
    assert clipped == 0
    assert np.max(np.abs(back - microvolts)) <= gain.max() / 2 + 1e-9
    microvolts[0, 0] = 2e6
    assert shape.quantise(microvolts)[1] == 1


def test_a_tal_is_onset_duration_and_text() -> None:
    assert tal(1.5, "blink", 0.25) == b"+1.5\x150.25\x14blink\x14\x00"
    assert tal(0.0) == b"+0\x14\x14\x00"


@pytest.mark.parametrize("bdf", [True, False])
def test_edfio_reads_the_header_records_and_annotations(tmp_path: Path, bdf: bool) -> None:
    shape = layout(bdf)
    path = tmp_path / ("x.bdf" if bdf else "x.edf")
    rng = np.random.default_rng(2)
    low, high = shape.digital
    records = [rng.integers(low, high, size=(2, 32), dtype=np.int32) for _ in range(3)]
    data = shape.header(START, records=3)
    assert len(data) == shape.header_bytes
    for index, digital in enumerate(records):
        tals = tal(0.25 + index * 0.128) + (tal(0.3, "marker") if index == 1 else b"")
        data += shape.record(digital, tals)
    path.write_bytes(data)
    read = (edfio.read_bdf if bdf else edfio.read_edf)(path)
    assert [signal.label for signal in read.signals] == ["Fp1", "O2"]
    assert read.signals[0].sampling_frequency == 250
    assert read.signals[0].physical_dimension == "uV"
    assert read.startdate == START.date()
    assert read.starttime.replace(microsecond=0) == START.time()
    # Onsets count from the first record, 0.25 s into the header's start second.
    (annotation,) = read.annotations
    assert (annotation.onset, annotation.text) == (pytest.approx(0.05), "marker")
    assert np.array_equal(read.signals[1].digital, np.concatenate([r[1] for r in records]))


def test_the_bdf_digital_range_is_the_adcs() -> None:
    assert BDF_DIGITAL == (-8388608, 8388607)


@pytest.mark.parametrize(
    "name", ["../x", "/etc/x", "a\0b", "x" * (MAX_NAME + 1), ".hidden", "", "a/b", "é", 3]
)
def test_bad_names_are_refused_with_400_naming_the_rule(name: object) -> None:
    with pytest.raises(RequestRefused, match="letters, digits") as refused:
        check_name(name)
    assert (refused.value.status, refused.value.code) == (400, "bad_name")


@pytest.mark.parametrize("name", ["night-1", "a.b_c", "x" * MAX_NAME, "A9"])
def test_good_names_pass(name: str) -> None:
    assert check_name(name) == name
