"""The ADS1299 self-test: shorted-input noise, the internal test signal, and lead-off, per channel.

``evaluate`` is the pure part: captured samples in, a ``SelfTestResult`` out (per channel
pass or fail with its figures, as a table or JSON). ``run_selftest`` opens the source
twice, inputs shorted then on the test signal (plus lead-off detection), and evaluates.

Pass limits (docs/hardware.md):

- noise in 1–50 Hz, inputs shorted: RMS and peak-to-peak at most 2 × the datasheet's
  typical figure for the gain and rate (``eegd.sources.ads1299.noise``), scaled to the band;
- offset, inputs shorted: at most 500 µV;
- test signal: amplitude within ±10 % and frequency within ±2 % of what CONFIG2 selects;
- lead-off: reported per electrode; it fails a channel only with ``check_electrodes``.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

import msgspec
import numpy as np
import numpy.typing as npt

from eegd.sources.ads1299.driver import ADS1299Source
from eegd.sources.ads1299.fields import (
    TestFrequency,
    square_wave_amplitude_volts,
    square_wave_frequency_hz,
)
from eegd.sources.ads1299.noise import typical_noise
from eegd.sources.ads1299.settings import INTERNAL_VREF_V, ADS1299Settings
from eegd.sources.base import SharedSourceOptions, Source

__all__ = [
    "NOISE_BAND_HZ",
    "NOISE_LIMIT",
    "OFFSET_LIMIT_UV",
    "TEST_AMPLITUDE_TOLERANCE",
    "TEST_FREQUENCY_TOLERANCE",
    "ChannelResult",
    "NoiseCheck",
    "SelfTestResult",
    "TestSignalCheck",
    "check_noise",
    "ConfiguredChain",
    "capture",
    "check_test_signal",
    "configured_chain",
    "evaluate",
    "run_configured_selftest",
    "run_selftest",
]

#: The band the noise is measured in, Hz.
NOISE_BAND_HZ: Final = (1.0, 50.0)
#: Pass limit: measured noise at most this many times the typical figure.
NOISE_LIMIT: Final = 2.0
#: Pass limit on the mean of a shorted input, µV.
OFFSET_LIMIT_UV: Final = 500.0
TEST_AMPLITUDE_TOLERANCE: Final = 0.10
TEST_FREQUENCY_TOLERANCE: Final = 0.02
_SETTLE_S = 0.5
_NOISE_S = 2.0
_TEST_S = 2.5

_Volts = npt.NDArray[np.floating[Any]]


@dataclass(frozen=True, slots=True)
class NoiseCheck:
    """One channel with its inputs shorted: noise in the band and the offset, in µV."""

    rms_uv: float
    peak_to_peak_uv: float
    offset_uv: float
    limit_rms_uv: float
    limit_peak_to_peak_uv: float
    passed: bool


@dataclass(frozen=True, slots=True)
class TestSignalCheck:
    """One channel on the internal test signal: what was measured and what CONFIG2 set."""

    __test__ = False  # not a pytest test class despite the name

    amplitude_uv: float
    frequency_hz: float
    expected_amplitude_uv: float
    expected_frequency_hz: float
    passed: bool


@dataclass(frozen=True, slots=True)
class ChannelResult:
    """Every check of one channel; ``passed`` is all of them."""

    name: str
    gain: int
    noise: NoiseCheck
    test_signal: TestSignalCheck
    lead_off: bool
    passed: bool


@dataclass(frozen=True, slots=True)
class SelfTestResult:
    """The self-test of every channel at one sample rate."""

    sample_rate: int
    channels: tuple[ChannelResult, ...]

    @property
    def passed(self) -> bool:
        """Whether every channel passed."""
        return all(channel.passed for channel in self.channels)

    @property
    def failed(self) -> tuple[str, ...]:
        """Names of the channels that failed."""
        return tuple(channel.name for channel in self.channels if not channel.passed)

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready dict: rounded figures, every channel, the verdict."""
        return {
            "passed": self.passed,
            "sample_rate": self.sample_rate,
            "channels": [_rounded(dataclasses.asdict(channel)) for channel in self.channels],
        }

    def table(self) -> str:
        """A plain-text table, one line a channel."""
        header = (
            f"{'channel':<8} {'gain':>4} {'noise µVrms':>12} {'µVpp':>12} {'offset µV':>10} "
            f"{'test µV':>16} {'test Hz':>12} {'lead':>4}  result"
        )
        lines = [header]
        for c in self.channels:
            noise, test = c.noise, c.test_signal
            lines.append(
                f"{c.name:<8} {c.gain:>4} "
                f"{noise.rms_uv:>5.2f} ≤ {noise.limit_rms_uv:<4.2f} "
                f"{noise.peak_to_peak_uv:>5.2f} ≤ {noise.limit_peak_to_peak_uv:<4.2f} "
                f"{noise.offset_uv:>10.1f} "
                f"{test.amplitude_uv:>7.0f} / {test.expected_amplitude_uv:<6.0f} "
                f"{test.frequency_hz:>5.3f} / {test.expected_frequency_hz:<5.3f} "
                f"{'off' if c.lead_off else 'on':>4}  {'pass' if c.passed else 'FAIL'}"
            )
        lines.append("all channels pass" if self.passed else f"FAILED: {', '.join(self.failed)}")
        return "\n".join(lines)


def _rounded(value: Any) -> Any:
    if isinstance(value, float):
        return round(value, 4) if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: _rounded(item) for key, item in value.items()}
    return value


def _band_limited(volts: _Volts, rate: float, low: float, high: float) -> _Volts:
    """``volts`` with everything outside [low, high] Hz removed (an FFT brick wall)."""
    spectrum = np.fft.rfft(volts - volts.mean())
    freqs = np.fft.rfftfreq(len(volts), 1.0 / rate)
    spectrum[(freqs < low) | (freqs > high)] = 0
    return np.fft.irfft(spectrum, len(volts))


def check_noise(volts: _Volts, sample_rate: int, gain: int) -> NoiseCheck:
    """Noise of one shorted channel (volts) against ``NOISE_LIMIT`` × the typical figure."""
    low, high = NOISE_BAND_HZ
    typical = typical_noise(gain, sample_rate).in_band(low, high)
    band = _band_limited(np.asarray(volts, dtype=np.float64), sample_rate, low, high) * 1e6
    rms = float(np.sqrt(np.mean(band**2)))
    pp = float(band.max() - band.min())
    offset = float(np.mean(volts) * 1e6)
    limit_rms, limit_pp = NOISE_LIMIT * typical.rms_uv, NOISE_LIMIT * typical.peak_to_peak_uv
    passed = rms <= limit_rms and pp <= limit_pp and abs(offset) <= OFFSET_LIMIT_UV
    return NoiseCheck(rms, pp, offset, limit_rms, limit_pp, passed)


def check_test_signal(
    volts: _Volts,
    sample_rate: int,
    amplitude: int,
    frequency: TestFrequency,
    vref: float = INTERNAL_VREF_V,
) -> TestSignalCheck:
    """Amplitude (half the step between levels) and frequency (from the edges) of a square."""
    expected_amplitude = square_wave_amplitude_volts(amplitude, vref) * 1e6
    expected_frequency = square_wave_frequency_hz(frequency)
    samples = np.asarray(volts, dtype=np.float64) * 1e6
    middle = (samples.max() + samples.min()) / 2
    high, low = samples[samples > middle], samples[samples <= middle]
    measured = float(np.median(high) - np.median(low)) / 2 if len(high) and len(low) else 0.0
    if measured < expected_amplitude / 4:  # no square wave at all: edges would be noise
        measured_frequency = 0.0
    else:
        edges = np.flatnonzero(np.diff(samples > middle))
        half_periods = np.diff(edges)
        measured_frequency = (
            sample_rate / (2 * float(np.median(half_periods))) if len(half_periods) else 0.0
        )
    passed = (
        abs(measured - expected_amplitude) <= TEST_AMPLITUDE_TOLERANCE * expected_amplitude
        and abs(measured_frequency - expected_frequency)
        <= TEST_FREQUENCY_TOLERANCE * expected_frequency
    )
    return TestSignalCheck(
        measured, measured_frequency, expected_amplitude, expected_frequency, passed
    )


def evaluate(
    names: Sequence[str],
    gains: Sequence[int],
    sample_rate: int,
    shorted: _Volts,
    test: _Volts,
    *,
    test_amplitude: int,
    test_frequency: TestFrequency,
    lead_off: frozenset[str] = frozenset(),
    check_electrodes: bool = False,
    vref: float = INTERNAL_VREF_V,
) -> SelfTestResult:
    """Judge every channel from samples captured shorted and on the test signal (volts)."""
    results = []
    for row, (name, gain) in enumerate(zip(names, gains, strict=True)):
        noise = check_noise(shorted[row], sample_rate, gain)
        signal = check_test_signal(test[row], sample_rate, test_amplitude, test_frequency, vref)
        off = name in lead_off
        passed = noise.passed and signal.passed and not (check_electrodes and off)
        results.append(ChannelResult(name, gain, noise, signal, off, passed))
    return SelfTestResult(sample_rate, tuple(results))


def capture(source: Source, seconds: float) -> npt.NDArray[np.float32]:
    """Open, read ``_SETTLE_S`` then ``seconds`` of samples, close; channels × samples."""
    rate = source.sample_rate
    settle, wanted = round(_SETTLE_S * rate), round(seconds * rate)
    blocks = []
    with source:
        have = -settle
        while have < wanted:
            block = source.read(min(wanted - have, max(32, int(rate) // 8)))
            have += block.n_samples
            if have > 0:
                blocks.append(block.volts[:, max(block.n_samples - have, 0) :])
    return np.concatenate(blocks, axis=1)


def run_selftest(
    open_source: Callable[[ADS1299Settings], Source],
    settings: ADS1299Settings,
    gains: Sequence[int],
    sample_rate: int,
    check_electrodes: bool = False,
) -> SelfTestResult:
    """Capture with inputs shorted, then on the test signal with lead-off on; evaluate.

    ``open_source`` builds a source for each pass from settings derived from ``settings``
    (the same channels, rate and hardware, different inputs). The test signal runs at
    its fast rate (fCLK / 2**20) to see several periods in a short capture.
    """
    shorted_source = open_source(msgspec.structs.replace(settings, input="shorted", lead_off=False))
    names = shorted_source.channel_names
    shorted = capture(shorted_source, _NOISE_S)
    test_settings = msgspec.structs.replace(
        settings, input="test", test_signal_frequency=TestFrequency.FAST, lead_off=True
    )
    test_source = open_source(test_settings)
    test = capture(test_source, _TEST_S)
    lead_off = frozenset(getattr(test_source, "lead_off", frozenset()))
    return evaluate(
        names,
        gains,
        sample_rate,
        shorted,
        test,
        test_amplitude=settings.test_signal_amplitude,
        test_frequency=TestFrequency.FAST,
        lead_off=lead_off,
        check_electrodes=check_electrodes,
        vref=settings.vref,
    )


@dataclass(frozen=True, slots=True)
class ConfiguredChain:
    """The chain the configuration describes, ready to be opened with derived settings."""

    settings: ADS1299Settings
    channel_names: tuple[str, ...]
    sample_rate: int
    gains: tuple[int, ...]

    def open(self, derived: ADS1299Settings) -> Source:
        """A source on this chain's channels and rate with ``derived`` settings."""
        return ADS1299Source(derived, len(self.channel_names), self.sample_rate, self.channel_names)


def configured_chain(shared: SharedSourceOptions, options: Mapping[str, Any]) -> ConfiguredChain:
    """The chain ``[source]`` and ``[source.ads1299]`` describe, for a test that opens it itself.

    Nothing else may hold it; an emulated chain runs un-paced, so a test takes no real time.
    """
    configured = ADS1299Source.from_options(shared, options)
    channels = len(configured.channel_names)
    settings = configured.settings
    if settings.emulate:
        settings = msgspec.structs.replace(settings, paced=False)
    gains = tuple(s.gain or 24 for s in settings.channel_settings(channels)[:channels])
    return ConfiguredChain(settings, configured.channel_names, int(configured.sample_rate), gains)


def run_configured_selftest(
    shared: SharedSourceOptions, options: Mapping[str, Any], check_electrodes: bool = False
) -> SelfTestResult:
    """The self-test of the chain ``[source]`` and ``[source.ads1299]`` describe."""
    chain = configured_chain(shared, options)
    return run_selftest(
        chain.open, chain.settings, chain.gains, chain.sample_rate, check_electrodes
    )
