"""The built-in synthetic EEG source: realistic-looking EEG for demos, tests and benchmarks.

The signal comes from ``eegd.sources.eeg_model`` (1/f background, alpha rhythm, powerline
hum, eye blinks), seeded so a run can be repeated exactly. Samples are quantised exactly like
ADS1299 counts and, unless pacing is off, delivered in real time on a ``BlockingClock``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import msgspec

from eegd.clock import SYSTEM_BLOCKING_CLOCK, BlockingClock
from eegd.errors import ConfigError, SourceError
from eegd.sources.adc import ADS1299_SAMPLE_RATES, Ads1299Scale
from eegd.sources.base import (
    SampleBlock,
    SharedSourceOptions,
    Source,
    SourceChoices,
    parse_options,
)
from eegd.sources.eeg_model import EegModel
from eegd.sources.montage import MAX_CHANNELS, standard_channel_names

__all__ = ["SyntheticOptions", "SyntheticSettings", "SyntheticSource"]

_LINE_FREQUENCIES = (50, 60)


@dataclass(frozen=True, slots=True)
class SyntheticSettings:
    """What the synthetic source generates; checked on construction.

    ``channel_names`` None means the standard montage (``resolved_channel_names``);
    ``line_noise_hz`` None means no powerline hum; ``paced`` False delivers samples as
    fast as they are read (benchmarks). ``alpha`` False leaves the 10 Hz rhythm out (a
    recording without a clear peak). Railed and flat channels are the ``faulty`` source's.
    """

    channels: int = 8
    sample_rate: float = 250
    channel_names: tuple[str, ...] | None = None
    seed: int = 0
    line_noise_hz: float | None = None
    blinks: bool = True
    paced: bool = True
    alpha: bool = True

    def __post_init__(self) -> None:
        if not _is_int(self.channels) or not 1 <= self.channels <= MAX_CHANNELS:
            raise _invalid("channels", self.channels, f"1..{MAX_CHANNELS}", "is out of range")
        if self.sample_rate not in ADS1299_SAMPLE_RATES:
            raise _invalid("sample_rate", self.sample_rate, _listing(ADS1299_SAMPLE_RATES))
        if self.channel_names is not None:
            _check_names(self.channel_names, self.channels)
        if not _is_int(self.seed) or self.seed < 0:
            raise _invalid("seed", self.seed, "an integer >= 0")
        if self.line_noise_hz is not None and self.line_noise_hz not in _LINE_FREQUENCIES:
            allowed = f"none, {_listing(_LINE_FREQUENCIES)}"
            raise _invalid("line_noise_hz", self.line_noise_hz, allowed)

    @property
    def resolved_channel_names(self) -> tuple[str, ...]:
        """The channel labels, the standard montage's when none were given."""
        return self.channel_names or standard_channel_names(self.channels)


class SyntheticOptions(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """``[source.synthetic]``: the synthetic source's own table, as written in TOML."""

    seed: int = 0
    line_noise_hz: int = 0
    """Powerline interference to add: 0 (none), 50 or 60 Hz."""
    blinks: bool = True
    paced: bool = True
    """Deliver samples in real time; off only for benchmarks."""
    alpha: bool = True
    """The 10 Hz alpha rhythm over the occipital lobe; false for a spectrum without a peak."""


#: The keys of ``SyntheticSettings`` that come from ``[source]`` rather than its own table.
_SHARED_KEYS = frozenset({"channels", "sample_rate", "channel_names"})


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _show(value: object) -> str:
    """A value as a user wrote it: ``300`` rather than ``300.0``."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return repr(value)


def _listing(values: tuple[int, ...]) -> str:
    return ", ".join(str(value) for value in values)


def _invalid(
    field: str, value: object, allowed: str, problem: str = "is not allowed"
) -> ConfigError:
    return ConfigError(f"{field}: {_show(value)} {problem} (allowed: {allowed})")


def _check_names(names: tuple[str, ...], channels: int) -> None:
    if not isinstance(names, tuple) or not all(isinstance(name, str) and name for name in names):
        raise _invalid("channel_names", names, "a tuple of non-empty labels")
    if len(names) != channels:
        raise _invalid("channel_names", names, f"{channels} labels, one per channel")
    if len(set(names)) != len(names):
        raise _invalid("channel_names", names, "distinct labels")


class SyntheticSource(Source):
    """Generates EEG-like ADS1299 samples from a seed, in real time unless ``paced`` is off.

    Pacing follows the clock from ``open``: a block is returned when the wall time of its
    last sample has come, so no drift accumulates; a late reader gets its block at once.
    """

    kind: ClassVar[str] = "synthetic"
    choices: ClassVar[SourceChoices] = SourceChoices(ADS1299_SAMPLE_RATES, (1, MAX_CHANNELS))

    @classmethod
    def from_options(
        cls, shared: SharedSourceOptions, options: Mapping[str, Any]
    ) -> SyntheticSource:
        """A synthetic source from ``[source]`` and ``[source.synthetic]``; errors name the key."""
        own = parse_options(options, SyntheticOptions, prefix=f"source.{cls.kind}")
        try:
            settings = SyntheticSettings(
                channels=shared.channels,
                sample_rate=shared.sample_rate,
                channel_names=shared.channel_names,
                seed=own.seed,
                line_noise_hz=float(own.line_noise_hz) or None,
                blinks=own.blinks,
                paced=own.paced,
                alpha=own.alpha,
            )
        except ConfigError as exc:
            key = str(exc).partition(":")[0]
            table = "source" if key in _SHARED_KEYS else f"source.{cls.kind}"
            raise ConfigError(f"{table}.{exc}") from None
        return cls(settings)

    def __init__(self, settings: SyntheticSettings, clock: BlockingClock | None = None) -> None:
        self._settings = settings
        self._names = settings.resolved_channel_names
        self._clock = clock if clock is not None else SYSTEM_BLOCKING_CLOCK
        self._scale = Ads1299Scale()
        self._model: EegModel | None = None
        self._position = 0
        self._opened_at = 0.0

    @property
    def sample_rate(self) -> float:
        """Samples per second per channel."""
        return float(self._settings.sample_rate)

    @property
    def channel_names(self) -> tuple[str, ...]:
        """One label per channel, in row order."""
        return self._names

    def open(self) -> None:
        """Start a run from sample 0; the same seed gives the same samples every time."""
        if self._model is not None:
            raise SourceError("synthetic source is already open")
        settings = self._settings
        self._model = EegModel(
            settings.sample_rate,
            self._names,
            seed=settings.seed,
            line_noise_hz=settings.line_noise_hz,
            blinks=settings.blinks,
            alpha=settings.alpha,
        )
        self._position = 0
        self._opened_at = self._clock.monotonic()

    def read(self, n_samples: int) -> SampleBlock:
        """The next ``n_samples`` per channel, waiting for their time when paced."""
        model = self._model
        if model is None:
            raise SourceError("synthetic source is not open")
        if not _is_int(n_samples) or n_samples < 1:
            raise ValueError(f"n_samples: {n_samples!r} must be a positive integer")
        first = self._position
        self._position += n_samples
        if self._settings.paced:
            # Made once due, as a device hands over a block once it is complete: made before
            # the wait, right after the last block went to the event loop, its numpy work
            # held the GIL while the loop was handling that block.
            self._wait_until(self._opened_at + self._position / self.sample_rate)
        raw = self._scale.to_counts(model.next(n_samples))
        return SampleBlock(first_sample=first, raw=raw, volts=self._scale.to_volts(raw))

    def close(self) -> None:
        """Stop generating; reading again needs ``open``."""
        self._model = None

    def _wait_until(self, deadline: float) -> None:
        delay = deadline - self._clock.monotonic()
        if delay > 0:
            self._clock.sleep(delay)
