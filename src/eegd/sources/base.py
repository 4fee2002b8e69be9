"""The interface every sample source implements, and the block of samples it returns.

Sources are blocking by nature (SPI, vendor SDKs, sockets): ``read`` waits until the
requested samples exist. The acquisition loop runs it in a thread.

Why ``read(n)`` (exactly ``n`` samples, blocking) rather than a ``read_available()`` that the
loop batches: the bus carries packets of a fixed ``batch_size`` (client queues, the status
line and the spectrum's hop are sized in packets), so someone has to accumulate samples to
``n``, and each driver knows best how to wait for them. BrainFlow asks
``get_board_data_count`` and takes exactly ``n`` with ``get_board_data(n)``, leaving the rest
in its ring buffer; LSL's ``pull_chunk(max_samples=n)`` fills a small carry-over; an SPI chip
reads ``n`` frames, one per DRDY, in a tight loop without crossing into the event loop per
sample (16,000 hand-offs a second at 16 kHz). A loop-side batcher would duplicate that
carry-over for every source and still need a blocking wait underneath.

A block may carry ``SourceEvent``s (a file's annotations, a loop back to its start), which
the acquisition loop publishes as ``system`` events stamped with their sample, and
``SourceMarker``s (a file's annotations, an LSL marker stream's samples), which it publishes
on the ``marker`` topic at their sample, so the recorder writes them where they belong; a
finite source raises ``SourceEnded`` once it has delivered its last sample.

A source with a clock of its own (LSL's stream timestamps) says when each block's first
sample was taken (``SampleBlock.stream_time``) and which stream it reads
(``Source.stream_id``): when the same stream comes back after a loss, the acquisition loop
goes on in the same session and places the stream by that clock, so the samples it says
went by in between are a gap, counted as lost; another stream starts a new session.

Each source class is found by its ``kind`` in ``eegd.sources.registry`` and builds itself
with ``from_options(shared, options)``: ``shared`` holds the ``[source]`` keys every source
shares, ``options`` its own ``[source.<kind>]`` table.

A source whose device can check itself says so on its class: ``selftest`` (noise and a test
signal against the datasheet, ``eegd selftest`` and ``POST /api/selftest``) and
``impedance_check`` (each electrode's impedance, ``POST /api/impedance``) are None unless it
provides them. Each opens the device the same two tables describe, by itself: the daemon
ends the session for it first.
"""

from __future__ import annotations

import abc
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType, TracebackType
from typing import Any, ClassVar, Final, TypeVar

import msgspec
import numpy as np
import numpy.typing as npt

from eegd.aux_stream import AuxStream
from eegd.errors import ConfigError
from eegd.events import SystemEventKind
from eegd.sources.checks import ImpedanceCheck, SelfTest
from eegd.validation import convert

__all__ = [
    "MAX_STREAM_CHANNELS",
    "AuxSamples",
    "OptionalDependency",
    "SampleBlock",
    "SharedSourceOptions",
    "Source",
    "SourceChoices",
    "SourceEvent",
    "SourceMarker",
    "parse_options",
    "placed",
]

_OptionsT = TypeVar("_OptionsT", bound=msgspec.Struct)


def parse_options(
    options: Mapping[str, Any],
    struct: type[_OptionsT],
    kind: str,
    shared: Mapping[str, Any] | None = None,
) -> _OptionsT:
    """A source's settings: its ``[source.<kind>]`` table and ``shared`` keys of ``[source]``.

    A source declares its settings once, as one ``msgspec.Struct`` whose fields carry their
    constraints; ``shared`` are the ``[source]`` keys it declares too (name -> value), which
    its own table may not hold. An unknown key or a wrong value raises ``ConfigError``
    naming the key where it is written (``source.synthetic.seed``, ``source.channels``).
    """
    given = {name: (f"source.{name}", value) for name, value in (shared or {}).items()}
    return convert(dict(options), struct, f"source.{kind}", given=given)


def placed(error: ConfigError, kind: str) -> ConfigError:
    """``error`` about a key of a source's settings, named where that key is written: a
    key of ``[source]`` (``SharedSourceOptions.facts``) under ``source``, the others under
    ``source.<kind>``."""
    head = re.split(r"[.\[]", error.key or "", maxsplit=1)[0]
    if head == "source":  # named where it is already
        return error
    return error.within("source" if head in _FACTS else f"source.{kind}")


#: The most channels eegd streams: frames, client queues, the spectrum's memory and the
#: kiosk are sized for it (256: the largest EEG caps).
MAX_STREAM_CHANNELS: Final = 256


@dataclass(frozen=True, slots=True)
class SharedSourceOptions:
    """The ``[source]`` keys every source shares, as the configuration (or flags) gave them.

    ``explicit`` names the keys the user set (file or flag), as opposed to defaults: a
    source whose device reports its own channels or rate replaces only the defaults, and
    checks an explicit value against the device.
    """

    kind: str
    channels: int = 8
    sample_rate: float = 250
    channel_names: tuple[str, ...] | None = None
    batch_size: int = 32
    explicit: frozenset[str] = field(default_factory=frozenset)
    file_directories: tuple[Path, ...] = ()
    """The directories a source may read files from (``[source.playback] directories``)."""

    def facts(self, *, set_only: bool = False) -> dict[str, Any]:
        """``channels``, ``sample_rate`` and ``channel_names`` by name, for a source whose
        settings declare them; ``set_only``: only those the user set (a device's own facts
        stand for the others)."""
        return {key: getattr(self, key) for key in _FACTS if not set_only or key in self.explicit}


#: The keys of ``[source]`` a device or file may know better (``SharedSourceOptions.facts``).
_FACTS: Final = ("channels", "sample_rate", "channel_names")


@dataclass(frozen=True, slots=True)
class SourceChoices:
    """What a kind lets the user choose among the shared keys (``GET /api/source`` shows it).

    ``sample_rates`` are the rates it runs at; ``channels`` the fewest and most channels it
    reads. None: the device or file says it (a board's channels, a file's rate), so the
    value is a fact to show, not a setting.
    """

    sample_rates: tuple[int, ...] | None = None
    channels: tuple[int, int] | None = None

    def as_json(self) -> dict[str, Any]:
        """``{"sample_rate": [250, ...] | null, "channels": {"min": 1, "max": 32} | null}``."""
        channels = self.channels
        return {
            "sample_rate": None if self.sample_rates is None else list(self.sample_rates),
            "channels": None if channels is None else {"min": channels[0], "max": channels[1]},
        }


@dataclass(frozen=True, slots=True)
class OptionalDependency:
    """A package a source needs beyond eegd's own: the extra that installs it, and how.

    ``module`` is the importable name whose presence tells that it is installed.
    """

    extra: str
    module: str

    @property
    def install_command(self) -> str:
        """The command that installs it into eegd's environment."""
        return f"pip install 'eegd[{self.extra}]'"


@dataclass(frozen=True, slots=True)
class SourceEvent:
    """Something a source reports at one of its samples, published as a ``system`` event.

    ``sample`` is the index (since the source opened) of the sample it belongs to, inside
    the block that carries it; ``detail`` becomes the event's detail.
    """

    kind: SystemEventKind
    sample: int
    detail: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))


@dataclass(frozen=True, slots=True)
class SourceMarker:
    """A moment the source marks at one of its samples, published as a ``marker`` event.

    ``sample`` is the index (since the source opened) of the sample at that moment; it may
    lie in an earlier block than the one that carries it (a marker stream runs apart from
    the samples) or a later one. ``label`` is its text, ``duration_s`` its length if any.
    """

    sample: int
    label: str
    duration_s: float | None = None


@dataclass(frozen=True, slots=True)
class AuxSamples:
    """The aux samples a source read with a block (``Source.aux`` describes them).

    ``first_sample`` is the index of the first one since the source opened, in the aux
    stream's own count; ``values`` are aux channels × samples in each channel's unit. At
    the EEG rate they are the block's own columns; at another rate as many as fell in the
    block's time.
    """

    first_sample: int
    values: npt.NDArray[np.float32]


@dataclass(frozen=True, slots=True)
class SampleBlock:
    """Consecutive samples from a source, channels × samples.

    ``first_sample`` is the index of the block's first sample since the source opened;
    a jump from the previous block's end means the source lost samples.
    ``raw`` holds the ADC counts and ``volts`` the same samples in volts. ``lead_off``
    names the electrodes (channel names) whose lead-off detection trips at the block's
    end; None when the source cannot tell. ``events`` are what the source reports at
    samples of this block, ``markers`` the moments it marks (most blocks carry none).
    ``stream_time`` is the source's own time of the first sample, in seconds of the
    monotonic clock (``time.monotonic``, which is LSL's ``local_clock``); None when the
    source keeps no clock of its own. ``gap_cause`` is why samples are missing before this
    block when the source knows (a ``GapCause`` value of ``eegd.acquisition.ledger``), else None.
    ``malformed`` is what the source found wrong with the block itself (values it cannot
    have taken), so the acquisition rejects it as it rejects a block of the wrong shape.
    ``aux`` holds the aux samples read with it, from a source that has an aux stream.
    """

    first_sample: int
    raw: npt.NDArray[np.int32]
    volts: npt.NDArray[np.float32]
    lead_off: frozenset[str] | None = None
    events: tuple[SourceEvent, ...] = ()
    markers: tuple[SourceMarker, ...] = ()
    stream_time: float | None = None
    gap_cause: str | None = None
    malformed: str | None = None
    aux: AuxSamples | None = None

    @property
    def n_samples(self) -> int:
        """Samples per channel."""
        return int(self.volts.shape[1])

    def problem(self, channels: int, max_samples: int, aux_channels: int = 0) -> str | None:
        """What is wrong with this block for a stream of ``channels`` rows, or None.

        A block must hold ``raw`` and ``volts`` of the same shape, ``channels`` × 1 to
        ``max_samples``, with finite volts: anything else would reach every consumer as
        garbage, so the acquisition rejects it (and the samples it stood for are a gap).
        A block its source calls ``malformed`` is rejected for that reason. Its aux
        samples, if any, are ``aux_channels`` rows of finite values.
        """
        if self.malformed is not None:
            return self.malformed
        raw, volts = self.raw, self.volts
        if not (isinstance(raw, np.ndarray) and isinstance(volts, np.ndarray)):
            return "raw and volts must be numpy arrays"
        if volts.ndim != 2 or raw.shape != volts.shape:
            return f"raw {raw.shape} and volts {volts.shape} must be the same 2-D shape"
        rows, samples = volts.shape
        if rows != channels or not 1 <= samples <= max_samples:
            return f"shape {volts.shape} is not {channels} channels × 1..{max_samples} samples"
        if not np.isfinite(volts).all():
            return "volts hold NaN or infinite values"
        return None if self.aux is None else _aux_problem(self.aux, aux_channels)


def _aux_problem(aux: AuxSamples, channels: int) -> str | None:
    """What is wrong with a block's aux samples for an aux stream of ``channels`` rows."""
    values = aux.values
    if not isinstance(values, np.ndarray) or values.ndim != 2 or values.shape[0] != channels:
        shape = getattr(values, "shape", None)
        return f"aux values of shape {shape} are not {channels} aux channels × samples"
    if not np.isfinite(values).all():
        return "aux values hold NaN or infinite values"
    return None


class Source(abc.ABC):
    """A device or generator of multichannel EEG at a fixed sample rate.

    ``kind`` is the name ``source.kind`` selects it by; ``requires`` the optional
    dependency it needs, if any (``eegd sources`` lists it); ``choices`` the rates and
    channel counts it may be set to (by default none: the device says them); ``selftest``
    and ``impedance_check`` the checks it offers (by default none).
    """

    kind: ClassVar[str]
    requires: ClassVar[OptionalDependency | None] = None
    choices: ClassVar[SourceChoices] = SourceChoices()
    selftest: ClassVar[SelfTest | None] = None
    """The device's self-test, if it has one."""
    impedance_check: ClassVar[ImpedanceCheck | None] = None
    """The electrodes' impedance check, if the device measures it."""

    @classmethod
    def from_options(cls, shared: SharedSourceOptions, options: Mapping[str, Any]) -> Source:
        """A source configured by the shared keys and its own ``[source.<kind>]`` table.

        Bad options raise ``ConfigError`` naming the dotted key (``source.channels``,
        ``source.<kind>.<key>``). Sources that are only built in code (test fakes) need not
        override it.
        """
        raise ConfigError(f"source.kind: {cls.__name__} cannot be built from options")

    @property
    @abc.abstractmethod
    def sample_rate(self) -> float:
        """Samples per second per channel."""

    @property
    @abc.abstractmethod
    def channel_names(self) -> tuple[str, ...]:
        """One label per channel, in row order."""

    @property
    def physical_range(self) -> tuple[tuple[float, float], ...] | None:
        """Each channel's (min, max) in volts, declared by a source without ADC counts.

        A board that reports volts, or a file, declares the span its int32 counts cover;
        the recorder quantises over it. None (the default): ``raw`` are the ADC's own counts.
        """
        return None

    @property
    def aux(self) -> AuxStream | None:
        """The source's aux stream (accelerometer, analog, battery, GPIO channels); None
        (the default) for a source that has none: its blocks then carry no aux samples."""
        return None

    @property
    def stream_id(self) -> str | None:
        """What identifies the stream read across reconnections (an LSL ``source_id``).

        Known once open. When a reopened source reads the same stream and its blocks carry
        ``stream_time``, the session goes on, placed by that clock: the samples in between
        are a gap, counted as lost. Another stream starts a new session. None (the
        default): the source's device is taken to be the same across reopens.
        """
        return None

    @abc.abstractmethod
    def open(self) -> None:
        """Connect to the device and start sampling; raises ``SourceError``."""

    @abc.abstractmethod
    def read(self, n_samples: int) -> SampleBlock:
        """Block until the next ``n_samples`` are available and return them.

        A finite source returns fewer at its very end, and then raises ``SourceEnded``.
        """

    @abc.abstractmethod
    def close(self) -> None:
        """Stop sampling and release the device; safe to call twice."""

    def interrupt(self) -> None:
        """Make a ``read`` blocked in another thread end soon, raising ``SourceError``.

        The acquisition loop calls it when it stops, before ``close``. A source whose
        ``read`` may wait long for its device (an LSL stream gone quiet waits up to its
        stall timeout) overrides it; one whose reads return within a packet's time needs not.
        """
        return None

    def __enter__(self) -> Source:
        self.open()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
