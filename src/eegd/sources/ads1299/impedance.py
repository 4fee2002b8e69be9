"""Electrode impedance from the ADS1299's AC lead-off excitation, in kΩ, and its grade.

With AC lead-off on, the chip alternately sources and sinks ILEAD_OFF (6 nA, 24 nA, 6 µA or
24 µA, the LOFF register) into each positive input LOFF_SENSP selects, at 7.8 Hz
(fCLK / 2^18), 31.2 Hz (fCLK / 2^16) or a quarter of the data rate. The current flows
through the electrode (and the board's series resistor) into the body and back through the
bias electrode, so the channel sees a square wave of amplitude I × (Z + R_series).

``response_amplitude`` is the pure measurement: a lock-in at the excitation frequency over
whole periods (detrended), whose fundamental is 4/π of the square's amplitude, divided by
the chip's sinc³ filter gain at that frequency. ``assess`` turns each channel's captured
samples into kΩ and a grade; ``run_impedance`` captures them through the driver.

Grades (docs/hardware.md): green up to ``GREEN_MAX_KOHM``, yellow up to
``YELLOW_MAX_KOHM``, red above it or when the channel is railed (its input saturated, as
an unconnected electrode drives it).
"""

from __future__ import annotations

import datetime
import enum
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

import msgspec
import numpy as np
import numpy.typing as npt
import scipy.signal

from eegd.sources.ads1299.fields import LeadOffFrequency
from eegd.sources.ads1299.registers import FCLK_HZ
from eegd.sources.ads1299.selftest import capture, configured_chain
from eegd.sources.ads1299.settings import ADS1299Settings
from eegd.sources.base import SharedSourceOptions, Source

__all__ = [
    "DEFAULT_FREQUENCY",
    "GREEN_MAX_KOHM",
    "KOHM_DECIMALS",
    "RAIL_FRACTION",
    "WINDOW_S",
    "YELLOW_MAX_KOHM",
    "ElectrodeImpedance",
    "Grade",
    "ImpedanceResult",
    "assess",
    "excitation_hz",
    "filter_gain",
    "grade",
    "response_amplitude",
    "run_configured_impedance",
    "run_impedance",
]

#: Grade limits, kΩ (electrode plus skin, the board's series resistance taken out).
GREEN_MAX_KOHM: Final = 10.0
YELLOW_MAX_KOHM: Final = 50.0
#: Decimals of a reported kΩ figure; the grade is that of the figure as reported.
KOHM_DECIMALS: Final = 1
#: A channel whose samples reach this share of full scale is railed: no impedance.
RAIL_FRACTION: Final = 0.95
#: Seconds of samples measured (after the capture's settling time).
WINDOW_S: Final = 2.0
#: The excitation used when ``lead_off_frequency`` is "dc": OpenBCI's choice, above the
#: EEG bands most studies look at and away from 50/60 Hz mains.
DEFAULT_FREQUENCY: Final = LeadOffFrequency.AC_31_2
#: The modulator clock (fCLK / 2); each data rate is it decimated by a power of two.
_FMOD_HZ: Final = FCLK_HZ / 2

_Volts = npt.NDArray[np.floating[Any]]


class Grade(enum.StrEnum):
    """How good an electrode's contact is, as OpenBCI's GUI colours it."""

    GREEN = "green"
    YELLOW = "yellow"
    RED = "red"


def grade(kohm: float | None) -> Grade:
    """The grade of an impedance as reported (to ``KOHM_DECIMALS``), so that a figure shown
    on a limit has that limit's grade; None (railed, unmeasurable) is red."""
    if kohm is None:
        return Grade.RED
    shown = round(kohm, KOHM_DECIMALS)
    if shown > YELLOW_MAX_KOHM:
        return Grade.RED
    return Grade.GREEN if shown <= GREEN_MAX_KOHM else Grade.YELLOW


def excitation_hz(frequency: LeadOffFrequency, sample_rate: float) -> float:
    """FLEAD_OFF's excitation frequency; ``ValueError`` for DC, which has none."""
    if frequency is LeadOffFrequency.AC_7_8:
        return FCLK_HZ / 2**18
    if frequency is LeadOffFrequency.AC_31_2:
        return FCLK_HZ / 2**16
    if frequency is LeadOffFrequency.AC_FDR_4:
        return sample_rate / 4
    raise ValueError("DC lead-off has no excitation frequency: use 7.8, 31.2 or fdr/4")


def filter_gain(frequency_hz: float, sample_rate: float) -> float:
    """The sinc³ decimation filter's gain at ``frequency_hz`` (SBAS499's frequency response)."""
    ratio = _FMOD_HZ / sample_rate
    x = math.pi * frequency_hz / _FMOD_HZ
    return abs(math.sin(ratio * x) / (ratio * math.sin(x))) ** 3


def response_amplitude(volts: _Volts, sample_rate: float, frequency_hz: float) -> float:
    """Amplitude (V) of the square wave at ``frequency_hz`` before the chip's filter.

    The lock-in covers the most whole periods ``volts`` holds, linear drift removed.
    ``ValueError`` if that is not one period.
    """
    samples = np.asarray(volts, dtype=np.float64)
    periods = math.floor(len(samples) * frequency_hz / sample_rate)
    if periods < 1:
        raise ValueError(
            f"{len(samples)} samples at {sample_rate} SPS hold no whole period of {frequency_hz} Hz"
        )
    used = scipy.signal.detrend(samples[: round(periods * sample_rate / frequency_hz)])
    phase = 2j * np.pi * frequency_hz / sample_rate * np.arange(len(used))
    fundamental = 2 * abs(complex(np.sum(used * np.exp(-phase)))) / len(used)
    return fundamental * math.pi / 4 / filter_gain(frequency_hz, sample_rate)


@dataclass(frozen=True, slots=True)
class ElectrodeImpedance:
    """One electrode: its impedance (None when railed), grade and the response measured."""

    name: str
    kohm: float | None
    grade: Grade
    response_uv: float
    railed: bool


@dataclass(frozen=True, slots=True)
class ImpedanceResult:
    """One impedance check of every electrode, with how it was measured."""

    sample_rate: int
    frequency_hz: float
    current_na: int
    series_resistance_ohms: float
    window_s: float
    electrodes: tuple[ElectrodeImpedance, ...]
    measured_at: str = ""
    """UTC time of the check, ISO 8601."""

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready: kΩ to 0.1, responses to 0.01 µV, the grade limits used."""
        return {
            "measured_at": self.measured_at,
            "sample_rate": self.sample_rate,
            "frequency_hz": round(self.frequency_hz, 4),
            "current_na": self.current_na,
            "series_resistance_ohms": self.series_resistance_ohms,
            "window_s": self.window_s,
            "grades_kohm": {"green": GREEN_MAX_KOHM, "yellow": YELLOW_MAX_KOHM},
            "electrodes": [
                {
                    "name": e.name,
                    "kohm": None if e.kohm is None else round(e.kohm, KOHM_DECIMALS),
                    "grade": str(e.grade),
                    "response_uv": round(e.response_uv, 2),
                    "railed": e.railed,
                }
                for e in self.electrodes
            ],
        }


def assess(
    names: Sequence[str],
    volts: _Volts,
    sample_rate: int,
    frequency_hz: float,
    current_na: int,
    full_scale_v: Sequence[float],
    series_resistance_ohms: float = 0.0,
) -> ImpedanceResult:
    """Each channel's impedance from samples (channels × samples, volts) under excitation.

    Impedance = response amplitude / current − the board's series resistance, at least 0.
    """
    current = current_na * 1e-9
    electrodes = []
    for row, name in enumerate(names):
        samples = np.asarray(volts[row], dtype=np.float64)
        railed = bool(np.max(np.abs(samples)) >= RAIL_FRACTION * full_scale_v[row])
        amplitude = response_amplitude(samples, sample_rate, frequency_hz)
        kohm = None if railed else max(amplitude / current - series_resistance_ohms, 0.0) / 1e3
        electrodes.append(ElectrodeImpedance(name, kohm, grade(kohm), amplitude * 1e6, railed))
    return ImpedanceResult(
        sample_rate,
        frequency_hz,
        current_na,
        series_resistance_ohms,
        len(volts[0]) / sample_rate if len(names) else 0.0,
        tuple(electrodes),
        datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
    )


def run_impedance(
    open_source: Callable[[ADS1299Settings], Source],
    settings: ADS1299Settings,
    gains: Sequence[int],
    sample_rate: int,
) -> ImpedanceResult:
    """Capture ``WINDOW_S`` under AC lead-off excitation and assess every electrode.

    ``open_source`` builds the source from settings derived from ``settings``: normal
    inputs, lead-off on at its configured current and AC frequency (``DEFAULT_FREQUENCY``
    when it is set to DC).
    """
    frequency = LeadOffFrequency(settings.lead_off_frequency)
    if frequency is LeadOffFrequency.DC:
        frequency = DEFAULT_FREQUENCY
    derived = msgspec.structs.replace(
        settings, input="normal", lead_off=True, lead_off_frequency=str(frequency)
    )
    source = open_source(derived)
    volts = capture(source, WINDOW_S)
    full_scale = [settings.vref / gain for gain in gains]
    return assess(
        source.channel_names,
        volts,
        sample_rate,
        excitation_hz(frequency, sample_rate),
        settings.lead_off_current_na,
        full_scale,
        settings.series_resistance_ohms,
    )


def run_configured_impedance(
    shared: SharedSourceOptions, options: Mapping[str, Any]
) -> ImpedanceResult:
    """The impedance check of the chain ``[source]`` and ``[source.ads1299]`` describe."""
    chain = configured_chain(shared, options)
    return run_impedance(chain.open, chain.settings, chain.gains, chain.sample_rate)
