"""The BrainFlow source: the EEG rows of any board BrainFlow supports, as eegd samples.

Channels, rate and names are device facts (see ``boards``); one the user set that differs
is a ``ConfigError``. BrainFlow reports µV, which become volts; the int32 counts are those of
a 24-bit converter over the declared physical range (±187.5 mV by default, an ADS1299 at
gain 24, the chip of OpenBCI's boards). BrainFlow's timestamp row is kept as the device
clock of each sample (``clock_anchor``, ``last_device_time``), while eegd's timestamps stay
based on sample indices. BrainFlow's marker row (what ``insert_marker`` wrote, or a board's
trigger input) becomes eegd markers: each non-zero value is a marker at its own sample,
labelled with the value (``7.0`` is ``"7"``). The board's accelerometer, analog and battery
rows are its aux stream (``Source.aux``), at the board's rate, read with the same columns as
the EEG. Every BrainFlow error becomes a
``SourceError`` carrying BrainFlow's message, so the supervisor's back-off reconnects.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from typing import Annotated, Any, ClassVar, Final

import msgspec
import numpy as np
import numpy.typing as npt

from eegd.aux_stream import AuxStream
from eegd.clock import SYSTEM_BLOCKING_CLOCK, BlockingClock
from eegd.errors import ConfigError, SourceError
from eegd.sources.adc import COUNT_MAX, COUNT_MIN
from eegd.sources.base import (
    AuxSamples,
    OptionalDependency,
    SampleBlock,
    SharedSourceOptions,
    Source,
    SourceMarker,
    parse_options,
    placed,
)
from eegd.sources.brainflow.boards import (
    BoardFacts,
    aux_stream,
    board_facts,
    board_shim,
    release_board,
    resolve_board,
)
from eegd.sources.brainflow.impedance import CYTON_IMPEDANCE
from eegd.sources.brainflow.log_bridge import install_log_bridge
from eegd.sources.checks import ImpedanceCheck
from eegd.sources.lsl_markers import marker_label
from eegd.validation import Settings

__all__ = ["DEFAULT_PHYSICAL_RANGE_UV", "BrainFlowSettings", "BrainFlowSource"]

logger = logging.getLogger("eegd.sources.brainflow")

#: The physical range of every channel unless set: ±187.5 mV, an ADS1299 at gain 24.
DEFAULT_PHYSICAL_RANGE_UV: Final = 187_500.0

_DRIFT_LOG_S: Final = 60.0
"""Seconds of samples between two debug lines comparing BrainFlow's clock with the count."""
_POLL_S: Final = 0.05
"""The longest wait between two looks at BrainFlow's buffer while samples are missing."""


class BrainFlowSettings(Settings, frozen=True):
    """A BrainFlow board, how to reach it, and what the user expects of it.

    The ``[source.brainflow]`` table, with ``channels``, ``sample_rate`` and
    ``channel_names`` of ``[source]`` when the user set them (None: take the board's);
    ``facts`` checks them against the board. The connection fields are BrainFlow's
    ``BrainFlowInputParams`` (empty or 0: unused). ``stall_timeout_s`` is how long the board
    may deliver nothing before the source counts as lost.
    """

    board: str | int = "synthetic"
    """A ``BoardIds`` name without ``_BOARD`` (``cyton_daisy``) or a numeric id."""
    serial_port: str = ""
    mac_address: str = ""
    ip_address: str = ""
    ip_port: Annotated[int, msgspec.Meta(ge=0, le=65535)] = 0
    serial_number: str = ""
    timeout: Annotated[int, msgspec.Meta(ge=0, le=3600)] = 0
    other_info: str = ""
    channels: int | None = None
    sample_rate: float | None = None
    channel_names: tuple[str, ...] | None = None
    physical_range_uv: Annotated[float, msgspec.Meta(gt=0, le=10_000_000)] = (
        DEFAULT_PHYSICAL_RANGE_UV
    )
    """Each channel spans ±this many µV; the 24-bit counts are scaled to it."""
    stall_timeout_s: Annotated[float, msgspec.Meta(ge=0.1, le=3600)] = 5.0

    @property
    def board_id(self) -> int:
        """BrainFlow's id of ``board``; raises ``ConfigError`` for an unknown board."""
        return resolve_board(self.board)

    def facts(self) -> BoardFacts:
        """The board's facts, after checking every value the user set against them."""
        facts = board_facts(self.board_id)
        if self.channels is not None and self.channels != len(facts.eeg_rows):
            raise ConfigError(
                f"channels: {self.channels} is not what the {facts.name} board has "
                f"({len(facts.eeg_rows)} EEG channels; leave channels unset to use them)"
            )
        if self.sample_rate is not None and float(self.sample_rate) != facts.sample_rate:
            raise ConfigError(
                f"sample_rate: {_show(self.sample_rate)} is not the {facts.name} board's rate "
                f"({_show(facts.sample_rate)} Hz; leave sample_rate unset to use it)"
            )
        if self.channel_names is not None and tuple(self.channel_names) != facts.channel_names:
            raise ConfigError(
                f"channel_names: {list(self.channel_names)} are not the {facts.name} board's "
                f"({list(facts.channel_names)}; leave channel_names unset to use them)"
            )
        return facts

    def input_params(self) -> Any:
        """BrainFlow's ``BrainFlowInputParams`` for this board."""
        params = board_shim().BrainFlowInputParams()
        params.serial_port = self.serial_port
        params.mac_address = self.mac_address
        params.ip_address = self.ip_address
        params.ip_port = self.ip_port
        params.serial_number = self.serial_number
        params.timeout = self.timeout
        params.other_info = self.other_info
        return params

    def where(self) -> str:
        """How the board is reached, for messages: its port, address or serial number."""
        for value in (self.serial_port, self.mac_address, self.ip_address, self.serial_number):
            if value:
                return f" on {value}" if self.ip_port == 0 else f" on {value}:{self.ip_port}"
        return ""


def _show(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(value)


class BrainFlowSource(Source):
    """Streams the EEG rows of a BrainFlow board.

    BrainFlow buffers samples in its own thread; ``read`` waits (on an event, with short
    timeouts) until enough are there, and raises ``SourceError`` if the board delivers
    nothing for ``stall_timeout_s``. ``close`` from another thread wakes a waiting ``read``.
    """

    kind: ClassVar[str] = "brainflow"
    requires: ClassVar[OptionalDependency | None] = OptionalDependency("brainflow", "brainflow")
    impedance_check: ClassVar[ImpedanceCheck | None] = CYTON_IMPEDANCE
    """A Cyton's impedance mode (``eegd.sources.brainflow.impedance``); other boards refuse."""

    @classmethod
    def from_options(
        cls, shared: SharedSourceOptions, options: Mapping[str, Any]
    ) -> BrainFlowSource:
        """A board from ``[source.brainflow]``, checked against what ``[source]`` set.

        Only the shared keys the user set explicitly are checked against the board; the
        others are the board's. Errors name the dotted key.
        """
        explicit = shared.facts(set_only=True)
        settings = parse_options(options, BrainFlowSettings, cls.kind, explicit)
        try:
            return cls(settings)
        except ConfigError as exc:
            raise placed(exc, cls.kind) from None

    def __init__(self, settings: BrainFlowSettings, clock: BlockingClock | None = None) -> None:
        self._settings = settings
        self._facts = settings.facts()
        self._aux = aux_stream(self._facts)
        self._clock = clock if clock is not None else SYSTEM_BLOCKING_CLOCK
        self._lsb_volts = 2.0 * settings.physical_range_uv * 1e-6 / 2**24
        self._board: Any = None
        self._closing = threading.Event()
        self._position = 0
        self.clock_anchor: float | None = None
        """BrainFlow's timestamp (Unix seconds) of sample 0, once it has arrived."""
        self.last_device_time: float | None = None
        """BrainFlow's timestamp of the last sample read."""
        self._drift_logged_at = 0

    @property
    def sample_rate(self) -> float:
        """The board's samples per second per channel."""
        return self._facts.sample_rate

    @property
    def channel_names(self) -> tuple[str, ...]:
        """The board's EEG channel labels, in row order."""
        return self._facts.channel_names

    @property
    def physical_range(self) -> tuple[tuple[float, float], ...]:
        """Each channel's (min, max) in volts: the span the int32 counts are scaled to."""
        span = self._settings.physical_range_uv * 1e-6
        return tuple((-span, span) for _ in self._facts.channel_names)

    @property
    def aux(self) -> AuxStream | None:
        """The board's accelerometer, analog and battery rows, at its rate; None without."""
        return self._aux

    @property
    def lsb_volts(self) -> float:
        """Volts per count of ``SampleBlock.raw``."""
        return self._lsb_volts

    def open(self) -> None:
        """Prepare the BrainFlow session and start streaming; ``SourceError`` if it fails."""
        if self._board is not None:
            raise SourceError(f"brainflow {self._facts.name} board is already open")
        shim = board_shim()
        install_log_bridge()
        self._closing.clear()
        self._position = 0
        self.clock_anchor = self.last_device_time = None
        board = shim.BoardShim(self._facts.board_id, self._settings.input_params())
        with self._translated("cannot open"):
            try:
                board.prepare_session()
                board.start_stream()
            except shim.BrainFlowError:
                release_board(board)
                raise
        self._board = board
        logger.info(
            "brainflow %s board open%s: %d EEG channels at %g Hz",
            self._facts.name,
            self._settings.where(),
            len(self._facts.eeg_rows),
            self._facts.sample_rate,
        )

    def read(self, n_samples: int) -> SampleBlock:
        """The next ``n_samples`` per channel, waiting until BrainFlow has them."""
        if isinstance(n_samples, bool) or not isinstance(n_samples, int) or n_samples < 1:
            raise ValueError(f"n_samples: {n_samples!r} must be a positive integer")
        board = self._board
        if board is None:
            raise SourceError(f"brainflow {self._facts.name} board is not open")
        with self._translated("lost the"):
            self._wait_for(board, n_samples)
            data = board.get_board_data(n_samples)
        microvolts = np.asarray(data, dtype=np.float64)[list(self._facts.eeg_rows)]
        self._keep_device_time(data)
        first = self._position
        self._position += n_samples
        volts = microvolts * 1e-6
        return SampleBlock(
            first_sample=first,
            raw=self._to_counts(volts),
            volts=volts.astype(np.float32),
            markers=self._markers(data, first),
            aux=self._aux_samples(data, first),
        )

    def close(self) -> None:
        """Stop streaming and release the board; safe to call twice, and from any thread."""
        self._closing.set()
        board, self._board = self._board, None
        if board is not None:
            release_board(board)
            logger.info("brainflow %s board closed", self._facts.name)

    def interrupt(self) -> None:
        """End a ``read`` waiting for a quiet board in another thread within one poll."""
        self._closing.set()

    def _wait_for(self, board: Any, n_samples: int) -> None:
        """Block until BrainFlow holds ``n_samples``, polling it at short intervals."""
        stall = self._settings.stall_timeout_s
        seen = board.get_board_data_count()
        progressed_at = self._clock.monotonic()
        while seen < n_samples:
            missing = (n_samples - seen) / self._facts.sample_rate
            if self._closing.wait(timeout=min(max(missing, 0.001), _POLL_S)):
                raise SourceError(f"brainflow {self._facts.name} board was closed")
            count = board.get_board_data_count()
            now = self._clock.monotonic()
            if count != seen:
                seen, progressed_at = count, now
            elif now - progressed_at >= stall:
                raise SourceError(
                    f"brainflow {self._facts.name} board{self._settings.where()} "
                    f"sent no samples for {stall:g} s"
                )

    def _keep_device_time(self, data: npt.NDArray[np.float64]) -> None:
        """Record BrainFlow's clock against the sample count; log how far apart they drift."""
        row = self._facts.timestamp_row
        if row is None or data.shape[1] == 0:
            return
        if self.clock_anchor is None:
            self.clock_anchor = float(data[row, 0])
            self._drift_logged_at = 0
            logger.info(
                "brainflow %s clock: sample 0 at %.6f (Unix seconds)",
                self._facts.name,
                self.clock_anchor,
            )
        self.last_device_time = float(data[row, -1])
        last = self._position + data.shape[1] - 1
        if last - self._drift_logged_at >= _DRIFT_LOG_S * self._facts.sample_rate:
            self._drift_logged_at = last
            expected = self.clock_anchor + last / self._facts.sample_rate
            logger.debug(
                "brainflow %s clock: sample %d at %.6f, %+.1f ms from the sample clock",
                self._facts.name,
                last,
                self.last_device_time,
                (self.last_device_time - expected) * 1e3,
            )

    def _markers(self, data: npt.NDArray[np.float64], first: int) -> tuple[SourceMarker, ...]:
        """The marker row's non-zero values (BrainFlow's "no marker" is 0) as markers at
        their samples; ``first`` is the index of ``data``'s first column."""
        row = self._facts.marker_row
        if row is None:
            return ()
        values = np.asarray(data[row], dtype=np.float64)
        columns = np.flatnonzero(np.isfinite(values) & (values != 0))
        return tuple(
            SourceMarker(sample=first + int(column), label=marker_label(float(values[column])))
            for column in columns
        )

    def _aux_samples(self, data: npt.NDArray[np.float64], first: int) -> AuxSamples | None:
        """The aux rows of ``data``, whose first column is sample ``first``."""
        rows = [aux.row for aux in self._facts.aux_rows]
        if not rows:
            return None
        return AuxSamples(first, np.asarray(data, dtype=np.float64)[rows].astype(np.float32))

    def _to_counts(self, volts: npt.NDArray[np.float64]) -> npt.NDArray[np.int32]:
        counts = np.rint(volts / self._lsb_volts)
        np.nan_to_num(counts, copy=False, nan=0.0)
        np.clip(counts, COUNT_MIN, COUNT_MAX, out=counts)
        return counts.astype(np.int32)

    def _translated(self, what: str) -> _Translated:
        return _Translated(f"{what} brainflow {self._facts.name} board{self._settings.where()}")


class _Translated:
    """Turns a ``BrainFlowError`` inside the block into a ``SourceError`` with its message."""

    __slots__ = ("_prefix",)

    def __init__(self, prefix: str) -> None:
        self._prefix = prefix

    def __enter__(self) -> None:
        return None

    def __exit__(self, exc_type: object, exc: BaseException | None, tb: object) -> None:
        if exc is not None and isinstance(exc, board_shim().BrainFlowError):
            raise SourceError(f"{self._prefix}: {exc}") from exc
