"""One part of a recording: one continuous stretch of one session in one file and its sidecar.

A part turns packets into data records (one record per packet, so stop, roll-over and gaps,
which all fall between packets, never leave a partial record) and keeps what the sidecar
says about it: the clock map, the annotations, its ledger. Its methods do blocking file I/O
and run in the recorder's writer thread.

Calibration: each channel's physical range comes from the first packet (``calibrate``).
EDF stores 16 bits over the same range as BDF's 24; samples outside it are clipped and
counted.

Aux: a session with an aux stream has its aux channels written as signals of their own
after the EEG, in their units over their declared ranges, at their own rate: a record (one
packet, ``batch_size / rate`` seconds) holds ``record_s × aux rate`` aux samples, which must
be whole (else the recording is refused, saying which batch sizes work). A CSV file holds
the EEG alone. The sidecar describes the aux stream and says what was written.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from eegd.aux_stream import AuxStream
from eegd.errors import RequestRefused
from eegd.events import AuxPacket, EegPacket, MarkerEvent
from eegd.plugins.recorder.aux_records import (
    AuxRecords,
    aux_first_sample,
    aux_layout,
    aux_per_record,
)
from eegd.plugins.recorder.calibration import calibrate
from eegd.plugins.recorder.edf import (
    Layout,
    exact_decimal,
    label_problem,
    tal,
)
from eegd.plugins.recorder.files import (
    CsvFile,
    EdfFile,
    Opener,
    grow_annotations,
    patch_status,
    write_sidecar,
)

__all__ = ["Part", "SessionInfo", "check_labels"]

_SUFFIXES = {"bdf": ".bdf", "edf": ".edf", "csv": ".csv"}
#: Seconds of data between rewrites of the sidecar while recording.
_SIDECAR_EVERY_S = 10


@dataclass(frozen=True, slots=True)
class SessionInfo:
    """What the recorder knows of the source session (from ``source_connected``)."""

    id: str | None = None
    sample_rate: float | None = None
    channels: tuple[str, ...] = ()
    time_anchor_us: int | None = None
    utc_offset_us: int | None = None
    """The session's epoch µs minus monotonic µs: its stamps' map to the epoch."""
    physical_range: tuple[tuple[float, float], ...] | None = None
    aux: AuxStream | None = None
    """The session's aux stream, when its source has one."""
    batch_size: int | None = None
    """Samples per packet, and so per data record."""

    def as_dict(self) -> dict[str, Any]:
        """For the sidecar."""
        return {
            "session": self.id,
            "sample_rate": self.sample_rate,
            "channels": list(self.channels),
            "time_anchor_us": self.time_anchor_us,
            "utc_offset_us": self.utc_offset_us,
            "physical_range_v": (
                [list(span) for span in self.physical_range] if self.physical_range else None
            ),
        }


def check_labels(names: Sequence[str], file_format: str, aux: AuxStream | None = None) -> None:
    """``RequestRefused`` (409) if ``names`` cannot label a ``file_format`` file's channels."""
    if file_format == "csv":
        return
    problem = label_problem([*names, *(aux.channels if aux else ())], file_format == "bdf")
    if problem is not None:
        raise RequestRefused(
            409,
            "bad_channel_names",
            f"{problem}; rename the channels ([source] channel_names) or record as csv",
        )


@dataclass
class Part:
    """A part being written: its file, and everything its sidecar will say."""

    directory: Path
    name: str
    recording: str
    number: int
    file_format: str
    session: SessionInfo
    first: EegPacket
    provenance: dict[str, Any]
    opener: Opener | None = None
    samples: int = 0
    clipped: int = 0
    padded: int = 0
    annotations: list[dict[str, Any]] = field(default_factory=list)
    clock_map: list[list[int]] = field(default_factory=list)
    """One point a second: [sample index, wall-clock µs, monotonic ns]."""
    markers: list[dict[str, Any]] = field(default_factory=list)
    filter_changes: list[dict[str, Any]] = field(default_factory=list)
    """The voltage filter's settings each time they changed during the part."""
    clock_steps: list[dict[str, Any]] = field(default_factory=list)
    """Wall-clock steps during the part (``clock_stepped``: the UTC map before and after);
    the stamps kept the session's map."""
    gaps: list[dict[str, Any]] = field(default_factory=list)
    """The gaps that end or begin this part: where, how many samples, why."""
    status: str = "recording"
    _pending: list[bytes] = field(default_factory=list)
    _last_record_at: int = -1
    _last_tals: bytes = b""
    _file: EdfFile | CsvFile | None = None
    _layout: Layout | None = None
    _aux: AuxRecords | None = None

    @property
    def path(self) -> Path:
        """The data file."""
        return self.directory / (self.name + _SUFFIXES[self.file_format])

    @property
    def sidecar_path(self) -> Path:
        """The ``NAME.json`` provenance sidecar."""
        return self.directory / (self.name + ".json")

    @property
    def sample_rate(self) -> float:
        """Samples per second of the part."""
        return self.first.sample_rate

    @property
    def start_us(self) -> int:
        """Wall-clock µs of the part's first sample."""
        return int(self.first.timestamps[0])

    @property
    def _second_us(self) -> int:
        """The whole second the header's start time names."""
        return self.start_us - self.start_us % 1_000_000

    def seconds_into_file(self, sample: int) -> float:
        """Where ``sample`` lies on the file's time axis, seconds after the header's start
        second: the data records lie end to end, so a sample's place is its count, never its
        stamp (a fitted clock following a device's drift strays from the records' grid)."""
        return (self.start_us - self._second_us) / 1e6 + (
            sample - self.first.first_sample
        ) / self.sample_rate

    @property
    def bytes_written(self) -> int:
        """Bytes of the data file so far."""
        return self._file.bytes_written if self._file is not None else 0

    def open(self) -> None:
        """Create the data file and the sidecar (status ``recording``)."""
        start = dt.datetime.fromtimestamp(self._second_us / 1e6, tz=dt.UTC)
        if self.path.is_file() and self.path.stat().st_size == 0:
            self.path.unlink()  # the empty file the recording's start left in its place
        if self.file_format == "csv":
            self._file = CsvFile(self.path, self.first.channel_names, self.opener)
        else:
            n = self.first.n_samples
            record_s = exact_decimal(Fraction(n) / Fraction(self.sample_rate))
            if record_s is None:
                raise RequestRefused(
                    409,
                    "bad_stream",
                    f"{n} samples at {self.sample_rate:g} Hz make data records whose length "
                    "an EDF header cannot state exactly; record as csv, or change batch_size",
                )
            check_labels(self.first.channel_names, self.file_format, self.session.aux)
            source = self.provenance.get("config", {}).get("source", {}).get("kind", "source")
            self._layout = Layout(
                bdf=self.file_format == "bdf",
                labels=self.first.channel_names,
                physical=calibrate(self.first, self.session.physical_range),
                samples_per_record=n,
                record_s=record_s,
                equipment=f"eegd_{self.provenance.get('eegd_version', '')}_{source}",
                **self._aux_layout(),
            )
            self._file = EdfFile(self.path, self._layout, start, self.opener)
        self.write_sidecar()

    def _aux_layout(self) -> dict[str, Any]:
        """The aux signals' part of the layout (none without an aux stream), and the
        records of aux samples they are cut into; 409 if a record cannot hold whole ones."""
        aux = self.session.aux
        if aux is None:
            return {}
        per_record = aux_per_record(self.first.n_samples, self.sample_rate, aux)
        first = aux_first_sample(self.first.first_sample, self.sample_rate, aux.sample_rate)
        self._aux = AuxRecords(len(aux.channels), per_record, first)
        return aux_layout(aux, per_record)

    def annotate(self, sample: int, text: str, duration_s: float | None = None) -> None:
        """An annotation at ``sample``'s place in the file, in the next record written."""
        at = self.seconds_into_file(sample)
        onset = at - (self.start_us - self._second_us) / 1e6
        self.annotations.append({"onset_s": onset, "duration_s": duration_s, "text": text})
        if self._layout is not None:
            self._pending.append(tal(at, text, duration_s))

    def mark(self, marker: MarkerEvent) -> None:
        """A marker: an annotation at its sample, and an entry of the sidecar's markers.

        A marker put while no session ran has no sample: its moment is placed on the
        nearest sample by the part's first stamp and rate.
        """
        sample = marker.sample
        if sample is None:
            offset = (marker.timestamp - self.start_us) / 1e6 * self.sample_rate
            sample = self.first.first_sample + round(offset)
        self.annotate(sample, marker.label, marker.duration_s)
        self.markers.append(
            {
                "label": marker.label,
                "timestamp_us": marker.timestamp,
                "duration_s": marker.duration_s,
                "sample": marker.sample,
                "onset_s": self.annotations[-1]["onset_s"],
            }
        )

    def append(self, packet: EegPacket, aux: Sequence[AuxPacket] = ()) -> None:
        """Write ``packet`` and the aux samples read with it: one data record (a short last
        packet is padded, and annotated)."""
        if packet.first_sample - self.first.first_sample >= len(self.clock_map) * self.sample_rate:
            self.clock_map.append(
                [packet.first_sample, int(packet.timestamps[0]), packet.monotonic_ns]
            )
        microvolts = packet.volts.astype(np.float64) * 1e6
        if isinstance(self._file, CsvFile):
            self._file.append(packet.timestamps, packet.frame_id, packet.first_sample, microvolts)
        elif self._file is not None and self._layout is not None:
            missing = self._layout.samples_per_record - packet.n_samples
            if missing > 0:
                end = packet.first_sample + packet.n_samples
                self.annotate(end, "eegd: padding, no data", missing / self.sample_rate)
                self.padded += missing
                microvolts = np.pad(microvolts, ((0, 0), (0, missing)))
            digital, clipped = self._layout.quantise(microvolts)
            self.clipped += clipped
            aux_digital = self._aux_record(packet, aux)
            tals = self._fill(tal(self.seconds_into_file(packet.first_sample)))
            self._last_record_at = self._file.bytes_written
            self._last_tals = tals
            self._file.append(digital, tals, aux_digital)
        before = self.samples
        self.samples += packet.n_samples
        every = _SIDECAR_EVERY_S * self.sample_rate
        if before // every != self.samples // every:
            self.write_sidecar()  # what a crash leaves says more than the start

    def _aux_record(
        self, packet: EegPacket, aux: Sequence[AuxPacket]
    ) -> npt.NDArray[np.int32] | None:
        """The record's aux signals as stored integers; a run none came for is zeros,
        annotated at its EEG sample."""
        if self._aux is None or self._layout is None:
            return None
        digital, missing = self._aux.record(aux, self._layout)
        if missing:
            self.annotate(packet.first_sample, "eegd: aux padding, no aux data")
        return digital

    def _fill(self, tals: bytes) -> bytes:
        """``tals`` and as many pending annotations as fit in one record."""
        room = self._layout.annotation_bytes if self._layout is not None else 0
        while self._pending and len(tals) + len(self._pending[0]) <= room:
            tals += self._pending.pop(0)
        return tals

    def finish(self, status: str = "complete") -> None:
        """Complete the file with every annotation: those still pending go into the last
        record, and what does not fit there into the room the file is rewritten with."""
        if isinstance(self._file, EdfFile) and self._pending and self._last_record_at >= 0:
            tals = self._fill(self._last_tals)
            layout = self._file.layout
            offset = self._last_record_at + layout.record_bytes - layout.annotation_bytes
            self._file.rewrite(offset, tals.ljust(layout.annotation_bytes, b"\x00"))
        if self._file is not None:
            self._file.finish()
        if isinstance(self._file, EdfFile) and self._pending and self._last_record_at >= 0:
            start = dt.datetime.fromtimestamp(self._second_us / 1e6, tz=dt.UTC)
            self._layout = grow_annotations(self.path, self._file.layout, start, self._pending)
            self._pending = []
        self.status = status
        self.write_sidecar()

    def abandon(self, status: str) -> None:
        """Leave the file as it is after a failure; the sidecar says so, if it can."""
        if self._file is not None:
            self._file.abandon()
        self.status = status
        try:
            self.write_sidecar()
        except OSError:  # a full disk: at least the status must stop saying "recording"
            with contextlib.suppress(OSError):
                patch_status(self.sidecar_path, status)

    def ledger(self) -> dict[str, Any]:
        """Samples of this part: acquired (received), written to the file, padded, clipped."""
        return {
            "samples_expected": self.samples,
            "samples_acquired": self.samples,
            "samples_written": self.samples,
            "samples_padded": self.padded,
            "samples_clipped": self.clipped,
            **(self._aux.ledger() if self._aux is not None else {}),
            "annotations_not_written": len(self._pending),
            "gaps": self.gaps,
        }

    def write_sidecar(self) -> None:
        """Write ``NAME.json``: provenance, the clock map, annotations, ledger."""
        layout = self._layout
        content: dict[str, Any] = {
            **self.provenance,
            "name": self.name,
            "recording": self.recording,
            "part": self.number,
            "format": self.file_format,
            "file": self.path.name,
            "status": self.status,
            "source": {**self.provenance.get("source", {}), **self.session.as_dict()},
            "start": dt.datetime.fromtimestamp(self.start_us / 1e6, tz=dt.UTC).isoformat(),
            "start_us": self.start_us,
            "first_sample": self.first.first_sample,
            "first_frame_id": self.first.frame_id,
            "sample_rate": self.sample_rate,
            "channels": list(self.first.channel_names),
            "samples": self.samples,
            "duration_s": self.samples / self.sample_rate,
            "clock_map": self.clock_map,
            "annotations": self.annotations,
            "markers": self.markers,
            "filter_changes": self.filter_changes,
            "clock_steps": self.clock_steps,
            "ledger": {**self.provenance.get("ledger", {}), **self.ledger()},
            "aux": self._aux_description(),
        }
        if layout is not None:
            content["calibration"] = {
                "unit": "uV",
                "physical_range": [list(span) for span in layout.physical],
                "digital_range": list(layout.digital),
                "record_s": layout.record_s,
            }
        write_sidecar(self.sidecar_path, content)

    def _aux_description(self) -> dict[str, Any] | None:
        """The sidecar's ``aux``: the session's aux stream, and whether the file holds it."""
        aux, records = self.session.aux, self._aux
        if aux is None:
            return None
        first = aux_first_sample(self.first.first_sample, self.sample_rate, aux.sample_rate)
        per_record = None if records is None else records.per_record
        return {
            **aux.as_json(),
            "in_file": records is not None,
            "samples_per_record": per_record,
            "first_sample": first,
        }
