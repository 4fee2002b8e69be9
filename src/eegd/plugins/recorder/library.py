"""The recordings directory, with blocking I/O (run in the recorder's writer thread): which
recordings there are, reading a sidecar, and recovering what a crash left unfinished."""

from __future__ import annotations

import datetime as dt
import errno
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

from eegd.plugins.recorder.files import recover_data_file, write_sidecar

__all__ = [
    "CONTENT_TYPES",
    "SUFFIXES",
    "delete_recording",
    "exists",
    "list_recordings",
    "read_sidecar",
    "recover_all",
]

#: The file name suffix of each format.
SUFFIXES: Final = {"bdf": ".bdf", "edf": ".edf", "csv": ".csv"}
#: The content type a download of each format is served as.
CONTENT_TYPES: Final = {
    "bdf": "application/x-bdf",
    "edf": "application/x-edf",
    "csv": "text/csv; charset=utf-8",
}
#: Statuses a start finds unfinished: a crash (``recording``) or a write error (``failed``).
_UNFINISHED: Final = ("recording", "failed")


def exists(directory: Path, name: str) -> bool:
    """Whether a recording ``name`` (its sidecar or a data file) is in ``directory``."""
    return any((directory / (name + suffix)).exists() for suffix in (".json", *SUFFIXES.values()))


def read_sidecar(directory: Path, name: str) -> dict[str, Any] | None:
    """The sidecar of recording ``name``, None if there is none (or it is not JSON)."""
    return _read_json(directory / (name + ".json"))


def list_recordings(directory: Path) -> list[dict[str, Any]]:
    """Every recording part in ``directory``, oldest first: what ``GET /api/recordings`` lists.
    An error (never an empty list) if ``directory`` is not one."""
    if not directory.is_dir():
        raise NotADirectoryError(errno.ENOTDIR, "not a directory", str(directory))
    entries = []
    for path in sorted(directory.glob("*.json")):
        content = _read_json(path)
        if content is None or "name" not in content:
            continue
        data = directory / str(content.get("file", ""))
        entries.append(
            {
                "name": content["name"],
                "recording": content.get("recording", content["name"]),
                "part": content.get("part", 1),
                "start": content.get("start"),
                "duration_s": content.get("duration_s", 0.0),
                "size": data.stat().st_size if data.is_file() else 0,
                "format": content.get("format"),
                "status": content.get("status"),
                "path": str(data),
            }
        )
    entries.sort(key=lambda entry: (str(entry["start"]), entry["name"]))
    return entries


def delete_recording(directory: Path, name: str, sidecar: Mapping[str, Any]) -> None:
    """Delete recording part ``name``: the data file its ``sidecar`` names, then the sidecar."""
    (directory / str(sidecar.get("file", ""))).unlink(missing_ok=True)
    (directory / (name + ".json")).unlink(missing_ok=True)


def recover_all(directory: Path) -> list[tuple[str, float]]:
    """Complete every recording a crash left unfinished; (name, seconds) of each."""
    recovered = []
    for path in sorted(directory.glob("*.json")):
        content = _read_json(path)
        if content is None or content.get("status") not in _UNFINISHED:
            continue
        data = directory / str(content.get("file", ""))
        samples = 0
        if data.is_file():
            samples = recover_data_file(data, str(content.get("format", "bdf")))
        rate = float(content.get("sample_rate") or 1.0)
        ledger = dict(content.get("ledger", {}))
        ledger.update(samples_written=samples, samples_acquired_before_crash=None)
        content.update(
            status="recovered",
            samples=samples,
            duration_s=samples / rate,
            ledger=ledger,
            recovered_at=dt.datetime.now(dt.UTC).isoformat(),
        )
        write_sidecar(path, content)
        recovered.append((str(content.get("name", path.stem)), samples / rate))
    return recovered


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        content = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return content if isinstance(content, dict) else None
