"""A seeded model of scalp EEG, generated block by block in volts for the synthetic source.

Each channel is a 1/f background (partly shared within a scalp region) over a small white
amplifier floor, plus a waxing and waning 10 Hz alpha rhythm strongest over the occipital
lobe, optional 50/60 Hz powerline hum and occasional eye blinks on the frontal-polar
channels: enough of real EEG that filters, spectra and displays can be demonstrated and
tested without hardware. Every part is specified in Hz and seconds, so the signal looks the
same at every sample rate, and carries its state across reads, so a seed gives the same
samples whatever block sizes are read.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
import numpy.typing as npt
from scipy import signal

from eegd.sources.montage import region_of

__all__ = ["EegModel"]

_Array = npt.NDArray[np.float64]

_UV = 1e-6
"""One microvolt in volts: every amplitude below is written in µV and scaled once."""

# Where each region sees the alpha rhythm and the blinks, relative to the strongest site.
_ALPHA_WEIGHT = {
    "occipital": 1.0,
    "parietal": 0.55,
    "temporal": 0.3,
    "central": 0.2,
    "frontal": 0.07,
    "frontal-polar": 0.04,
    "other": 0.2,
}
_BLINK_WEIGHT = {"frontal-polar": 1.0, "frontal": 0.3}


class _PinkBackground:
    """1/f noise from 0.5 to ~128 Hz, partly shared within each scalp region.

    Poles and zeros alternate a factor 2 apart in Hz (mapped with the matched z-transform),
    which gives a 1/f power spectrum between the lowest pole and the highest, at any rate.
    """

    POLES_HZ = (0.5, 2.0, 8.0, 32.0, 128.0)
    ZEROS_HZ = (1.0, 4.0, 16.0, 64.0)
    SHARED = 0.4
    """Fraction of a channel's background power shared with the channels of its region."""

    def __init__(
        self, rate: float, regions: tuple[str, ...], rms: _Array, rng: np.random.Generator
    ) -> None:
        zeros = np.exp(-2 * np.pi * np.asarray(self.ZEROS_HZ) / rate)
        poles = np.exp(-2 * np.pi * np.asarray(self.POLES_HZ) / rate)
        self._sos = signal.zpk2sos(zeros, poles, 1.0)
        impulse = np.zeros(int(20 * rate))
        impulse[0] = 1.0
        unit_rms = float(np.sqrt(np.sum(signal.sosfilt(self._sos, impulse) ** 2)))
        self._gain = (rms / unit_rms)[:, np.newaxis]
        names = list(dict.fromkeys(regions))
        self._region_index = np.array([names.index(region) for region in regions])
        self._rng = rng
        self._zi = np.zeros((self._sos.shape[0], len(regions), 2))
        self.next(int(2 * rate))  # settle the 0.5 Hz pole: sample 0 is already stationary

    def next(self, n: int) -> _Array:
        """The next ``n`` samples per channel, channels × samples."""
        out, self._zi = signal.sosfilt(self._sos, self._drive(n).T, axis=-1, zi=self._zi)
        return np.asarray(out * self._gain)

    def _drive(self, n: int) -> _Array:
        """White noise, samples × channels, a fraction ``SHARED`` of its power regional."""
        channels = len(self._region_index)
        noise = self._rng.standard_normal((n, channels + self._region_index.max() + 1))
        own, regional = noise[:, :channels], noise[:, channels:]
        shared = regional[:, self._region_index]
        return np.asarray(math.sqrt(1 - self.SHARED) * own + math.sqrt(self.SHARED) * shared)


class _AlphaRhythm:
    """A 10 Hz rhythm whose amplitude and phase drift: a noise-driven damped oscillator.

    The complex state has unit mean power; its envelope decorrelates in ~1.6 s (a 0.1 Hz
    line width), so alpha waxes and wanes over seconds while the peak stays at 10 Hz.
    """

    FREQUENCY_HZ = 10.0
    LINE_WIDTH_HZ = 0.1
    _MEAN_ENVELOPE = math.sqrt(math.pi) / 2  # of a complex Gaussian with unit power

    def __init__(
        self, rate: float, amplitude: _Array, phase: _Array, rng: np.random.Generator
    ) -> None:
        self._pole = complex(
            np.exp(2 * np.pi * (-self.LINE_WIDTH_HZ + 1j * self.FREQUENCY_HZ) / rate)
        )
        self._drive = math.sqrt((1 - abs(self._pole) ** 2) / 2)
        gain = amplitude / self._MEAN_ENVELOPE
        self._cos_gain = (gain * np.cos(phase))[:, np.newaxis]
        self._sin_gain = (-gain * np.sin(phase))[:, np.newaxis]
        self._rng = rng
        start = rng.standard_normal(2) / math.sqrt(2)
        self._zi = np.array([self._pole * complex(start[0], start[1])])

    def next(self, n: int) -> _Array:
        """``n`` samples per channel: each channel sees the rhythm at its own gain and phase."""
        noise = self._rng.standard_normal((n, 2)) * self._drive
        drive = noise[:, 0] + 1j * noise[:, 1]
        state, self._zi = signal.lfilter([1.0], [1.0, -self._pole], drive, zi=self._zi)
        return np.asarray(self._cos_gain * state.real + self._sin_gain * state.imag)


class _LineNoise:
    """Powerline hum, the same phase on every channel at a per-channel amplitude."""

    def __init__(self, rate: float, frequency: float, amplitude: _Array, phase: float) -> None:
        self._rate = rate
        self._frequency = frequency
        self._amplitude = amplitude[:, np.newaxis]
        self._phase = phase

    def at(self, first: int, n: int) -> _Array:
        """Samples ``first .. first+n-1``; the phase is exact however long the source runs."""
        cycles = np.mod(np.arange(first, first + n) * self._frequency, self._rate) / self._rate
        return np.asarray(self._amplitude * np.sin(2 * np.pi * cycles + self._phase))


class _SlowParts:
    """Background, alpha and hum: nothing above ~200 Hz, so made at ≤ 1 kHz and upsampled.

    Linear interpolation between inner samples is exact to a fraction of a µV at these
    frequencies and costs a fraction of generating them at 16 kHz. Inner samples are made
    in chunks, ahead of need, which changes nothing but the cost.
    """

    MAX_INNER_RATE = 1000.0
    CHUNK = 1024

    def __init__(self, rate: float, parts: _Parts, streams: _Streams) -> None:
        self._step = max(1, int(rate // self.MAX_INNER_RATE))
        inner_rate = rate / self._step
        self._background = _PinkBackground(
            inner_rate, parts.regions, parts.background_rms, streams.background
        )
        self._alpha = _AlphaRhythm(inner_rate, parts.alpha, parts.alpha_phase, streams.alpha)
        self._line = (
            _LineNoise(inner_rate, parts.line_hz, parts.line, parts.line_phase)
            if parts.line_hz is not None
            else None
        )
        self._inner = np.zeros((len(parts.regions), 0))
        self._inner_start = 0

    def _make(self, first: int, n: int) -> _Array:
        out = self._background.next(n)
        out += self._alpha.next(n)
        if self._line is not None:
            out += self._line.at(first, n)
        return out

    def at(self, first: int, n: int) -> _Array:
        """Samples ``first .. first+n-1`` at the output rate; ``first`` only moves forward."""
        step = self._step
        lo, hi = first // step, (first + n - 1) // step + 1
        have = self._inner_start + self._inner.shape[1]
        if hi >= have:
            made = self._make(have, max(hi + 1 - have, self.CHUNK))
            self._inner = np.concatenate([self._inner, made], axis=1)
        self._inner = self._inner[:, lo - self._inner_start :]
        self._inner_start = lo
        if step == 1:
            return self._inner[:, :n].copy()
        slope = np.diff(self._inner[:, : hi - lo + 1], axis=1)[:, :, np.newaxis]
        fine = slope * (np.arange(step) / step)
        fine += self._inner[:, : hi - lo, np.newaxis]
        fine = fine.reshape(len(fine), -1)
        offset = first - lo * step
        return fine[:, offset : offset + n]


class _NoiseFloor:
    """White amplifier noise, triangular-distributed from raw random bits (cheap at 16 kHz)."""

    _TRIANGLE_STD = 65536 / math.sqrt(6)  # of the sum of two uniform int16

    def __init__(self, rms: _Array, rng: np.random.Generator) -> None:
        self._bits = rng.bit_generator
        self._channels = len(rms)
        self._words = (self._channels + 1) // 2  # each 64-bit word makes two samples
        self._scale = (rms / self._TRIANGLE_STD).astype(np.float32)

    def next(self, n: int) -> npt.NDArray[np.float32]:
        """``n`` samples per channel, channels × samples (a transposed view)."""
        halves = self._bits.random_raw(n * self._words).view(np.int16).astype(np.float32)
        pairs = (halves[0::2] + halves[1::2]).reshape(n, 2 * self._words)
        return (pairs[:, : self._channels] * self._scale).T


@dataclass(frozen=True, slots=True)
class _Blink:
    onset: int
    rise: int
    fall: int
    amplitude: float

    @property
    def end(self) -> int:
        return self.onset + self.rise + self.fall


class _Blinks:
    """Eye blinks every 3-8 s: a smooth 100-200 µV bump, ~0.1 s up and ~0.2 s down.

    Blink times are drawn one after another in seconds, so they do not depend on how the
    samples are split into reads.
    """

    def __init__(self, rate: float, weights: _Array, rng: np.random.Generator) -> None:
        self._rate = rate
        self._weights = weights[:, np.newaxis]
        self._rng = rng
        self._next_onset_s = rng.uniform(1.0, 4.0)
        self._pending: list[_Blink] = []

    def add_to(self, out: _Array, first: int) -> None:
        """Add the blinks that overlap samples ``first ..`` to ``out`` (channels × samples)."""
        end = first + out.shape[1]
        while round(self._next_onset_s * self._rate) < end:
            self._pending.append(self._draw())
        for blink in self._pending:
            lo, hi = max(first, blink.onset), min(end, blink.end)
            if lo < hi:
                out[:, lo - first : hi - first] += self._weights * _blink_shape(blink, lo, hi)
        self._pending = [blink for blink in self._pending if blink.end > end]

    def _draw(self) -> _Blink:
        low, high = (0.08, 0.15, 100.0, 3.0), (0.12, 0.25, 200.0, 8.0)
        rise, fall, amplitude, gap = self._rng.uniform(low, high)
        blink = _Blink(
            onset=round(self._next_onset_s * self._rate),
            rise=max(1, round(rise * self._rate)),
            fall=max(1, round(fall * self._rate)),
            amplitude=amplitude * _UV,
        )
        self._next_onset_s += gap
        return blink


def _blink_shape(blink: _Blink, lo: int, hi: int) -> _Array:
    """A raised-cosine rise then a longer raised-cosine fall, sampled at ``lo .. hi-1``."""
    since = np.arange(lo, hi) - blink.onset
    rising = 0.5 - 0.5 * np.cos(np.pi * since / blink.rise)
    falling = 0.5 + 0.5 * np.cos(np.pi * (since - blink.rise) / blink.fall)
    return np.asarray(blink.amplitude * np.where(since < blink.rise, rising, falling))


class _Streams:
    """One random generator per part, so turning a part off leaves the others unchanged."""

    def __init__(self, seed: int) -> None:
        streams = [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(5)]
        self.parts, self.background, self.floor, self.alpha, self.blinks = streams


@dataclass(frozen=True, slots=True)
class _Parts:
    """The per-channel make-up of one run, in volts, drawn from the seed."""

    regions: tuple[str, ...]
    background_rms: _Array
    floor_rms: _Array
    alpha: _Array
    alpha_phase: _Array
    line_hz: float | None
    line: _Array
    line_phase: float
    blink: _Array

    @classmethod
    def draw(
        cls, channel_names: Sequence[str], line_hz: float | None, rng: np.random.Generator
    ) -> _Parts:
        """Draw every value in a fixed order whatever the options."""
        regions = tuple(region_of(name) for name in channel_names)
        n = len(regions)
        alpha_weight = np.array([_ALPHA_WEIGHT[region] for region in regions])
        return cls(
            regions=regions,
            background_rms=rng.uniform(12.0, 25.0, n) * _UV,
            floor_rms=rng.uniform(0.5, 0.9, n) * _UV,
            alpha=rng.uniform(20.0, 30.0) * rng.uniform(0.85, 1.15, n) * alpha_weight * _UV,
            alpha_phase=rng.uniform(-0.4, 0.4, n),
            line_hz=line_hz,
            line=rng.uniform(3.0, 6.0, n) * _UV,
            line_phase=rng.uniform(0.0, 2 * np.pi),
            blink=np.array([_BLINK_WEIGHT.get(region, 0.0) for region in regions]),
        )


class EegModel:
    """All the signal's parts for one run, summed in volts and read forward in blocks.

    ``channel_names`` place each channel in a scalp region; ``line_noise_hz`` None means no
    powerline hum; ``alpha`` False leaves the alpha rhythm out. The same arguments give the
    same samples every time.
    """

    def __init__(
        self,
        sample_rate: float,
        channel_names: Sequence[str],
        *,
        seed: int,
        line_noise_hz: float | None,
        blinks: bool,
        alpha: bool = True,
    ) -> None:
        rate = float(sample_rate)
        streams = _Streams(seed)
        parts = _Parts.draw(channel_names, line_noise_hz, streams.parts)
        if not alpha:
            parts = replace(parts, alpha=np.zeros_like(parts.alpha))
        self._slow = _SlowParts(rate, parts, streams)
        self._floor = _NoiseFloor(parts.floor_rms, streams.floor)
        self._blinks = _Blinks(rate, parts.blink, streams.blinks) if blinks else None
        self._position = 0

    def next(self, n: int) -> _Array:
        """The next ``n`` samples per channel, in volts."""
        first = self._position
        out = self._slow.at(first, n)
        out += self._floor.next(n)
        if self._blinks is not None:
            self._blinks.add_to(out, first)
        self._position += n
        return out
