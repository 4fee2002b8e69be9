"""The ``[source]`` table: the keys every source shares, and each kind's own table under it.

``[source]`` holds ``kind``, ``channels``, ``sample_rate``, ``channel_names``, ``batch_size``
and how the acquisition rides out faults; each source kind's own options are the
``[source.<kind>]`` table (``[source.synthetic]``), gathered here into
``SourceSection.options`` and checked by that source's ``from_options``. The old top-level
``[synthetic]`` table is moved under ``[source.synthetic]`` with a warning, and
``[source.playback] directories`` (which only the file sets) become absolute paths.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any

import msgspec

from eegd.acquisition.loop import DEFAULT_STALL_TIMEOUT_S
from eegd.errors import ConfigError, shortened
from eegd.plugins.recorder.settings import RecordingSettings
from eegd.sources.base import SharedSourceOptions, SourceChoices
from eegd.sources.registry import available_kinds, load_source_class
from eegd.validation import Settings

__all__ = [
    "INTERNAL_SOURCE_KEYS",
    "SourceSection",
    "gather_source_tables",
    "playback_directories",
    "read_legacy_synthetic",
    "refuse_directories",
]

logger = logging.getLogger(__name__)


class SourceSection(Settings, frozen=True):
    """``[source]``: which device to read and the stream's shape.

    Channels and rate are checked by the source itself (``from_options``), since a device
    may report its own.
    """

    kind: str = "synthetic"
    """A source kind of the ``eegd.sources`` registry (``eegd sources`` lists them)."""
    channels: int = 8
    sample_rate: int = 250
    channel_names: list[str] | None = None
    batch_size: Annotated[int, msgspec.Meta(ge=1, le=8192)] = 32
    """Samples per packet on the bus; high rates want bigger batches (512 at 16 kHz)."""
    stall_timeout_s: Annotated[float, msgspec.Meta(ge=0.1, le=86_400)] = DEFAULT_STALL_TIMEOUT_S
    """Seconds a read may deliver nothing (beyond its block's length) before the source is
    closed and reopened; the outage is a gap in the session's sample indices."""
    retry_forever: bool = True
    """Reopen a failed source forever, at most ``[supervisor] max_backoff`` apart (a sensor
    unplugged overnight comes back in the morning); false: the ``[supervisor]`` policy's
    ``max_retries`` applies, and the daemon exits 1 after it."""
    options: dict[str, dict[str, Any]] = msgspec.field(default_factory=dict)
    """The ``[source.<kind>]`` tables by kind, each checked by its source's ``from_options``."""
    explicit: frozenset[str] = frozenset()
    """The shared keys the file or a flag set (``load_config`` fills it in): a device's own
    channels or rate replace only the others, and an explicit value is checked against it."""
    file_directories: tuple[str, ...] = ()
    """Where played files may come from: ``[source.playback] directories`` as absolute
    paths (``load_config`` fills it in; ``PUT /api/source`` cannot change it)."""

    def as_written(self) -> dict[str, Any]:
        """The table as a file would hold it: ``kind``, ``batch_size``, the shared keys that
        were set, and each ``[source.<kind>]`` table under its kind."""
        table: dict[str, Any] = {"kind": self.kind, "batch_size": self.batch_size}
        for key in _DEVICE_FACTS:
            if key in self.explicit:
                table[key] = getattr(self, key)
        for key in _RESILIENCE_KEYS:
            if getattr(self, key) != getattr(_DEFAULT_SOURCE, key):
                table[key] = getattr(self, key)
        table.update({kind: dict(options) for kind, options in self.options.items()})
        return table

    def choices(self) -> SourceChoices:
        """The rates and channel counts ``kind`` may be set to (None where its device says)."""
        return load_source_class(self.kind).choices

    def shared(self) -> SharedSourceOptions:
        """The keys every source shares, as a source's ``from_options`` takes them."""
        return SharedSourceOptions(
            kind=self.kind,
            channels=self.channels,
            sample_rate=self.sample_rate,
            channel_names=tuple(self.channel_names) if self.channel_names else None,
            batch_size=self.batch_size,
            explicit=self.explicit,
            file_directories=tuple(Path(directory) for directory in self.file_directories),
        )


#: ``SourceSection`` fields that the loader fills in, never written in a file.
INTERNAL_SOURCE_KEYS = frozenset({"options", "explicit", "file_directories"})
_SOURCE_KEYS = tuple(
    field.name
    for field in msgspec.structs.fields(SourceSection)
    if field.name not in INTERNAL_SOURCE_KEYS
)
#: The shared keys a device may report itself (``SharedSourceOptions.explicit``).
_DEVICE_FACTS = ("channels", "sample_rate", "channel_names")
#: How the acquisition rides out faults: written back by ``as_written`` when not default.
_RESILIENCE_KEYS = ("stall_timeout_s", "retry_forever")
_DEFAULT_SOURCE = SourceSection()
#: The table the synthetic source's options had before ``[source.synthetic]``.
_LEGACY_SYNTHETIC = "synthetic"


def read_legacy_synthetic(data: dict[str, Any]) -> Mapping[str, str]:
    """Move the old ``[synthetic]`` table into ``[source.synthetic]``, warning about it.

    A key set in both places keeps the new table's value. Returns where each key taken from
    the old table now is and where it was written (``source.synthetic.seed`` ->
    ``synthetic.seed``), so errors about them name the table the user wrote.
    """
    legacy = data.pop(_LEGACY_SYNTHETIC, None)
    if legacy is None:
        return {}
    if not isinstance(legacy, dict):
        problem = f"expected a table, got {type(legacy).__name__}"
        raise ConfigError(f"{_LEGACY_SYNTHETIC}: {problem}", key=_LEGACY_SYNTHETIC)
    logger.warning("the [synthetic] table is deprecated; write its keys under [source.synthetic]")
    source = data.setdefault("source", {})
    if not isinstance(source, dict):
        return {}  # the check of [source] names it
    table = source.setdefault("synthetic", {})
    if not isinstance(table, dict):
        return {}
    taken = [str(key) for key in legacy if key not in table]
    source["synthetic"] = {**legacy, **table}
    return {f"source.synthetic.{key}": f"{_LEGACY_SYNTHETIC}.{key}" for key in taken}


def playback_directories(
    data: dict[str, Any], path: Path | None, overrides: Mapping[str, tuple[str, Any]]
) -> list[str]:
    """Take ``[source.playback] directories`` out of ``data``, as absolute paths.

    The default is the recording directory and a ``data`` directory beside the configuration
    file (in the working directory without one). A file named on the command line (or by
    another override) adds its own directory: whoever starts the daemon chose it.
    """
    key = "source.playback.directories"
    source = data.get("source")
    table = source.get("playback") if isinstance(source, dict) else None
    given = table.pop("directories", None) if isinstance(table, dict) else None
    if given is None:
        recording = data.get("recording")
        directory = recording.get("directory") if isinstance(recording, dict) else None
        if not isinstance(directory, str):
            directory = RecordingSettings().directory
        beside = path.parent if path is not None else Path()
        given = [directory, str(beside / "data")]
    elif not isinstance(given, list) or not all(
        isinstance(item, str) and item and "\0" not in item for item in given
    ):
        raise ConfigError(
            f"{key}: {shortened(repr(given))} is not allowed (allowed: a list of directories)",
            key=key,
        )
    named = overrides.get("source.playback.path")
    if named is not None and isinstance(named[1], str) and named[1] and "\0" not in named[1]:
        given = [*given, str(Path(named[1]).expanduser().parent)]
    return [os.path.abspath(Path(item).expanduser()) for item in given]


def refuse_directories(changes: Mapping[str, Any]) -> None:
    """Refuse a change of the playback directories at run time: they bound what a client may
    make the daemon open, so only the configuration file sets them."""
    table = changes.get("playback")
    if isinstance(table, Mapping) and "directories" in table:
        key = "source.playback.directories"
        raise ConfigError(f"{key}: set in the configuration file only, never by a request", key=key)


def gather_source_tables(data: dict[str, Any]) -> None:
    """Move each ``[source.<kind>]`` table into ``source.options``; refuse unknown tables."""
    source = data.get("source")
    if not isinstance(source, dict):
        return
    tables: dict[str, Any] = {}
    for key, value in list(source.items()):
        internal = key in INTERNAL_SOURCE_KEYS
        if internal or (isinstance(value, Mapping) and key not in _SOURCE_KEYS):
            kinds = available_kinds()
            if internal or key not in kinds:
                allowed = ", ".join([*_SOURCE_KEYS, *(f"[source.{kind}]" for kind in kinds)])
                dotted = f"source.{str(key)[:40]}"
                raise ConfigError(f"{dotted}: unknown key (allowed: {allowed})", key=dotted)
            tables[key] = source.pop(key)
    if tables:
        source["options"] = tables
    source["explicit"] = [key for key in _DEVICE_FACTS if key in source]
