"""The ``faulty`` source: any other source kind, with faults injected on a schedule.

For tests, demos and ``bench/chaos.py``: it wraps the kind ``wraps`` names (built from the
``[source.faulty.options]`` table as that kind's own table) and, counting its reads over its
whole life (a reopen does not restart the count), makes every N-th read fail, go silent,
or return a malformed block; it can also hold channels at full scale or flat. A failure can
leave the "device" away for ``down_s`` seconds, during which ``open`` fails too, as an
unplugged amplifier does. A silence reads and discards ``silence_s`` seconds of the wrapped
source's samples, so they never come: the gap is in the sample indices, as with a device
that stopped sending. Everything else is the wrapped source's own (rate, channels, range).

```toml
[source]
kind = "faulty"
[source.faulty]
wraps = "synthetic"
fail_every = 200        # every 200th read raises
down_s = 3              # and the device stays away 3 s
silence_every = 500     # every 500th read goes silent for silence_s
silence_s = 2
[source.faulty.options] # the wrapped kind's own table ([source.synthetic] here)
seed = 7
```
"""

from __future__ import annotations

import math
import threading
from collections.abc import Mapping
from typing import Annotated, Any, ClassVar

import msgspec
import numpy as np

from eegd.clock import SYSTEM_BLOCKING_CLOCK, BlockingClock
from eegd.errors import ConfigError, SourceError
from eegd.sources.adc import COUNT_MAX, Ads1299Scale
from eegd.sources.base import SampleBlock, SharedSourceOptions, Source, parse_options
from eegd.validation import Settings

__all__ = ["FaultOptions", "FaultySource"]

_Count = Annotated[int, msgspec.Meta(ge=0)]
_Seconds = Annotated[float, msgspec.Meta(ge=0)]


class FaultOptions(Settings, frozen=True):
    """``[source.faulty]``: what to wrap and which faults to inject (0 turns one off)."""

    wraps: str = "synthetic"
    """The source kind to wrap; its own options are ``options``."""
    options: dict[str, Any] = msgspec.field(default_factory=dict)
    """The wrapped kind's own table (what ``[source.<wraps>]`` would hold)."""
    fail_every: _Count = 0
    """Every N-th read raises ``SourceError``, as a disconnected device does."""
    fail_times: _Count = 0
    """Fail at most this many times (0: no limit)."""
    down_s: _Seconds = 0.0
    """After a failure, ``open`` fails for this many seconds (an unplugged device)."""
    silence_every: _Count = 0
    """Every N-th read goes silent for ``silence_s``: those samples never come, and a
    reopen during the silence fails (the device is away until it ends)."""
    silence_s: _Seconds = 2.0
    silence_times: _Count = 0
    """Go silent at most this many times (0: no limit)."""
    wrong_shape_every: _Count = 0
    """Every N-th read returns a block with a channel too few (or, with one, too many)."""
    nan_every: _Count = 0
    """Every N-th read returns a block whose first sample is NaN."""
    railed_channels: list[Annotated[int, msgspec.Meta(ge=0)]] = msgspec.field(default_factory=list)
    """Channels (0-based rows) held at the ADC's positive full scale in every block."""
    flat_channels: list[Annotated[int, msgspec.Meta(ge=0)]] = msgspec.field(default_factory=list)
    """Channels (0-based rows) held at exactly 0 V in every block."""


class FaultySource(Source):
    """Wraps ``inner`` and injects the faults of ``faults``; ``clock`` times ``down_s``."""

    kind: ClassVar[str] = "faulty"

    @classmethod
    def from_options(cls, shared: SharedSourceOptions, options: Mapping[str, Any]) -> FaultySource:
        """The wrapped kind from the shared keys and ``options``; errors name the key."""
        from eegd.sources.registry import load_source_class  # the registry lists this class

        prefix = f"source.{cls.kind}"
        faults = parse_options(options, FaultOptions, cls.kind)
        if faults.wraps == cls.kind:
            raise ConfigError(f"{prefix}.wraps: {cls.kind!r} cannot wrap itself", key=prefix)
        try:
            inner_class = load_source_class(faults.wraps)
        except ConfigError as exc:
            raise exc.moved(f"{prefix}.wraps") from None
        try:
            inner = inner_class.from_options(shared, faults.options)
        except ConfigError as exc:  # its own table is ours: name the key where it was written
            own = f"source.{faults.wraps}"
            if exc.key is None or not exc.key.startswith(own):
                raise
            raise exc.moved(f"{prefix}.options{exc.key.removeprefix(own)}") from None
        for name in ("railed_channels", "flat_channels"):
            bad = [row for row in getattr(faults, name) if row >= len(inner.channel_names)]
            if bad:
                channels = len(inner.channel_names)
                raise ConfigError(
                    f"{prefix}.{name}: {bad} out of range (allowed: 0..{channels - 1})",
                    key=f"{prefix}.{name}",
                )
        return cls(inner, faults)

    def __init__(
        self, inner: Source, faults: FaultOptions, clock: BlockingClock | None = None
    ) -> None:
        self._inner = inner
        self._faults = faults
        self._clock = clock if clock is not None else SYSTEM_BLOCKING_CLOCK
        self._reads = 0
        self._failures = 0
        self._silences = 0
        self._back_at = -math.inf
        self._open = False
        self._opening = 0
        self._reading = threading.Lock()
        self._full_scale = self._full_scale_volts()

    @property
    def sample_rate(self) -> float:
        """The wrapped source's rate."""
        return self._inner.sample_rate

    @property
    def channel_names(self) -> tuple[str, ...]:
        """The wrapped source's channels."""
        return self._inner.channel_names

    @property
    def physical_range(self) -> tuple[tuple[float, float], ...] | None:
        """The wrapped source's declared range."""
        return self._inner.physical_range

    @property
    def away_until(self) -> float:
        """The clock's time the device is back after its last failure or silence (-inf
        before the first): a test moves its clock past it knowing the fault has begun."""
        return self._back_at

    @property
    def is_open(self) -> bool:
        """Whether it is open: between an ``open`` and the ``close`` after it."""
        return self._open

    @property
    def reads(self) -> int:
        """Reads so far, over every opening: the count the faults' schedules use."""
        return self._reads

    def open(self) -> None:
        """Open the wrapped source, unless the device is still away (a failure, a silence).

        It waits for a read that an earlier opening left in the wrapped source (a reader
        abandoned in a silence), so two readers never share it.
        """
        away = self._back_at - self._clock.monotonic()
        if away > 0:
            raise SourceError(f"faulty source: the device is away for {away:.3g} s more")
        with self._reading:
            self._inner.open()
            self._opening += 1
            self._open = True

    def close(self) -> None:
        """Close the wrapped source; a read in progress (a silence) ends with an error."""
        self._open = False
        self._inner.close()

    def interrupt(self) -> None:
        """Cut a read of the wrapped source short."""
        self._inner.interrupt()

    def read(self, n_samples: int) -> SampleBlock:
        """The wrapped source's next block, or this read's fault."""
        if not self._open:
            raise SourceError("faulty source is not open")
        self._reads += 1
        faults = self._faults
        if self._due(faults.fail_every, self._failures, faults.fail_times):
            self._failures += 1
            self._back_at = self._clock.monotonic() + faults.down_s
            raise SourceError(f"faulty source: injected failure {self._failures}")
        if self._due(faults.silence_every, self._silences, faults.silence_times):
            self._silences += 1
            self._back_at = self._clock.monotonic() + faults.silence_s
            self._discard(math.ceil(faults.silence_s * self.sample_rate / n_samples), n_samples)
        block = self._held(self._read_inner(n_samples, self._opening))
        if self._due(faults.wrong_shape_every, 0, 0):
            rows = block.volts.shape[0]
            take = slice(0, rows - 1) if rows > 1 else [0, 0]
            return SampleBlock(block.first_sample, block.raw[take], block.volts[take])
        if self._due(faults.nan_every, 0, 0):
            volts = block.volts.copy()
            volts[0, 0] = np.nan
            return SampleBlock(block.first_sample, block.raw, volts, block.lead_off, block.events)
        return block

    def _due(self, every: int, done: int, limit: int) -> bool:
        return every > 0 and self._reads % every == 0 and (limit == 0 or done < limit)

    def _discard(self, blocks: int, n_samples: int) -> None:
        """Read and drop ``blocks`` blocks: a silence whose samples are gone for good."""
        opening = self._opening
        for _ in range(blocks):
            self._read_inner(n_samples, opening)

    def _read_inner(self, n_samples: int, opening: int) -> SampleBlock:
        """The wrapped source's next block, if this is still the opening ``opening``."""
        with self._reading:
            if not self._open or self._opening != opening:
                raise SourceError("faulty source: closed during a read")
            block = self._inner.read(n_samples)
        if not self._open or self._opening != opening:
            raise SourceError("faulty source: closed during a read")
        return block

    def _full_scale_volts(self) -> np.ndarray[Any, np.dtype[np.float32]]:
        """Each channel's positive full scale: its declared maximum, or the ADS1299's."""
        span = self._inner.physical_range
        if span is None:
            top = float(Ads1299Scale().to_volts(np.array([COUNT_MAX]))[0])
            return np.full(len(self._inner.channel_names), top, dtype=np.float32)
        return np.array([high for _, high in span], dtype=np.float32)

    def _held(self, block: SampleBlock) -> SampleBlock:
        """``block`` with the railed channels at full scale and the flat ones at 0 V."""
        faults = self._faults
        if not (faults.railed_channels or faults.flat_channels):
            return block
        raw, volts = block.raw.copy(), block.volts.copy()
        for row in faults.railed_channels:
            raw[row] = COUNT_MAX
            volts[row] = self._full_scale[row]
        for row in faults.flat_channels:
            raw[row] = 0
            volts[row] = 0.0
        return SampleBlock(block.first_sample, raw, volts, block.lead_off, block.events)
