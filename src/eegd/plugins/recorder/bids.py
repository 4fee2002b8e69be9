"""A recording part exported as a BIDS-EEG dataset, written by mne-bids.

``export_bids`` reads the part's EDF/BDF file with MNE (its annotations: markers, gaps,
padding), gives the channels named in the 10-20 system their standard positions, and has
mne-bids write ``sub-S[/ses-E]/eeg/sub-S[_ses-E]_task-T[_run-R]_eeg.bdf`` beside its
``_channels.tsv``, ``_events.tsv``, ``_electrodes.tsv`` and ``_eeg.json``, into which the
part's provenance (the sidecar, less the access tokens' hashes) goes under ``eegd``. It
blocks (files, MNE): callers run it in a worker thread. ``BidsRequest`` checks what a
client asks for; labels are letters and digits only, as BIDS requires.

Aux channels the file holds (the sidecar's ``aux``: an accelerometer, a battery) are
``MISC`` in ``_channels.tsv`` (MNE, and so mne-bids, has no accelerometer type), with their
units written in.

mne-bids takes EDF and BDF files as they are; a CSV recording it cannot take, so it is
refused, as are a part still being written (or left unfinished by a crash, until the
recorder recovers it at its next start) and an existing target unless ``overwrite``.
mne-bids (and MNE) come with the ``bids`` extra and are imported only when exporting.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import eegd
from eegd.errors import ConfigError, RequestRefused, shown
from eegd.plugins.recorder.library import read_sidecar
from eegd.plugins.recorder.settings import check_name

__all__ = ["INSTALL_HINT", "BidsRequest", "bids_entries", "export_bids"]

#: How to install what the export needs.
INSTALL_HINT: Final = "pip install 'eegd[bids]'"
_LABEL: Final = re.compile(r"[A-Za-z0-9]+")
_KEYS: Final = ("subject", "session", "task", "run", "overwrite")
#: Statuses of a part whose file is not finished: being written, or awaiting recovery.
_UNFINISHED: Final = ("recording", "failed")
_RECOVERED_NOTE: Final = (
    "recovered: the daemon stopped without finishing this file; at its next start eegd kept "
    "every whole data record on disk and wrote their count (at most the last second before "
    "the stop is missing)"
)


@dataclass(frozen=True, slots=True)
class BidsRequest:
    """The BIDS entities of an export and whether it may replace what is there."""

    subject: str = "01"
    session: str | None = None
    task: str = "rest"
    run: int | None = None
    overwrite: bool = False

    def __post_init__(self) -> None:
        for key in ("subject", "session", "task"):
            value = getattr(self, key)
            if value is not None and (
                not isinstance(value, str) or _LABEL.fullmatch(value) is None
            ):
                raise ConfigError(
                    f"{key}: {shown(value)} is not a BIDS label "
                    "(allowed: letters and digits only, as BIDS requires)"
                )
        run = self.run
        if run is not None and (isinstance(run, bool) or not isinstance(run, int) or run < 0):
            raise ConfigError(f"run: {shown(run)} is not a BIDS run (allowed: an integer >= 0)")
        if not isinstance(self.overwrite, bool):
            raise ConfigError(f"overwrite: {shown(self.overwrite)} is not true or false")

    @classmethod
    def from_body(cls, body: Mapping[str, Any]) -> BidsRequest:
        """The request a JSON body makes; ``ConfigError`` naming the key if it is bad."""
        unknown = sorted(str(key) for key in body if key not in _KEYS)
        if unknown:
            raise ConfigError(f"{unknown[0][:40]}: unknown key (allowed: {', '.join(_KEYS)})")
        return cls(**{key: body[key] for key in _KEYS if key in body})


def bids_entries(sidecar: Mapping[str, Any]) -> dict[str, Any]:
    """What ``_eeg.json`` gets from a part's sidecar: BIDS's own fields eegd knows, and
    the provenance under ``eegd`` (a recovered part says so there, in ``status``/``note``)."""
    provenance = {key: value for key, value in sidecar.items() if key != "config"}
    config = dict(sidecar.get("config") or {})
    config.pop("auth", None)  # the access tokens' hashes stay on the machine
    provenance["config"] = config
    if sidecar.get("status") == "recovered":
        provenance["note"] = _RECOVERED_NOTE
    kind = (sidecar.get("source") or {}).get("kind", "unknown")
    board = (config.get("source") or {}).get(kind, {}).get("board") if kind != "unknown" else None
    entries: dict[str, Any] = {
        "SoftwareVersions": f"eegd {sidecar.get('eegd_version', eegd.__version__)}",
        "Manufacturer": "n/a",  # not BioSemi, as mne-bids guesses from a .bdf
        "ManufacturersModelName": f"eegd {kind} source" + (f", board {board}" if board else ""),
        "RecordingType": "continuous",
        "SoftwareFilters": "n/a",  # the recorder writes raw_eeg, before the voltage filter
        "eegd": provenance,
    }
    return entries


def _line_frequency(sidecar: Mapping[str, Any]) -> float | None:
    """The powerline frequency the daemon's notch was set to, if any."""
    notch = (sidecar.get("filter") or {}).get("notch_hz")
    return float(notch) if isinstance(notch, int | float) and notch > 0 else None


def _finished_sidecar(directory: Path, name: str, recording: str | None) -> dict[str, Any]:
    """The sidecar of part ``name`` if its file can be exported, else ``RequestRefused``."""
    check_name(name)
    sidecar = read_sidecar(directory, name)
    if sidecar is None:
        raise RequestRefused(404, "not_found", f"no recording named {name}")
    status = sidecar.get("status")
    if name == recording or status in _UNFINISHED:
        why = "is being written" if name == recording or status == "recording" else "failed"
        raise RequestRefused(
            409,
            "recording",
            f"recording {name} {why}: export it once it is finished (a file that a crash "
            "left unfinished is recovered when eegd starts again)",
        )
    file_format = sidecar.get("format")
    if file_format not in ("bdf", "edf"):
        raise RequestRefused(
            409,
            "unsupported_format",
            f"recording {name} is {file_format}: mne-bids exports EEG from EDF or BDF files "
            "(or BrainVision, EEGLAB), not CSV; record as bdf ([recording] format) to export",
        )
    return sidecar


def export_bids(
    directory: Path,
    name: str,
    root: Path,
    request: BidsRequest,
    recording: str | None = None,
) -> dict[str, Any]:
    """Export recording part ``name`` of ``directory`` into the BIDS dataset at ``root``.

    ``recording`` is the part being written now, if any. Returns what was written (the
    data file, the ``_eeg.json``, the events). Raises ``RequestRefused`` with the reason and
    what to do when mne-bids is missing (501), the part cannot be exported (404, 409) or
    reading or writing fails (500).
    """
    try:
        import mne
        import mne_bids
    except ImportError as exc:
        message = f"BIDS export needs mne-bids, which is missing; install it with: {INSTALL_HINT}"
        raise RequestRefused(501, "not_available", message) from exc
    sidecar = _finished_sidecar(directory, name, recording)
    path = mne_bids.BIDSPath(
        subject=request.subject,
        session=request.session,
        task=request.task,
        run=request.run,
        datatype="eeg",
        root=root,
    )
    target = path.copy().update(suffix="eeg", extension=f".{sidecar['format']}")
    if target.fpath.exists():
        if not request.overwrite:
            raise RequestRefused(
                409,
                "exists",
                f"{target.fpath.relative_to(root)} exists already in {root}; "
                "ask to overwrite it to replace it",
            )
        _remove(target.fpath)  # else mne-bids loads the whole recording into memory first
    data = directory / str(sidecar.get("file", ""))
    reader = mne.io.read_raw_bdf if sidecar["format"] == "bdf" else mne.io.read_raw_edf
    try:
        raw = reader(data, verbose="error")
    except (OSError, ValueError, RuntimeError) as exc:
        raise RequestRefused(500, "export_failed", f"cannot read {data}: {exc}") from exc
    raw.set_annotations(_clean(raw.annotations))
    raw.info["line_freq"] = _line_frequency(sidecar)
    aux = _aux_units(sidecar, raw.ch_names)
    if aux:
        raw.set_channel_types(dict.fromkeys(aux, "misc"), verbose="error")
    _place_electrodes(mne, raw)
    try:
        written = mne_bids.write_raw_bids(
            raw, path, overwrite=request.overwrite, allow_preload=False, verbose="error"
        )
        sidecar_path = written.copy().update(suffix="eeg", extension=".json")
        mne_bids.update_sidecar_json(sidecar_path, bids_entries(sidecar), verbose="error")
        _write_aux_units(written.copy().update(suffix="channels", extension=".tsv").fpath, aux)
    except (OSError, ValueError, RuntimeError) as exc:
        message = f"mne-bids could not write {root}: {exc}"
        raise RequestRefused(500, "export_failed", message) from exc
    return {
        "name": name,
        "root": str(root),
        "file": str(target.fpath),
        "eeg_json": str(sidecar_path.fpath),
        "events": len(raw.annotations),
        "status": sidecar.get("status"),
    }


def _aux_units(sidecar: Mapping[str, Any], names: list[str]) -> dict[str, str]:
    """The aux channels the file holds (the sidecar's ``aux``), each with its unit."""
    aux = sidecar.get("aux") or {}
    if not aux.get("in_file"):
        return {}
    units = dict(zip(aux.get("channels", ()), aux.get("units", ()), strict=False))
    return {name: unit or "n/a" for name, unit in units.items() if name in names}


def _write_aux_units(path: Path, units: Mapping[str, str]) -> None:
    """The aux channels' units in ``_channels.tsv`` (mne-bids knows none for MISC)."""
    if not units:
        return
    lines = path.read_text(encoding="utf-8").splitlines()
    header = lines[0].split("\t")
    name, unit = header.index("name"), header.index("units")
    for number, line in enumerate(lines[1:], start=1):
        cells = line.split("\t")
        if cells[name] in units:
            cells[unit] = units[cells[name]]
            lines[number] = "\t".join(cells)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _remove(path: Path) -> None:
    try:
        path.unlink()
    except OSError as exc:
        message = f"cannot replace {path}: {exc.strerror or exc}"
        raise RequestRefused(500, "export_failed", message) from exc


def _clean(annotations: Any) -> Any:
    """The annotations with descriptions a TSV cell can hold (no tabs or line breaks)."""
    cleaned = annotations.copy()
    cleaned.description = [
        re.sub(r"[\t\r\n]", " ", text).strip() or "n/a" for text in cleaned.description
    ]
    return cleaned


def _ten_twenty_montage(mne: Any) -> Any:
    """MNE's template of the 10-20 system: ``colin27_1020``, called ``standard_1020`` by
    the MNE releases before its rename."""
    names = mne.channels.get_builtin_montages()
    return mne.channels.make_standard_montage(
        "colin27_1020" if "colin27_1020" in names else "standard_1020"
    )


def _place_electrodes(mne: Any, raw: Any) -> None:
    """The standard 10-20 positions of the channels named in that system (case aside)."""
    montage = _ten_twenty_montage(mne)
    known = {label.lower() for label in montage.ch_names}
    if any(channel.lower() in known for channel in raw.ch_names):
        raw.set_montage(montage, match_case=False, on_missing="ignore", verbose="error")
