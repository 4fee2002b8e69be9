"""A Lab Streaming Layer stream as eegd's source: an inlet on an amplifier's outlet.

``open`` resolves the stream by any subset of ``name``, ``type``, ``source_id`` and
``hostname`` (``[source.lsl]``), and takes its channel count, names (``channels/channel/
label`` in its description) and nominal rate from the stream; until then the ``[source]``
values stand. Irregular-rate and string streams are refused. A stream that disappears
(``LostError``: the inlet does not recover by itself) or sends nothing for
``stall_timeout_s`` raises ``SourceError``, so the supervisor re-resolves it.

eegd's timestamps stay sample-index based; the LSL time of sample 0 with
``time_correction()`` applied is kept in ``clock_anchor`` for mapping the two clocks.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from typing import Any, ClassVar, Final

import msgspec
import numpy as np
import numpy.typing as npt

from eegd.errors import SourceError
from eegd.sources.adc import COUNT_MAX, COUNT_MIN
from eegd.sources.base import (
    OptionalDependency,
    SampleBlock,
    SharedSourceOptions,
    Source,
    parse_options,
)

__all__ = ["LslOptions", "LslSource"]

logger = logging.getLogger(__name__)

#: The span of each channel the int32 counts cover, ±µV (as the BrainFlow source's).
PHYSICAL_RANGE_UV: Final = 187_500.0
#: Longest single wait inside ``read``, so ``close`` and the stall check are noticed.
_PULL_S: Final = 0.05
_UNIT_SCALE: Final = {"microvolts": 1e-6, "uv": 1e-6, "µv": 1e-6, "millivolts": 1e-3, "mv": 1e-3}
_UNIT_SCALE_V: Final = {"volts": 1.0, "v": 1.0}


class LslOptions(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """``[source.lsl]``: which stream to resolve, and how long to wait for it."""

    name: str = ""
    type: str = ""
    source_id: str = ""
    hostname: str = ""
    resolve_timeout_s: float = 10.0
    stall_timeout_s: float = 5.0
    markers: str = ""


def _pylsl() -> Any:
    try:
        import pylsl
    except ImportError as exc:
        raise SourceError(
            "the lsl source needs pylsl: install it with pip install 'eegd[lsl]'"
        ) from exc
    return pylsl


class LslSource(Source):
    """Streams an LSL stream's samples (in volts) block by block."""

    kind: ClassVar[str] = "lsl"
    requires: ClassVar[OptionalDependency | None] = OptionalDependency("lsl", "pylsl")

    @classmethod
    def from_options(cls, shared: SharedSourceOptions, options: Mapping[str, Any]) -> LslSource:
        """A source from ``[source.lsl]``; errors name the dotted key."""
        return cls(parse_options(options, LslOptions, prefix=f"source.{cls.kind}"), shared)

    def __init__(self, options: LslOptions, shared: SharedSourceOptions | None = None) -> None:
        self._options = options
        shared = shared or SharedSourceOptions(kind="lsl")
        self._rate = float(shared.sample_rate)
        self._names = shared.channel_names or tuple(f"ch{i + 1}" for i in range(shared.channels))
        self._inlet: Any = None
        self._scale = 1e-6
        self._carry: list[list[float]] = []
        self._position = 0
        self._closing = threading.Event()
        self._lsb_volts = 2.0 * PHYSICAL_RANGE_UV * 1e-6 / 2**24
        self.clock_anchor: float | None = None
        """The LSL time (in this machine's clock, corrected) of sample 0, once it arrived."""
        self.time_correction = 0.0
        """The last ``time_correction()``: the outlet's clock minus this machine's."""

    @property
    def sample_rate(self) -> float:
        """The stream's nominal rate (the ``[source]`` value until opened)."""
        return self._rate

    @property
    def channel_names(self) -> tuple[str, ...]:
        """The stream's channel labels (the ``[source]`` names until opened)."""
        return self._names

    @property
    def physical_range(self) -> tuple[tuple[float, float], ...]:
        """Each channel's (min, max) in volts: the span the int32 counts are scaled to."""
        span = PHYSICAL_RANGE_UV * 1e-6
        return tuple((-span, span) for _ in self._names)

    def _predicate(self) -> str:
        options = self._options
        parts = [
            f"{key}='{value}'"
            for key, value in (
                ("name", options.name),
                ("type", options.type),
                ("source_id", options.source_id),
                ("hostname", options.hostname),
            )
            if value
        ]
        return " and ".join(parts) or "channel_count>0"

    def open(self) -> None:
        """Resolve the stream and open an inlet on it; ``SourceError`` if none or unusable."""
        pylsl = _pylsl()
        self._closing.clear()
        predicate = self._predicate()
        found = pylsl.resolve_bypred(predicate, 1, self._options.resolve_timeout_s)
        if not found:
            raise SourceError(
                f"lsl: no stream matching {predicate} within {self._options.resolve_timeout_s:g} s"
            )
        info = found[0]
        if info.nominal_srate() <= 0:
            raise SourceError(f"lsl stream {info.name()!r} has an irregular rate; eegd needs EEG")
        if info.channel_format() == pylsl.cf_string:
            raise SourceError(f"lsl stream {info.name()!r} carries strings, not samples")
        try:
            inlet = pylsl.StreamInlet(info, max_buflen=30, recover=False)
            full = inlet.info(timeout=self._options.resolve_timeout_s)
            inlet.open_stream(timeout=self._options.resolve_timeout_s)
            self.time_correction = inlet.time_correction(timeout=self._options.resolve_timeout_s)
        except (pylsl.LostError, pylsl.TimeoutError) as exc:
            raise SourceError(f"lsl stream {info.name()!r}: {exc or type(exc).__name__}") from exc
        self._names, self._scale = _channels(full)
        self._rate = float(full.nominal_srate())
        self._inlet, self._carry, self._position = inlet, [], 0
        self.clock_anchor = None
        logger.info(
            "lsl stream %r (%s): %d channels at %g Hz",
            full.name(),
            full.source_id(),
            len(self._names),
            self._rate,
        )

    def read(self, n_samples: int) -> SampleBlock:
        """The next ``n_samples``, pulled from the inlet; ``SourceError`` if it stalls or goes."""
        inlet = self._inlet
        if inlet is None:
            raise SourceError("lsl source is not open")
        pylsl = _pylsl()
        stall = self._options.stall_timeout_s
        silent = 0.0
        while len(self._carry) < n_samples:
            if self._closing.is_set():
                raise SourceError("lsl source was closed")
            try:
                chunk, stamps = inlet.pull_chunk(
                    timeout=_PULL_S, max_samples=n_samples - len(self._carry)
                )
            except pylsl.LostError as exc:
                raise SourceError("lsl stream was lost") from exc
            if chunk:
                if self.clock_anchor is None:
                    first = stamps[0] + self.time_correction
                    self.clock_anchor = first - self._position / self._rate
                self._carry.extend(chunk)
                silent = 0.0
            else:
                silent += _PULL_S
                if silent >= stall:
                    raise SourceError(f"lsl stream sent no samples for {stall:g} s")
        rows, self._carry = self._carry[:n_samples], self._carry[n_samples:]
        volts = np.asarray(rows, dtype=np.float64).T * self._scale
        first_sample = self._position
        self._position += n_samples
        return SampleBlock(
            first_sample=first_sample, raw=self._to_counts(volts), volts=volts.astype(np.float32)
        )

    def close(self) -> None:
        """Close the inlet; safe to call twice, and from any thread."""
        self._closing.set()
        inlet, self._inlet = self._inlet, None
        if inlet is not None:
            inlet.close_stream()

    def _to_counts(self, volts: npt.NDArray[np.float64]) -> npt.NDArray[np.int32]:
        counts = np.rint(volts / self._lsb_volts)
        np.nan_to_num(counts, copy=False, nan=0.0)
        np.clip(counts, COUNT_MIN, COUNT_MAX, out=counts)
        return counts.astype(np.int32)


def _channels(info: Any) -> tuple[tuple[str, ...], float]:
    """The labels of ``info``'s channels (``chN`` where none) and volts per stream unit."""
    count = int(info.channel_count())
    labels: list[str] = []
    unit = ""
    node = info.desc().child("channels").child("channel")
    while not node.empty() and len(labels) < count:
        labels.append(node.child_value("label") or f"ch{len(labels) + 1}")
        unit = unit or node.child_value("unit").strip().lower()
        node = node.next_sibling("channel")
    labels += [f"ch{index + 1}" for index in range(len(labels), count)]
    scale = _UNIT_SCALE_V.get(unit) or _UNIT_SCALE.get(unit, 1e-6)
    return tuple(labels), scale
