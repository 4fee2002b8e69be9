"""EDF, EDF+, BDF and BDF+ files written by pyedflib (EDFlib, the format's reference code).

Each file holds sines of known frequencies at a known rate, optionally a few annotations
(EDF+ and BDF+ only) and signals that playback leaves out, so tests can compare what eegd
plays with what was written.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pyedflib

#: pyedflib's file type for each format name.
FILE_TYPES = {
    "EDF": pyedflib.FILETYPE_EDF,
    "EDF+": pyedflib.FILETYPE_EDFPLUS,
    "BDF": pyedflib.FILETYPE_BDF,
    "BDF+": pyedflib.FILETYPE_BDFPLUS,
}
SUFFIXES = {"EDF": ".edf", "EDF+": ".edf", "BDF": ".bdf", "BDF+": ".bdf"}


@dataclass(frozen=True)
class WrittenRecording:
    """A file on disk and what was written into it."""

    path: Path
    format: str
    sample_rate: int
    channel_names: tuple[str, ...]
    frequencies: tuple[float, ...]
    microvolts: npt.NDArray[np.float64]
    """The played channels' samples as written, channels × samples, in µV."""
    step_uv: tuple[float, ...]
    """One digital step of each played channel, in µV."""
    annotations: tuple[tuple[float, float, str], ...] = field(default=())

    @property
    def n_samples(self) -> int:
        """Samples per channel."""
        return int(self.microvolts.shape[1])


def write_recording(
    directory: Path,
    file_format: str = "EDF+",
    *,
    seconds: int = 10,
    sample_rate: int = 200,
    frequencies: tuple[float, ...] = (6.0, 10.0, 23.0),
    amplitude_uv: float = 50.0,
    annotations: tuple[tuple[float, float, str], ...] = (),
    slow_signal: bool = False,
    temperature_signal: bool = False,
    name: str = "recording",
) -> WrittenRecording:
    """Write sines at ``frequencies`` (one channel each), plus the extras asked for.

    ``annotations`` are (onset s, duration s or -1 for none, text); ``slow_signal`` adds a
    voltage channel at a quarter of the rate, ``temperature_signal`` one in degrees Celsius.
    """
    path = directory / f"{name}{SUFFIXES[file_format]}"
    bdf = file_format.startswith("BDF")
    digital_max = 2**23 - 1 if bdf else 2**15 - 1
    n = seconds * sample_rate
    t = np.arange(n) / sample_rate
    names = tuple(f"EEG{index + 1}" for index in range(len(frequencies)))
    microvolts = np.array([amplitude_uv * np.sin(2 * np.pi * f * t) for f in frequencies])
    physical = 200.0
    headers = [_header(label, "uV", sample_rate, physical, digital_max) for label in names]
    data = list(microvolts)
    if slow_signal:
        headers.append(_header("Resp", "uV", sample_rate // 4, physical, digital_max))
        data.append(np.zeros(n // 4))
    if temperature_signal:
        headers.append(_header("Temp", "degC", sample_rate, 50.0, digital_max))
        data.append(np.full(n, 36.6))
    writer = pyedflib.EdfWriter(str(path), len(headers), file_type=FILE_TYPES[file_format])
    try:
        writer.setSignalHeaders(headers)
        writer.writeSamples(data)
        for onset, duration, text in annotations:
            writer.writeAnnotation(onset, duration, text)
    finally:
        writer.close()
    step = 2 * physical / (2 * digital_max + 1)
    return WrittenRecording(
        path=path,
        format=file_format,
        sample_rate=sample_rate,
        channel_names=names,
        frequencies=frequencies,
        microvolts=microvolts,
        step_uv=(step,) * len(names),
        annotations=annotations,
    )


def _header(
    label: str, unit: str, rate: int, physical: float, digital_max: int
) -> dict[str, object]:
    return {
        "label": label,
        "dimension": unit,
        "sample_frequency": rate,
        "physical_min": -physical,
        "physical_max": physical,
        "digital_min": -digital_max - 1,
        "digital_max": digital_max,
    }


def write_temperature_only(path: Path, plus: bool = False) -> Path:
    """An EDF (EDF+ with ``plus``) file whose one signal is a 10 Hz thermometer in °C: a
    valid file with no channel a player of EEG can use."""
    writer = pyedflib.EdfWriter(
        str(path), 1, file_type=pyedflib.FILETYPE_EDFPLUS if plus else pyedflib.FILETYPE_EDF
    )
    writer.setSignalHeaders(
        [
            {
                "label": "Temp",
                "dimension": "degC",
                "sample_frequency": 10,
                "physical_min": 0,
                "physical_max": 50,
                "digital_min": -32768,
                "digital_max": 32767,
            }
        ]
    )
    writer.writeSamples([np.full(100, 36.6)])
    writer.close()
    return path
