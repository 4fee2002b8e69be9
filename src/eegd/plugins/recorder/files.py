"""The files a recording writes, with blocking I/O: the recorder calls them from its writer
thread only, never on the event loop.

A data file is written so that a crash (``kill -9``, a power cut) leaves a file that
``recover`` makes valid again: whole data records are appended and ``fsync``-ed at least
once a second, and the EDF/BDF header says "-1 records" (unknown, as EDF allows) until
``finish`` writes the count. A CSV file is line by line; recovery cuts a partial last line.
The ``NAME.json`` sidecar is replaced atomically (written aside, fsync, rename).
"""

from __future__ import annotations

import abc
import dataclasses
import datetime as dt
import json
import os
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import IO, Any, Final

import numpy as np
import numpy.typing as npt

from eegd.plugins.recorder.edf import RECORD_COUNT_AT, Layout

__all__ = [
    "SYNC_INTERVAL_S",
    "CsvFile",
    "DataFile",
    "EdfFile",
    "Opener",
    "create_empty",
    "patch_status",
    "grow_annotations",
    "recover_data_file",
    "write_sidecar",
]

#: Longest time written data may wait for its ``fsync``.
SYNC_INTERVAL_S: Final = 1.0

#: Opens a new file for writing in binary mode, unbuffered.
Opener = Callable[[Path], IO[bytes]]


def _open_new(path: Path) -> IO[bytes]:
    return path.open("xb", buffering=0)


class DataFile(abc.ABC):
    """One part's data file, appended to packet by packet."""

    def __init__(self, path: Path, opener: Opener | None = None) -> None:
        self.path = path
        self._file = (opener or _open_new)(path)
        self._synced_at = time.monotonic()
        self.bytes_written = 0

    def _write(self, data: bytes) -> None:
        """Hand ``data`` to the kernel at once (the file is unbuffered: a ``kill -9`` loses
        nothing written), all of it even when the kernel takes part (a disk filling up)."""
        view = memoryview(data)
        while view:
            taken = self._file.write(view)
            if not taken:
                raise OSError(f"{self.path}: the file took no bytes")
            view = view[taken:]
        self.bytes_written += len(data)
        now = time.monotonic()
        if now - self._synced_at >= SYNC_INTERVAL_S:
            self.sync()

    def sync(self) -> None:
        """Push what was written to the disk."""
        self._file.flush()
        os.fsync(self._file.fileno())
        self._synced_at = time.monotonic()

    @abc.abstractmethod
    def finish(self) -> None:
        """Complete the file (its header), sync and close it."""

    def abandon(self) -> None:
        """Close the file as it is, after a failure; recovery may complete it later."""
        try:
            self._file.close()
        except OSError:
            pass


class EdfFile(DataFile):
    """An EDF+ or BDF+ file: the header at once, then one data record per call."""

    def __init__(
        self, path: Path, layout: Layout, start: dt.datetime, opener: Opener | None = None
    ) -> None:
        super().__init__(path, opener)
        self.layout = layout
        self.records = 0
        self._write(layout.header(start, records=-1))
        self.sync()
        _sync_directory(path.parent)

    def append(
        self,
        digital: npt.NDArray[np.int32],
        annotations: bytes,
        aux: npt.NDArray[np.int32] | None = None,
    ) -> None:
        """Append one data record."""
        self._write(self.layout.record(digital, annotations, aux))
        self.records += 1

    def rewrite(self, offset: int, data: bytes) -> None:
        """Overwrite bytes already written (the last record's annotations) in place."""
        self._file.seek(offset)
        self._file.write(data)
        self._file.seek(0, os.SEEK_END)

    def finish(self) -> None:
        self._file.flush()
        self._file.seek(RECORD_COUNT_AT)
        self._file.write(f"{self.records:<8d}".encode())
        self._file.seek(0, os.SEEK_END)
        self.sync()
        self._file.close()


class CsvFile(DataFile):
    """A CSV file: ``timestamp_us,frame_id,sample_index`` then one µV column per channel."""

    def __init__(
        self, path: Path, channel_names: tuple[str, ...], opener: Opener | None = None
    ) -> None:
        super().__init__(path, opener)
        columns = ["timestamp_us", "frame_id", "sample_index", *channel_names]
        self._write((",".join(columns) + "\n").encode())
        self.sync()
        _sync_directory(path.parent)

    def append(
        self,
        timestamps: npt.NDArray[np.uint64],
        frame_id: int,
        first_sample: int,
        microvolts: npt.NDArray[np.float64],
    ) -> None:
        """Append one line per sample."""
        lines = []
        for column in range(microvolts.shape[1]):
            values = ",".join(f"{value:.5f}" for value in microvolts[:, column].tolist())
            lines.append(f"{int(timestamps[column])},{frame_id},{first_sample + column},{values}\n")
        self._write("".join(lines).encode())

    def finish(self) -> None:
        self.sync()
        self._file.close()


def grow_annotations(path: Path, layout: Layout, start: dt.datetime, tals: list[bytes]) -> Layout:
    """Rewrite the finished EDF+/BDF+ file at ``path`` with room in its records for ``tals``
    too (annotations that did not fit as they came); return its new layout.

    Each record keeps its data and its annotations and takes the next waiting TALs as far
    as its new room goes, so every TAL lands in a record, whole. The new file is written
    aside and renamed over the old one: a crash meanwhile leaves the old file as it was.
    """
    records = (path.stat().st_size - layout.header_bytes) // layout.record_bytes
    if records <= 0:
        raise OSError(f"{path}: no data record to hold the annotations")
    total = sum(len(tal) for tal in tals)
    extra = max(max(len(tal) for tal in tals), -(-total // records))
    while True:
        grown = dataclasses.replace(layout, annotation_room=layout.annotation_bytes + extra)
        placed = _place(tals, records, grown.annotation_bytes - layout.annotation_bytes)
        if placed is not None:
            break
        extra *= 2
    data_bytes = layout.record_bytes - layout.annotation_bytes
    aside = path.with_name(path.name + ".tmp")
    with path.open("rb") as old, aside.open("wb") as new:  # a record at a time: hours of
        old.seek(layout.header_bytes)  # 16 kHz would not fit a Pi's memory
        new.write(grown.header(start, records))
        for number in range(records):
            record = old.read(layout.record_bytes)
            kept = record[data_bytes:].rstrip(b"\x00") + b"\x00"
            annotations = kept + b"".join(placed[number])
            new.write(record[:data_bytes] + annotations.ljust(grown.annotation_bytes, b"\x00"))
        new.flush()
        os.fsync(new.fileno())
    aside.replace(path)
    _sync_directory(path.parent)
    return grown


def _place(tals: list[bytes], records: int, room: int) -> list[list[bytes]] | None:
    """``tals`` in order into ``records`` records of ``room`` more bytes each, or None."""
    placed: list[list[bytes]] = [[] for _ in range(records)]
    number = used = 0
    for tal in tals:
        if used + len(tal) > room:
            number, used = number + 1, 0
            if number == records:
                return None
        placed[number].append(tal)
        used += len(tal)
    return placed


def create_empty(path: Path) -> None:
    """Create ``path`` empty (it must not exist), durably: a recording's data file from its
    start, before its first packet, so a crash at any moment leaves it listed."""
    with path.open("xb") as file:
        os.fsync(file.fileno())
    _sync_directory(path.parent)


def write_sidecar(path: Path, content: Mapping[str, Any]) -> None:
    """Replace the JSON sidecar at ``path`` atomically; on failure nothing is left aside."""
    aside = path.with_name(path.name + ".tmp")
    try:
        with aside.open("w", encoding="utf-8") as file:
            json.dump(content, file, indent=1, default=str)
            file.write("\n")
            file.flush()
            os.fsync(file.fileno())
        aside.replace(path)
    except OSError:
        aside.unlink(missing_ok=True)
        raise
    _sync_directory(path.parent)


def patch_status(path: Path, status: str) -> None:
    """Say ``status`` in the sidecar at ``path`` where it says ``"recording"``, in place.

    For a full disk, where no new sidecar can be written: the status is rewritten over its
    own bytes (padded with spaces, which JSON ignores), which takes no new space.
    """
    old = b'"status": "recording"'
    new = f'"status": {json.dumps(status)}'.encode()
    if len(new) > len(old):
        raise ValueError(f"status {status!r} is longer than 'recording'")
    with path.open("r+b") as file:
        data = file.read()
        at = data.find(old)
        if at < 0:
            return
        file.seek(at)
        file.write(new.ljust(len(old)))
        file.flush()
        os.fsync(file.fileno())


def recover_data_file(path: Path, file_format: str) -> int:
    """Make an unfinished data file valid; return the samples per channel it holds.

    EDF/BDF: the whole data records on disk are kept (a partial last one is cut) and the
    header's record count is written. CSV: a partial last line is cut.
    """
    with path.open("r+b") as file:
        if file_format == "csv":
            data = file.read()
            end = data.rfind(b"\n") + 1
            file.truncate(end)
            os.fsync(file.fileno())
            return max(data[:end].count(b"\n") - 1, 0)
        fixed = file.read(256)
        if len(fixed) < 256:  # created at the start, before its first packet: empty
            file.truncate(0)
            return 0
        header_bytes = int(fixed[184:192])
        signals = int(fixed[252:256])
        file.seek(256 + 216 * signals)
        per_record = [int(file.read(8)) for _ in range(signals)]
        width = 3 if fixed[:1] == b"\xff" else 2
        record_bytes = sum(per_record) * width
        size = file.seek(0, os.SEEK_END)
        records = max(size - header_bytes, 0) // record_bytes
        file.truncate(header_bytes + records * record_bytes)
        file.seek(RECORD_COUNT_AT)
        file.write(f"{records:<8d}".encode())
        file.flush()
        os.fsync(file.fileno())
        return records * per_record[0]


def _sync_directory(directory: Path) -> None:
    """Make a new file's directory entry durable too."""
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
