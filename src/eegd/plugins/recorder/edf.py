"""EDF+ and BDF+ encoding, sans I/O: the header, data records and annotations (TALs) as bytes.

The recorder appends one data record per packet and patches the record count at the end,
so it encodes the format itself rather than through a library that writes whole files.
Each channel is stored as integers over a digital range (BDF: 24 bits, EDF: 16 bits) that
maps linearly onto a physical range in µV. The physical range is written in the header's
8-character fields, so ``Layout`` quantises with the calibration those fields give back
when read (``calibration``), exactly as a reader such as MNE computes it: every sample
read back lies within half a digital step of the value written.

A source's aux channels (``AuxStream``) follow the EEG channels as signals of their own,
each in its own unit and range, with ``aux_samples_per_record`` samples per record (their
rate times the record's duration, which must be whole).

Every record carries an "EDF Annotations" signal: its first TAL keeps time (the record's
onset in seconds from the header's start second), then as many pending annotations as fit
(``annotation_room`` bytes; a file that ends with annotations still waiting is rewritten
with more room per record, ``files.grow_annotations``).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Final

import numpy as np
import numpy.typing as npt

__all__ = [
    "ANNOTATION_BYTES",
    "ANNOTATION_LABEL",
    "LABEL_CHARACTERS",
    "BDF_DIGITAL",
    "EDF_DIGITAL",
    "Layout",
    "RECORD_COUNT_AT",
    "exact_decimal",
    "label_problem",
    "outward_range",
    "tal",
]

#: The digital range of a BDF sample (24-bit two's complement, the ADS1299's own counts).
BDF_DIGITAL: Final = (-(2**23), 2**23 - 1)
#: The digital range of an EDF sample (16-bit two's complement).
EDF_DIGITAL: Final = (-(2**15), 2**15 - 1)
#: The label of the annotation signal EDF+ requires; BDF+ calls it "BDF Annotations".
ANNOTATION_LABEL: Final = "EDF Annotations"
_BDF_ANNOTATION_LABEL: Final = "BDF Annotations"
#: Offset of the header's "number of data records" field (8 ASCII characters).
RECORD_COUNT_AT: Final = 236
_FIELD: Final = 8
ANNOTATION_BYTES: Final = 120
"""Bytes of annotations per record to begin with: the time-keeping TAL and a marker or two."""
_MONTHS: Final = tuple("JAN FEB MAR APR MAY JUN JUL AUG SEP OCT NOV DEC".split())


def exact_decimal(value: Fraction, width: int = _FIELD) -> str | None:
    """``value`` written exactly as a plain decimal of at most ``width`` characters, or None."""
    for decimals in range(0, width):
        scaled = value * 10**decimals
        if scaled.denominator == 1:
            text = f"{float(value):.{decimals}f}"
            return text if len(text) <= width and Fraction(text) == value else None
    return None


def outward_range(low: float, high: float, width: int = _FIELD) -> tuple[str, str]:
    """(min, max) as header fields of ``width`` characters, rounded outwards to contain both."""
    return _rounded(low, math.floor, width), _rounded(high, math.ceil, width)


def _rounded(value: float, direction: Callable[[float], int], width: int) -> str:
    for decimals in range(width, -1, -1):
        scale = 10.0**decimals
        rounded = direction(value * scale) / scale
        text = f"{rounded:.{decimals}f}"
        if len(text) <= width:
            return text
    raise ValueError(f"{value} does not fit in {width} characters")


def tal(onset_s: float, text: str = "", duration_s: float | None = None) -> bytes:
    """One time-stamped annotation list: ``+onset[\\x15duration]\\x14text\\x14\\x00``.

    An empty ``text`` is the time-keeping TAL (``+onset\\x14\\x14\\x00``).
    """
    onset = f"{onset_s:+.7f}".rstrip("0").rstrip(".")
    duration = "" if duration_s is None else "\x15" + f"{duration_s:.7f}".rstrip("0").rstrip(".")
    body = text.replace("\x14", " ").replace("\x15", " ").replace("\x00", " ")
    return f"{onset}{duration}\x14{body}\x14".encode() + b"\x00"


@dataclass(frozen=True, slots=True)
class Layout:
    """The shape of one EDF+/BDF+ file: channels, ranges, samples per record, its record time.

    ``physical`` holds each channel's (min, max) header fields in µV; ``record_s`` is the
    duration of one data record exactly as the header writes it. The aux signals, after the
    channels, have their ``aux_labels``, ``aux_units``, ``aux_physical`` (min, max) in their
    units, and ``aux_samples_per_record`` each.
    """

    bdf: bool
    labels: tuple[str, ...]
    physical: tuple[tuple[str, str], ...]
    samples_per_record: int
    record_s: str
    equipment: str = "eegd"
    annotation_room: int = ANNOTATION_BYTES
    """Bytes of annotations each record has room for (rounded up to whole samples)."""
    aux_labels: tuple[str, ...] = ()
    aux_units: tuple[str, ...] = ()
    aux_physical: tuple[tuple[str, str], ...] = ()
    aux_samples_per_record: int = 0

    @property
    def digital(self) -> tuple[int, int]:
        """The digital (min, max) of every data channel."""
        return BDF_DIGITAL if self.bdf else EDF_DIGITAL

    @property
    def bytes_per_sample(self) -> int:
        """3 in BDF, 2 in EDF."""
        return 3 if self.bdf else 2

    @property
    def annotation_samples(self) -> int:
        """Samples of the annotation signal per record."""
        return -(-self.annotation_room // self.bytes_per_sample)

    @property
    def annotation_bytes(self) -> int:
        """Bytes of the annotation signal per record."""
        return self.annotation_samples * self.bytes_per_sample

    @property
    def signals(self) -> int:
        """Signals in the header: the channels, the aux signals and the annotation signal."""
        return len(self.labels) + len(self.aux_labels) + 1

    @property
    def header_bytes(self) -> int:
        """Size of the header."""
        return 256 * (self.signals + 1)

    @property
    def record_bytes(self) -> int:
        """Size of one data record."""
        channel = self.samples_per_record * len(self.labels)
        aux = self.aux_samples_per_record * len(self.aux_labels)
        return (channel + aux) * self.bytes_per_sample + self.annotation_bytes

    def calibration(
        self, aux: bool = False
    ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
        """Per channel (µV per digital step, µV at digital 0), from the header's fields;
        with ``aux``, per aux signal in its unit."""
        low_d, high_d = self.digital
        physical = self.aux_physical if aux else self.physical
        pmin = np.array([float(low) for low, _ in physical])
        pmax = np.array([float(high) for _, high in physical])
        gain = (pmax - pmin) / (high_d - low_d)
        return gain, pmin - low_d * gain

    def quantise(
        self, values: npt.NDArray[np.float64], aux: bool = False
    ) -> tuple[npt.NDArray[np.int32], int]:
        """µV (channels × samples) to the stored integers, and how many samples were
        clipped; with ``aux``, the aux signals' values in their units."""
        gain, offset = self.calibration(aux)
        digital = np.rint((values - offset[:, np.newaxis]) / gain[:, np.newaxis])
        low, high = self.digital
        clipped = int(np.count_nonzero((digital < low) | (digital > high)))
        return np.clip(digital, low, high).astype(np.int32), clipped

    def header(self, start: dt.datetime, records: int) -> bytes:
        """The header; ``records`` -1 while recording ("unknown", as EDF allows)."""
        start = start.astimezone(dt.UTC)
        date = f"{start.day:02d}-{_MONTHS[start.month - 1]}-{start.year}"
        fixed = [
            _field("\xffBIOSEMI" if self.bdf else "0", 8),
            _field("X X X X", 80),
            _field(f"Startdate {date} X X {self.equipment}", 80),
            _field(start.strftime("%d.%m.%y"), 8),
            _field(start.strftime("%H.%M.%S"), 8),
            _field(str(self.header_bytes), 8),
            _field("BDF+C" if self.bdf else "EDF+C", 44),
            _field(str(records), 8),
            _field(self.record_s, 8),
            _field(str(self.signals), 4),
        ]
        low_d, high_d = self.digital
        n_channels, n_aux = len(self.labels), len(self.aux_labels)
        annotations = _BDF_ANNOTATION_LABEL if self.bdf else ANNOTATION_LABEL
        labels = [*self.labels, *self.aux_labels, annotations]
        units = ["uV"] * n_channels + list(self.aux_units) + [""]
        physical = [*self.physical, *self.aux_physical]
        pmins = [low for low, _ in physical] + ["-1"]
        pmaxs = [high for _, high in physical] + ["1"]
        samples = (
            [str(self.samples_per_record)] * n_channels
            + [str(self.aux_samples_per_record)] * n_aux
            + [str(self.annotation_samples)]
        )
        columns: list[tuple[Sequence[str], int]] = [
            (labels, 16),
            ([""] * self.signals, 80),
            (units, 8),
            (pmins, 8),
            (pmaxs, 8),
            ([str(low_d)] * self.signals, 8),
            ([str(high_d)] * self.signals, 8),
            ([""] * self.signals, 80),
            (samples, 8),
            ([""] * self.signals, 32),
        ]
        parts = [*fixed, *(_field(value, width) for values, width in columns for value in values)]
        header = "".join(parts).encode("latin-1")
        if len(header) != self.header_bytes:
            raise ValueError(f"header of {len(header)} bytes, expected {self.header_bytes}")
        return header

    def record(
        self,
        digital: npt.NDArray[np.int32],
        annotations: bytes,
        aux: npt.NDArray[np.int32] | None = None,
    ) -> bytes:
        """One data record: each channel's samples, each aux signal's, then the annotation
        signal (padded)."""
        if digital.shape != (len(self.labels), self.samples_per_record):
            raise ValueError(f"a record holds {self.samples_per_record} samples per channel")
        if self.aux_labels:
            shape = (len(self.aux_labels), self.aux_samples_per_record)
            if aux is None or aux.shape != shape:
                raise ValueError(f"a record holds {shape[1]} samples per aux signal")
            digital = np.concatenate([digital.ravel(), aux.ravel()])
        if len(annotations) > self.annotation_bytes:
            raise ValueError("annotations do not fit in one record")
        if self.bdf:
            words = np.ascontiguousarray(digital, dtype="<i4").view(np.uint8)
            data = words.reshape(-1, 4)[:, :3].tobytes()
        else:
            data = np.ascontiguousarray(digital, dtype="<i2").tobytes()
        return data + annotations.ljust(self.annotation_bytes, b"\x00")


#: How many characters of a channel's name an EDF/BDF header keeps.
LABEL_CHARACTERS: Final = 16


def label_problem(names: Sequence[str], bdf: bool) -> str | None:
    """What stops ``names`` from being the labels of an EDF (or BDF) header, or None.

    A label is at most 16 characters of printable ASCII (EDF's header is ASCII): a control
    character or a letter outside ASCII cannot be written, and a longer name is cut, so two
    names alike in their first 16 characters (or like the annotation signal's) would be one.
    """
    for index, name in enumerate(names):
        if not (name.isascii() and name.isprintable()):
            shown = name.encode("unicode_escape").decode()[:40]
            return (
                f"channel {index + 1}'s name '{shown}' holds characters an EDF/BDF header "
                "cannot (allowed: printable ASCII)"
            )
    annotations = _BDF_ANNOTATION_LABEL if bdf else ANNOTATION_LABEL
    seen: dict[str, str] = {annotations: f"the annotation signal's {annotations!r}"}
    for name in names:
        label = name[:LABEL_CHARACTERS].strip()
        if label in seen:
            return (
                f"channel name {name!r} and {seen[label]} are the same in the "
                f"{LABEL_CHARACTERS} characters an EDF/BDF header keeps"
            )
        seen[label] = repr(name)
    return None


def _field(value: str, width: int) -> str:
    text = value.encode("latin-1", "replace").decode("latin-1")
    return text[:width].ljust(width)
