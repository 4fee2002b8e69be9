"""EDF, EDF+, BDF and BDF+ files read for playback: a checked header, one rate, annotations.

edfio does the reading (pure Python on numpy: EDF and BDF, with EDF+/BDF+ annotations) from
a read-only map of the file (``eegd.sources.files.map_file``); this module first checks the
header against the file's size itself, so a file that is not EDF or BDF, or is truncated,
is a one-line ``SourceError`` naming the file and the problem, never quoting its content.
Every signal at the file's most common rate is played (annotation signals aside); signals
at other rates or in units that are not a voltage are left out, and the log says which.
EDF samples are 16-bit and BDF samples 24-bit integers: they are the int32 counts, and
``to_volts`` applies each channel's calibration from the header.
"""

from __future__ import annotations

import collections
import logging
import math
import mmap
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from eegd.errors import SourceError
from eegd.sources.files import map_file

__all__ = ["Annotation", "EdfRecording", "open_recording"]

logger = logging.getLogger(__name__)

_FIXED_HEADER: Final = 256
_SIGNAL_HEADER: Final = 256
_SAMPLES_PER_RECORD_AT: Final = 216
"""Offset, per signal, of the "samples per data record" fields in the signal headers."""
_EDF_VERSION: Final = b"0       "
_BDF_VERSION: Final = b"\xffBIOSEMI"
_VOLTS_PER_UNIT: Final = {"v": 1.0, "mv": 1e-3, "uv": 1e-6, "µv": 1e-6, "μv": 1e-6, "nv": 1e-9}


@dataclass(frozen=True, slots=True)
class Annotation:
    """An EDF+/BDF+ annotation: what happened, when (s from the start), for how long."""

    onset_s: float
    duration_s: float | None
    text: str

    def onset_sample(self, sample_rate: float) -> int:
        """The index of the sample at the onset."""
        return round(self.onset_s * sample_rate)


@dataclass(frozen=True, slots=True)
class _Header:
    """What the size check needs from an EDF/BDF header, read without edfio."""

    bdf: bool
    header_bytes: int
    records: int
    record_bytes: int


class EdfRecording:
    """An open EDF/BDF file: the channels played, their calibration, and the annotations."""

    def __init__(self, path: Path, recording: Any, header: _Header) -> None:
        self.path = path
        plus = str(recording.reserved).startswith(("EDF+", "BDF+"))
        self.format = ("BDF" if header.bdf else "EDF") + ("+" if plus else "")
        """``EDF``, ``EDF+``, ``BDF`` or ``BDF+``."""
        signals, self.left_out = _playable(path, recording.signals)
        self.sample_rate = float(signals[0].sampling_frequency)
        self.channel_names = tuple(str(signal.label) for signal in signals)
        self.units = tuple(str(signal.physical_dimension) for signal in signals)
        self._signals = signals
        volts_per_unit = np.array([_volts_per_unit(unit) for unit in self.units])
        digital_min = np.array([signal.digital_min for signal in signals], dtype=np.float64)
        digital_max = np.array([signal.digital_max for signal in signals], dtype=np.float64)
        physical_min = np.array([signal.physical_min for signal in signals], dtype=np.float64)
        physical_max = np.array([signal.physical_max for signal in signals], dtype=np.float64)
        gain = (physical_max - physical_min) / (digital_max - digital_min)
        self._volts_per_count = (gain * volts_per_unit)[:, np.newaxis]
        self._volts_at_zero = ((physical_min - digital_min * gain) * volts_per_unit)[:, np.newaxis]
        low = np.minimum(physical_min, physical_max) * volts_per_unit
        high = np.maximum(physical_min, physical_max) * volts_per_unit
        self.physical_range = tuple(
            (float(a), float(b)) for a, b in zip(low.tolist(), high.tolist(), strict=True)
        )
        """Each channel's (min, max) in volts, as the header declares it."""
        self.n_samples = header.records * int(signals[0].samples_per_data_record)
        self.annotations = tuple(
            Annotation(float(item.onset), item.duration, str(item.text))
            for item in recording.annotations
        )

    @property
    def duration_s(self) -> float:
        """Seconds of signal in the file."""
        return self.n_samples / self.sample_rate

    def digital(self, start: int, stop: int) -> npt.NDArray[np.int32]:
        """The stored integers of samples ``start`` to ``stop``, channels × samples."""
        if not 0 <= start <= stop <= self.n_samples:
            raise ValueError(f"samples {start}..{stop} are outside 0..{self.n_samples}")
        rate = self.sample_rate
        out = np.empty((len(self._signals), stop - start), dtype=np.int32)
        for row, signal in enumerate(self._signals):
            out[row] = signal.get_digital_slice(start / rate, stop / rate)
        return out

    def to_volts(self, digital: npt.NDArray[np.int32]) -> npt.NDArray[np.float32]:
        """Stored integers to volts, with each channel's calibration and unit."""
        volts: npt.NDArray[np.float64] = digital * self._volts_per_count + self._volts_at_zero
        return volts.astype(np.float32)


def open_recording(path: Path, name: Path | None = None) -> EdfRecording:
    """Open ``path`` for playback; ``SourceError`` naming the file and what is wrong.

    Call it in a worker thread: it reads the file (a BDF file whole). ``path`` should have
    passed ``eegd.sources.files.allowed_file``; the file is opened without blocking and must
    be a regular file. Errors and the log call it ``name`` (the path as the user gave it);
    none quotes the file's content.
    """
    real, path = path, name if name is not None else path
    data = map_file(real, str(path))
    header = _check_header(path, data)
    try:
        import edfio
    except ImportError as exc:
        raise SourceError(
            "playback needs the edfio package; install it with: pip install 'eegd[playback]'"
        ) from exc
    view = memoryview(data)
    try:
        if header.bdf:
            recording: Any = edfio.read_bdf(view, header_encoding="latin-1")
        else:
            recording = edfio.read_edf(view, lazy_load_data=True, header_encoding="latin-1")
    except (ValueError, IndexError, OSError, UnicodeError) as exc:
        raise SourceError(f"{path}: not a valid EDF or BDF file: bad header") from exc
    if str(recording.reserved).startswith(("EDF+D", "BDF+D")):
        raise SourceError(f"{path}: discontinuous EDF+D/BDF+D files cannot be played")
    opened = EdfRecording(path, recording, header)
    for label, reason in opened.left_out:
        logger.warning("%s: signal %r left out: %s", path, label, reason)
    return opened


def _check_header(path: Path, data: mmap.mmap | bytes) -> _Header:
    """Read the header fields that fix the file's size, and check the size against them."""
    size = len(data)
    if size < _FIXED_HEADER:
        raise SourceError(f"{path}: not an EDF or BDF file (too short for a header)")
    version = data[:8]
    if version not in (_EDF_VERSION, _BDF_VERSION):
        raise SourceError(f"{path}: not an EDF or BDF file: bad header")
    header_bytes = _number(path, data[184:192], "header size")
    records = _number(path, data[236:244], "number of data records")
    signals = _number(path, data[252:256], "number of signals")
    if signals < 1 or header_bytes != _FIXED_HEADER + _SIGNAL_HEADER * signals:
        raise SourceError(
            f"{path}: not a valid EDF or BDF file (a header of {header_bytes} bytes "
            f"for {signals} signals)"
        )
    start = _FIXED_HEADER + _SAMPLES_PER_RECORD_AT * signals
    counts = data[start : start + 8 * signals]
    if len(counts) < 8 * signals:
        raise SourceError(f"{path}: truncated inside its header")
    per_record = sum(
        _number(path, counts[8 * index : 8 * index + 8], "samples per data record")
        for index in range(signals)
    )
    bdf = version == _BDF_VERSION
    record_bytes = per_record * (3 if bdf else 2)
    data_bytes = size - header_bytes
    if records < 0:
        raise SourceError(
            f"{path}: the header does not say how many data records it holds "
            f"({records}: a recording still being written?)"
        )
    if records == 0 or record_bytes == 0:
        raise SourceError(f"{path}: holds no samples (its header declares none)")
    if data_bytes < records * record_bytes:
        held = data_bytes / record_bytes if record_bytes else 0
        raise SourceError(
            f"{path}: truncated: the header promises {records} data records of "
            f"{record_bytes} bytes, the file holds {held:.4g}"
        )
    if data_bytes > records * record_bytes:
        raise SourceError(
            f"{path}: {data_bytes - records * record_bytes} bytes after the "
            f"{records} data records the header promises"
        )
    return _Header(bdf=bdf, header_bytes=header_bytes, records=records, record_bytes=record_bytes)


def _number(path: Path, field: bytes, name: str) -> int:
    text = field.decode("latin-1").strip()
    if not text.isascii() or not text.lstrip("+-").isdigit():
        raise SourceError(f"{path}: not a valid EDF or BDF file (bad header field {name!r})")
    return int(text)


def _volts_per_unit(unit: str) -> float:
    """Volts per physical unit; an empty unit is taken for µV, as EEG files mean it."""
    return _VOLTS_PER_UNIT.get(unit.strip().lower() or "uv", math.nan)


def _playable(
    path: Path, signals: tuple[Any, ...]
) -> tuple[list[Any], tuple[tuple[str, str], ...]]:
    """The signals to play (voltages at the most common rate) and why each other one is not."""
    left_out: list[tuple[str, str]] = []
    voltages = []
    for signal in signals:
        label, unit = str(signal.label), str(signal.physical_dimension).strip()
        if math.isnan(_volts_per_unit(unit)):
            left_out.append((label, f"its unit {unit!r} is not a voltage"))
        elif signal.digital_min >= signal.digital_max:
            left_out.append((label, "its digital range is empty"))
        elif signal.physical_min == signal.physical_max:
            left_out.append((label, "its physical range is empty"))
        elif not signal.sampling_frequency > 0:
            left_out.append((label, "it has no samples"))
        else:
            if not unit:
                logger.info("%s: signal %r has no unit; taking it for µV", path, label)
            voltages.append(signal)
    if not voltages:
        raise SourceError(f"{path}: no signal to play (no voltage channel with samples)")
    rates = collections.Counter(float(signal.sampling_frequency) for signal in voltages)
    rate = max(rates, key=lambda value: (rates[value], value))
    played = [signal for signal in voltages if float(signal.sampling_frequency) == rate]
    left_out.extend(
        (str(signal.label), f"{float(signal.sampling_frequency):g} Hz, not the {rate:g} Hz played")
        for signal in voltages
        if float(signal.sampling_frequency) != rate
    )
    return played, tuple(left_out)
