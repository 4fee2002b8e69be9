"""Signal quality per channel over a window of samples: railed, flat, clipping, line noise,
electrode off.

Pure numpy, no I/O: ``assess`` judges one window, ``QualityWindow`` keeps the latest window
of a stream and judges it every hop. The rules are the kiosk's (they moved here from the
browser), the range is the one each channel declares:

- **railed / clipping**: the share of samples within ``NEAR_RAIL`` of either end of the
  channel's range. A source with a declared physical range (volts) is judged on it; one
  that delivers ADC counts on the counts' own 24-bit range. ``railed_percent`` is also
  given the way OpenBCI's GUI counts it: the largest excursion from the range's centre, as
  a percentage of its half span.
- **flat**: a peak-to-peak below ``FLAT_UV`` over the window (a shorted or dead input).
- **line noise**: the amplitude of the 50 and 60 Hz sines in the window (a single-bin DFT,
  as Goertzel's algorithm computes it), when the rate resolves 60 Hz.
- **lead-off**: what the source's own lead-off detection says of the electrode.

The verdicts, in order of precedence: electrode off, railed, flat (bad); clipping (warn);
line noise (warn, or bad past ``LINE_BAD_UV``); else good.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal

import numpy as np
import numpy.typing as npt

__all__ = [
    "CLIP_SHARE",
    "FLAT_UV",
    "LINE_BAD_UV",
    "LINE_HZ",
    "LINE_WARN_UV",
    "NEAR_RAIL",
    "RAILED_SHARE",
    "ChannelQuality",
    "Level",
    "Verdict",
    "QualityWindow",
    "assess",
]

#: A value this close to either end of its channel's range (share of the half span) is
#: at full scale.
NEAR_RAIL: Final = 0.05
#: At or above this share of samples at full scale a channel is railed (bad).
RAILED_SHARE: Final = 0.1
#: At or above this share (and below ``RAILED_SHARE``) it is clipping (warn).
CLIP_SHARE: Final = 0.005
#: A window whose peak-to-peak is below this (µV) is a flat line.
FLAT_UV: Final = 0.5
#: The mains frequencies whose hum is measured (Hz).
LINE_HZ: Final = (50, 60)
#: Line-noise amplitude (µV of the 50 or 60 Hz sine) that warns, and that is bad.
LINE_WARN_UV: Final = 10.0
LINE_BAD_UV: Final = 50.0
#: Samples per cycle of the highest line frequency needed to measure it.
_MIN_SAMPLES_PER_CYCLE: Final = 2.4

Level = Literal["good", "warn", "bad"]
Verdict = Literal["good", "line_noise", "clipping", "flat", "railed", "lead_off"]
"""What a verdict found, as a name a program can match (``reason`` says it in words)."""


@dataclass(frozen=True, slots=True)
class ChannelQuality:
    """The verdict on one channel's window and the measures behind it.

    ``verdict`` names what was found, ``reason`` says it in a sentence, ``short`` in a few
    characters (a label beside a trace). ``line_uv`` is None when the rate is too low to
    measure line noise.
    """

    level: Level
    verdict: Verdict
    reason: str
    short: str
    railed_percent: float
    near_rail_share: float
    peak_to_peak_uv: float
    line_uv: Mapping[int, float] | None
    lead_off: bool

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready, with measures rounded to what a reader can use."""
        return {
            "level": self.level,
            "verdict": self.verdict,
            "reason": self.reason,
            "short": self.short,
            "railed_percent": round(self.railed_percent, 2),
            "near_rail_share": round(self.near_rail_share, 4),
            "peak_to_peak_uv": round(self.peak_to_peak_uv, 3),
            "line_uv": (
                None
                if self.line_uv is None
                else {str(hz): round(uv, 3) for hz, uv in self.line_uv.items()}
            ),
            "lead_off": self.lead_off,
        }


def _percent(share: float) -> str:
    return f"{100 * share:.{1 if share < 0.1 else 0}f}%"


def _line_amplitudes(
    volts: npt.NDArray[np.floating[Any]], sample_rate: float
) -> list[dict[int, float]] | None:
    """Per channel, the µV amplitude of each line frequency's sine; None below the rate."""
    if sample_rate < _MIN_SAMPLES_PER_CYCLE * max(LINE_HZ):
        return None
    n = volts.shape[1]
    t = np.arange(n) / sample_rate
    basis = np.exp(-2j * np.pi * np.outer(LINE_HZ, t))  # lines × samples
    amplitudes = 2.0 * np.abs(volts.astype(np.float64) @ basis.T) / n * 1e6  # channels × lines
    return [dict(zip(LINE_HZ, map(float, row), strict=True)) for row in amplitudes]


def _verdict(
    share: float, peak_to_peak_uv: float, line: Mapping[int, float] | None, lead_off: bool
) -> tuple[Level, Verdict, str, str]:
    if lead_off:
        return "bad", "lead_off", "electrode off (lead-off)", "off"
    if share >= RAILED_SHARE:
        return (
            "bad",
            "railed",
            f"railed: {_percent(share)} of samples at full scale",
            f"railed {_percent(share)}",
        )
    if peak_to_peak_uv < FLAT_UV:
        return "bad", "flat", f"flat line: {peak_to_peak_uv:.2f} µV peak to peak", "flat"
    # Clipped samples are steps that put power at every frequency: they are named first.
    if share >= CLIP_SHARE:
        return (
            "warn",
            "clipping",
            f"clipping: {_percent(share)} of samples at full scale",
            f"clip {_percent(share)}",
        )
    if line:
        hz, uv = max(line.items(), key=lambda item: item[1])
        if uv >= LINE_WARN_UV:
            level: Level = "bad" if uv >= LINE_BAD_UV else "warn"
            reason = f"line noise: {uv:.0f} µV at {hz} Hz"
            return level, "line_noise", reason, f"{hz} Hz {uv:.0f} µV"
    return "good", "good", "good signal", "good"


def assess(
    volts: npt.ArrayLike,
    sample_rate: float,
    scaled: npt.ArrayLike,
    ranges: npt.ArrayLike,
    lead_off: Collection[int] = (),
) -> tuple[ChannelQuality, ...]:
    """Judge one window, channels × samples.

    ``volts`` are the samples in volts (flatness and line noise); ``scaled`` the same
    samples in the unit of ``ranges`` (channels × 2, each channel's min and max: volts for a
    declared range, counts for an ADC's), for railed and clipping. ``lead_off`` holds the
    rows whose electrode the source reports off.
    """
    signal = np.asarray(volts, dtype=np.float64)
    values = np.asarray(scaled, dtype=np.float64)
    spans = np.asarray(ranges, dtype=np.float64)
    if signal.ndim != 2 or values.shape != signal.shape or signal.shape[1] == 0:
        raise ValueError(
            f"volts {signal.shape} and scaled {values.shape} must be the same "
            "channels × samples shape, with samples"
        )
    if spans.shape != (signal.shape[0], 2) or not np.all(spans[:, 1] > spans[:, 0]):
        raise ValueError(f"ranges {spans.shape} must be one (min, max) per channel, min < max")
    low, high = spans[:, :1], spans[:, 1:]
    centre, half = (low + high) / 2, (high - low) / 2
    margin = NEAR_RAIL * half
    near = (values >= high - margin) | (values <= low + margin)
    shares = near.mean(axis=1)
    railed_percent = 100.0 * np.abs(values - centre).max(axis=1) / half[:, 0]
    peak_to_peak = (signal.max(axis=1) - signal.min(axis=1)) * 1e6
    lines = _line_amplitudes(signal, sample_rate)
    off = frozenset(lead_off)
    verdicts = []
    for row in range(signal.shape[0]):
        line = None if lines is None else lines[row]
        share, swing = float(shares[row]), float(peak_to_peak[row])
        level, verdict, reason, short = _verdict(share, swing, line, row in off)
        verdicts.append(
            ChannelQuality(
                level=level,
                verdict=verdict,
                reason=reason,
                short=short,
                railed_percent=float(railed_percent[row]),
                near_rail_share=share,
                peak_to_peak_uv=swing,
                line_uv=line,
                lead_off=row in off,
            )
        )
    return tuple(verdicts)


class QualityWindow:
    """The latest ``window_s`` of a stream, judged every ``hop_s`` of samples.

    ``ranges`` are each channel's (min, max) in the unit of the ``scaled`` samples pushed.
    Memory is bounded: one window of samples, in a ring. ``restart`` empties it (after a
    gap: a window never spans discontinuous data).
    """

    def __init__(
        self,
        sample_rate: float,
        ranges: Sequence[tuple[float, float]],
        window_s: float = 1.0,
        hop_s: float = 0.5,
    ) -> None:
        if not (sample_rate > 0 and hop_s > 0 and window_s >= hop_s):
            raise ValueError("sample_rate and hop_s must be positive and window_s >= hop_s")
        self.sample_rate = sample_rate
        self.ranges = tuple(ranges)
        self.lead_off: frozenset[int] = frozenset()
        """Rows whose electrode the source reports off now."""
        self._size = max(1, round(window_s * sample_rate))
        self._hop = max(1, min(self._size, round(hop_s * sample_rate)))
        channels = len(self.ranges)
        self._volts = np.zeros((channels, self._size))
        self._scaled = np.zeros((channels, self._size))
        self._end = 0
        """Where the next sample goes in the rings."""
        self._pushed = 0
        """Samples taken since the last restart."""
        self._since_hop = 0

    def restart(self) -> None:
        """Forget the samples held: the next verdict comes after a whole window."""
        self._end = self._pushed = self._since_hop = 0

    def push(
        self, volts: npt.ArrayLike, scaled: npt.ArrayLike
    ) -> list[tuple[int, tuple[ChannelQuality, ...]]]:
        """Take a block (channels × samples); the verdicts of every hop it completes with
        a whole window behind it (usually none or one), each with the index of its window's
        first sample, counted from the last ``restart``."""
        block_volts = np.asarray(volts, dtype=np.float64)
        block_scaled = np.asarray(scaled, dtype=np.float64)
        verdicts = []
        start, n = 0, block_volts.shape[1]
        while start < n:
            take = min(n - start, self._hop - self._since_hop, self._size - self._end)
            stop = start + take
            self._volts[:, self._end : self._end + take] = block_volts[:, start:stop]
            self._scaled[:, self._end : self._end + take] = block_scaled[:, start:stop]
            self._end = (self._end + take) % self._size
            self._pushed += take
            self._since_hop += take
            start = stop
            if self._since_hop == self._hop:
                self._since_hop = 0
                if self._pushed >= self._size:
                    verdicts.append((self._pushed - self._size, self._assess()))
        return verdicts

    def _assess(self) -> tuple[ChannelQuality, ...]:
        """The verdicts on the window now, its samples in time order."""
        order = np.roll(np.arange(self._size), -self._end)
        return assess(
            self._volts[:, order],
            self.sample_rate,
            self._scaled[:, order],
            self.ranges,
            self.lead_off,
        )
