"""The aux samples of each data record: a source's aux packets, placed by their own sample
indices, cut into the runs of ``per_record`` samples the records hold; and the rule that
sets ``per_record``.

The rule: a data record is one packet (``batch_size`` samples, ``batch_size / rate``
seconds), and holds ``batch_size × aux rate / rate`` aux samples, which must be whole; a
recording whose records cannot is refused (409) saying so. At the EEG rate (BrainFlow's
boards, the ADS1299's status word) every record holds ``batch_size`` of each.

Pure bookkeeping, no I/O: a part feeds it the aux packets read with each EEG packet and
takes one record's worth as it writes that packet's record. Aux samples are placed by index,
so a lost aux packet is a run of missing samples (padded with zeros, counted) rather than a
shift of everything after it. What waits is bounded: ``_KEPT_RECORDS`` records' worth; aux
samples further ahead of the records than that are dropped as they come (and counted), so
those already placed keep their place.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from eegd.aux_stream import AuxStream
from eegd.errors import RequestRefused
from eegd.events import AuxPacket
from eegd.plugins.recorder.edf import Layout, outward_range

__all__ = ["AuxRecords", "aux_first_sample", "aux_layout", "aux_per_record", "check_aux"]

#: Records' worth of aux samples kept waiting for their record, at most.
_KEPT_RECORDS: Final = 4


def aux_first_sample(sample: int, sample_rate: float, aux_rate: float) -> int:
    """The aux stream's index of the time of EEG sample ``sample`` (the acquisition's rule)."""
    return round(sample * aux_rate / sample_rate)


def aux_per_record(samples: int, sample_rate: float, aux: AuxStream) -> int:
    """Aux samples in a data record of ``samples`` at ``sample_rate``: its duration times the
    aux rate, which must be whole (else ``RequestRefused``, 409, saying what works)."""
    record_s = Fraction(samples) / Fraction(sample_rate)
    per_record = record_s * Fraction(aux.sample_rate)
    if per_record.denominator == 1 and per_record >= 1:
        return int(per_record)
    raise RequestRefused(
        409,
        "bad_stream",
        f"a data record of {samples} samples at {sample_rate:g} Hz lasts {float(record_s):g} s, "
        f"which holds {float(per_record):g} aux samples at {aux.sample_rate:g} Hz, not a "
        "whole number; choose a batch_size that makes batch_size × aux rate / rate whole, "
        "or record as csv (EEG only)",
    )


def check_aux(
    aux: AuxStream | None, batch_size: int | None, sample_rate: float | None, file_format: str
) -> None:
    """``RequestRefused`` (409) if a session's packets make records that cannot hold whole
    aux samples (``aux_per_record``); a CSV file holds the EEG alone."""
    if file_format != "csv" and aux is not None and batch_size and sample_rate:
        aux_per_record(batch_size, sample_rate, aux)


def aux_layout(aux: AuxStream, per_record: int) -> dict[str, Any]:
    """The aux signals' fields of an EDF/BDF ``Layout``: labels, units, header ranges."""
    try:
        physical = tuple(outward_range(low, high) for low, high in aux.physical_range)
    except ValueError as exc:
        message = f"the aux stream's range cannot be written: {exc}"
        raise RequestRefused(409, "bad_stream", message) from exc
    return {
        "aux_labels": aux.channels,
        "aux_units": aux.units,
        "aux_physical": physical,
        "aux_samples_per_record": per_record,
    }


@dataclass
class AuxRecords:
    """Aux samples by index from ``next_sample`` on, ``per_record`` per record taken.

    ``padded`` counts the samples a record had to fill with zeros (none came for them),
    ``dropped`` those that came too late for their record or overflowed the wait.
    """

    channels: int
    per_record: int
    next_sample: int
    padded: int = 0
    dropped: int = 0
    written: int = 0
    clipped: int = 0
    """Samples outside their declared range (the part counts them as it stores them)."""

    def __post_init__(self) -> None:
        self._values = np.zeros((self.channels, 0))
        self._have = np.zeros(0, dtype=bool)

    def add(self, packet: AuxPacket) -> None:
        """Place ``packet``'s samples at their indices (those before ``next_sample`` are late)."""
        values = np.asarray(packet.values, dtype=np.float64)
        offset = packet.first_sample - self.next_sample
        if offset < 0:
            late = min(-offset, values.shape[1])
            self.dropped += late
            values, offset = values[:, late:], 0
        room = _KEPT_RECORDS * self.per_record
        end = min(offset + values.shape[1], room)
        if end < offset + values.shape[1]:
            self.dropped += offset + values.shape[1] - max(end, offset)
        if end <= offset:
            return
        if end > self._values.shape[1]:
            grow = end - self._values.shape[1]
            self._values = np.pad(self._values, ((0, 0), (0, grow)))
            self._have = np.pad(self._have, (0, grow))
        self._values[:, offset:end] = values[:, : end - offset]
        self._have[offset:end] = True

    def take(self) -> tuple[npt.NDArray[np.float64], int]:
        """The next record's aux values (channels × ``per_record``), zeros where none came,
        and how many samples of it are such padding."""
        width = self.per_record
        values = np.zeros((self.channels, width))
        have = min(width, self._values.shape[1])
        values[:, :have] = np.where(self._have[:have], self._values[:, :have], 0.0)
        missing = width - int(np.count_nonzero(self._have[:have]))
        self.padded += missing
        self.written += width
        self._shift(width)
        return values, missing

    def record(
        self, packets: Sequence[AuxPacket], layout: Layout
    ) -> tuple[npt.NDArray[np.int32], int]:
        """The next record's aux signals as ``layout`` stores them, after placing
        ``packets``; and how many of its samples are padding."""
        for packet in packets:
            self.add(packet)
        values, missing = self.take()
        digital, clipped = layout.quantise(values, aux=True)
        self.clipped += clipped
        return digital, missing

    def ledger(self) -> dict[str, int]:
        """The aux samples written, padded (none came), dropped (late) and clipped."""
        return {
            "aux_samples_written": self.written,
            "aux_samples_padded": self.padded,
            "aux_samples_dropped": self.dropped,
            "aux_samples_clipped": self.clipped,
        }

    def _shift(self, count: int) -> None:
        self._values = self._values[:, count:]
        self._have = self._have[count:]
        self.next_sample += count
