"""The built-in synthetic EEG source: realistic-looking EEG for demos, tests and benchmarks.

The signal comes from ``eegd.sources.eeg_model`` (1/f background, alpha rhythm, powerline
hum, eye blinks), seeded so a run can be repeated exactly. Samples are quantised exactly like
ADS1299 counts and, unless pacing is off, delivered in real time on a ``BlockingClock``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, ClassVar, Literal

import msgspec

from eegd.clock import SYSTEM_BLOCKING_CLOCK, BlockingClock
from eegd.errors import ConfigError, SourceError
from eegd.sources.adc import ADS1299_SAMPLE_RATES, Ads1299Rate, Ads1299Scale
from eegd.sources.base import (
    SampleBlock,
    SharedSourceOptions,
    Source,
    SourceChoices,
    parse_options,
)
from eegd.sources.eeg_model import EegModel
from eegd.sources.montage import MAX_CHANNELS, standard_channel_names
from eegd.validation import Settings

__all__ = ["SyntheticSettings", "SyntheticSource"]


class SyntheticSettings(Settings, frozen=True):
    """What the synthetic source generates: ``[source.synthetic]`` and the shared keys.

    ``channels``, ``sample_rate`` and ``channel_names`` are ``[source]``'s; the others
    the ``[source.synthetic]`` table's. ``channel_names`` None means the standard montage
    (``resolved_channel_names``); ``paced`` False delivers samples as fast as they are read
    (benchmarks). ``alpha`` False leaves the 10 Hz rhythm out (a recording without a clear
    peak). Railed and flat channels are the ``faulty`` source's.
    """

    channels: Annotated[int, msgspec.Meta(ge=1, le=MAX_CHANNELS)] = 8
    sample_rate: Ads1299Rate = 250
    channel_names: tuple[Annotated[str, msgspec.Meta(min_length=1)], ...] | None = None
    seed: Annotated[int, msgspec.Meta(ge=0)] = 0
    line_noise_hz: Literal[0, 50, 60] = 0
    """Powerline interference to add: 0 (none), 50 or 60 Hz."""
    blinks: bool = True
    paced: bool = True
    """Deliver samples in real time; off only for benchmarks."""
    alpha: bool = True
    """The 10 Hz alpha rhythm over the occipital lobe; false for a spectrum without a peak."""

    def __post_init__(self) -> None:
        names = self.channel_names
        if names is not None and len(names) != self.channels:
            allowed = f"{self.channels} labels, one per channel"
            raise ConfigError(f"channel_names: {names!r} is not allowed (allowed: {allowed})")
        if names is not None and len(set(names)) != len(names):
            raise ConfigError(f"channel_names: {names!r} is not allowed (allowed: distinct labels)")

    @property
    def resolved_channel_names(self) -> tuple[str, ...]:
        """The channel labels, the standard montage's when none were given."""
        return self.channel_names or standard_channel_names(self.channels)


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
        return cls(parse_options(options, SyntheticSettings, cls.kind, shared.facts()))

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
            line_noise_hz=settings.line_noise_hz or None,
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
        if isinstance(n_samples, bool) or not isinstance(n_samples, int) or n_samples < 1:
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
