"""Streaming IIR filters for EEG: high-pass, low-pass and powerline notch as second-order sections.

The filter is designed once as SOS and run with ``sosfilt`` carrying its state (``zi``) per
channel, so filtering packet by packet gives exactly the same samples as filtering the whole
signal at once. The state starts in steady state for the first sample, so a DC offset (an
electrode at tens of mV) does not ring through the high-pass.

``design_sos`` refuses what cannot run: every stage it returns has finite coefficients, its
poles inside the unit circle with a margin, and a finite response to a test signal; anything
else (and any error scipy raises while designing) is a ``ConfigError`` naming the key.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Annotated

import msgspec
import numpy as np
import numpy.typing as npt
from scipy import signal

from eegd.errors import ConfigError, shown
from eegd.validation import Settings

__all__ = [
    "NOTCH_FREQUENCIES",
    "POLE_MARGIN",
    "FilterSettings",
    "StreamingFilter",
    "design_sos",
    "steady_state",
]

#: The powerline frequencies the notch may be set to (Hz); ``None`` turns it off.
NOTCH_FREQUENCIES: tuple[float, ...] = (50.0, 60.0)

_MAX_ORDER = 8

#: How far inside the unit circle every pole must stay. Rounding the coefficients of a
#: cluster of poles near z = 1 (a corner near 0 Hz) moves them by about sqrt(float64 eps),
#: 1.5e-8; this keeps a hundredfold margin over that, and still allows a 0.05 Hz
#: eighth-order high-pass at 16 kHz (its slowest pole is 4e-6 inside).
POLE_MARGIN = 1e-6


#: A frequency in Hz as the ``[filter]`` table holds it: 0 (or ``None``) is off.
_Hz = (
    Annotated[float, msgspec.Meta(ge=0, extra={"allowed": "a frequency above 0 Hz, or 0 for off"})]
    | None
)


class FilterSettings(Settings, frozen=True):
    """What the voltage filter does; ``None`` (or 0) turns a stage off.

    It is also the ``[filter]`` table, and the body of ``PUT /api/filter``: the field
    constraints bound each value, and construction checks what spans fields (high-pass
    below low-pass) and the notch's 50 or 60 Hz, which may be written as 50.0.
    """

    highpass_hz: _Hz = 0.5
    lowpass_hz: _Hz = 45.0
    notch_hz: _Hz = 50.0
    """Powerline notch: 50 or 60 Hz, or ``None`` (0) for off."""
    order: Annotated[int, msgspec.Meta(ge=1, le=_MAX_ORDER)] = 4
    """Butterworth order of the high-pass and of the low-pass."""
    notch_q: Annotated[float, msgspec.Meta(gt=0)] = 30.0
    """Quality factor of the notch: its -3 dB width is ``notch_hz / notch_q``."""

    def __post_init__(self) -> None:
        highpass, lowpass = self.highpass_hz or None, self.lowpass_hz or None
        if highpass is not None and lowpass is not None and highpass >= lowpass:
            raise ConfigError(
                f"highpass_hz: {highpass:g} is not allowed "
                f"(allowed: below lowpass_hz {lowpass:g}, or off)"
            )
        notch = self.notch_hz or None
        if notch is not None and notch not in NOTCH_FREQUENCIES:
            raise ConfigError(f"notch_hz: {shown(notch)} is not allowed (allowed: 50, 60 or off)")
        off = (("highpass_hz", highpass), ("lowpass_hz", lowpass), ("notch_hz", notch))
        for name, value in off:
            msgspec.structs.force_setattr(self, name, value)  # 0 is off, as TOML writes it


def _below_nyquist(name: str, frequency: float, sample_rate: float) -> None:
    nyquist = sample_rate / 2
    if frequency >= nyquist:
        raise ConfigError(
            f"{name}: {frequency:g} Hz is not allowed at {sample_rate:g} Hz sampling "
            f"(allowed: below the Nyquist frequency {nyquist:g} Hz)"
        )


def design_sos(settings: FilterSettings, sample_rate: float) -> npt.NDArray[np.float64]:
    """The second-order sections of the high-pass, low-pass and notch, in that order.

    Every stage off gives an empty ``(0, 6)`` array, which ``StreamingFilter`` treats as the
    identity. A stage that cannot run at ``sample_rate`` (a corner at or above the Nyquist
    frequency, an unstable or non-finite design) is a ``ConfigError`` naming its key.
    """
    rate = float(sample_rate)
    if not math.isfinite(rate) or rate <= 0:
        raise ConfigError(f"sample_rate: {shown(sample_rate)} is not allowed (allowed: above 0)")
    order = settings.order
    sections = [np.zeros((0, 6))]
    if settings.highpass_hz is not None:
        highpass = settings.highpass_hz
        _below_nyquist("highpass_hz", highpass, rate)
        sections.append(
            _stage(
                "highpass_hz",
                lambda: signal.butter(order, highpass, "highpass", fs=rate, output="sos"),
                _butterworth_refusal("highpass_hz", highpass, order, rate),
            )
        )
    if settings.lowpass_hz is not None:
        lowpass = settings.lowpass_hz
        _below_nyquist("lowpass_hz", lowpass, rate)
        sections.append(
            _stage(
                "lowpass_hz",
                lambda: signal.butter(order, lowpass, "lowpass", fs=rate, output="sos"),
                _butterworth_refusal("lowpass_hz", lowpass, order, rate),
            )
        )
    if settings.notch_hz is not None:
        notch, quality = settings.notch_hz, settings.notch_q
        _below_nyquist("notch_hz", notch, rate)
        if notch / quality >= rate / 2:  # its -3 dB width, which must fit below Nyquist too
            raise ConfigError(_notch_refusal(notch, quality, rate))
        sections.append(
            _stage(
                "notch_q",
                lambda: signal.tf2sos(*signal.iirnotch(notch, quality, fs=rate)),
                _notch_refusal(notch, quality, rate),
            )
        )
    return np.ascontiguousarray(np.vstack(sections), dtype=np.float64)


def _butterworth_refusal(key: str, corner: float, order: int, rate: float) -> str:
    return (
        f"{key}: {shown(corner)} Hz is not allowed at {rate:g} Hz sampling with order {order} "
        f"(the filter would not be stable this close to 0 Hz or to the Nyquist frequency "
        f"{rate / 2:g} Hz; allowed: a corner further from both, or a lower order)"
    )


def _notch_refusal(notch: float, quality: float, rate: float) -> str:
    # The notch's poles have radius sqrt((1 - b) / (1 + b)), b = tan(pi * notch / (q * rate)):
    # they near the unit circle as the width notch / q nears 0 Hz (b -> 0, q large) or the
    # Nyquist frequency (b -> infinity, q -> 2 * notch / rate).
    lowest = 2 * notch / rate
    highest = math.pi * notch / (rate * POLE_MARGIN)
    return (
        f"notch_q: {shown(quality)} is not allowed at {rate:g} Hz sampling with a {notch:g} Hz "
        f"notch (the notch would not be stable; allowed: about {lowest:.3g} to {highest:.3g})"
    )


#: The test signal each stage must answer finitely: a 50 mV electrode offset (in volts),
#: a step, an impulse and a tone at the Nyquist frequency.
_TEST_SIGNAL = 0.05 + np.concatenate(
    [np.zeros(8), np.full(120, 1e-3), [1.0], 1e-4 * (-1.0) ** np.arange(127)]
)


def _stage(
    key: str, design: Callable[[], npt.NDArray[np.float64]], refusal: str
) -> npt.NDArray[np.float64]:
    """The sections ``design`` returns once they are proven runnable; ``refusal`` otherwise.

    scipy's own errors (``LinAlgError`` and ``ValueError`` on extreme corners, overflow) are
    translated, so callers only ever see ``ConfigError`` naming ``key``.
    """
    try:
        with np.errstate(over="raise", invalid="raise", divide="raise", under="ignore"):
            sos = np.asarray(design(), dtype=np.float64)
            if sos.ndim != 2 or sos.shape[1] != 6 or not np.isfinite(sos).all():
                raise ConfigError(refusal)
            if not np.all(sos[:, 3] != 0):
                raise ConfigError(refusal)
            for section in sos:
                poles = np.roots(section[3:] / section[3])
                if poles.size and float(np.max(np.abs(poles))) >= 1.0 - POLE_MARGIN:
                    raise ConfigError(refusal)
            zi = steady_state(sos, _TEST_SIGNAL[:1])
            response, _ = signal.sosfilt(sos, _TEST_SIGNAL[np.newaxis, :], axis=1, zi=zi)
            if not (np.isfinite(zi).all() and np.isfinite(response).all()):
                raise ConfigError(refusal)
    except ConfigError:
        raise
    except (ArithmeticError, ValueError, np.linalg.LinAlgError) as exc:
        raise ConfigError(f"{refusal}: {exc}") from exc
    return sos


def _checked_sos(sos: npt.ArrayLike) -> npt.NDArray[np.float64]:
    array = np.array(sos, dtype=np.float64)
    if array.ndim != 2 or array.shape[1] != 6:
        raise ValueError(f"sos must have shape (sections, 6), got {array.shape}")
    return array


def steady_state(sos: npt.ArrayLike, first_samples: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """Initial state ``(sections, channels, 2)`` as if each channel had always been at its value.

    This is what a fresh filter start looks like: a constant input passes without a transient.
    """
    coefficients = _checked_sos(sos)
    levels = np.asarray(first_samples, dtype=np.float64)
    if levels.ndim != 1:
        raise ValueError(f"first_samples must have shape (channels,), got {levels.shape}")
    if coefficients.shape[0] == 0:
        return np.zeros((0, levels.shape[0], 2))
    unit: npt.NDArray[np.float64] = signal.sosfilt_zi(coefficients)
    return unit[:, np.newaxis, :] * levels[np.newaxis, :, np.newaxis]


class StreamingFilter:
    """An SOS filter over channels × samples blocks that keeps its state between blocks.

    The state starts in steady state for the first block's first sample. ``redesign`` switches
    coefficients while running with a glitch no larger than a fresh start.
    """

    def __init__(self, sos: npt.ArrayLike, n_channels: int) -> None:
        if n_channels < 1:
            raise ValueError(f"n_channels must be at least 1, got {n_channels}")
        self.n_channels = n_channels
        self._sos = _checked_sos(sos)
        self._zi: npt.NDArray[np.float64] | None = None
        self._last_input: npt.NDArray[np.float64] | None = None

    @property
    def zi(self) -> npt.NDArray[np.float64] | None:
        """A copy of the state ``(sections, channels, 2)``; ``None`` until the first sample."""
        return None if self._zi is None else self._zi.copy()

    def process(self, block: npt.ArrayLike) -> npt.NDArray[np.float32]:
        """Filter a channels × samples block along the samples, continuing from the last one."""
        x = np.asarray(block, dtype=np.float64)
        if x.ndim != 2 or x.shape[0] != self.n_channels:
            raise ValueError(f"block must have shape ({self.n_channels}, samples), got {x.shape}")
        if x.shape[1] == 0:
            return np.zeros(x.shape, dtype=np.float32)
        if self._zi is None:
            self._zi = steady_state(self._sos, x[:, 0])
        self._last_input = x[:, -1].copy()
        if self._sos.shape[0] == 0:
            return x.astype(np.float32)
        y, self._zi = signal.sosfilt(self._sos, x, axis=1, zi=self._zi)
        return np.asarray(y, dtype=np.float32)

    def redesign(self, sos: npt.ArrayLike) -> None:
        """Switch to ``sos`` while running, with a glitch no larger than a fresh start.

        The leading sections that did not change keep their state, so they simply continue
        (switching the notch, the last stage, leaves the high-pass undisturbed); the sections
        from the first change on restart in steady state for each channel's last input sample.
        """
        coefficients = _checked_sos(sos)
        unchanged = 0
        for old_row, new_row in zip(self._sos, coefficients, strict=False):
            if not np.array_equal(old_row, new_row):
                break
            unchanged += 1
        if self._zi is not None and self._last_input is not None:
            state = steady_state(coefficients, self._last_input)
            state[:unchanged] = self._zi[:unchanged]
            self._zi = state
        self._sos = coefficients

    def reset(self) -> None:
        """Forget the state: the next block starts fresh, e.g. after a gap in the samples."""
        self._zi = None
        self._last_input = None
