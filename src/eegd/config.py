"""The daemon's configuration: one TOML file, every key with a default, validated once at start.

``load_config`` reads ``eegd.toml`` (or no file), applies CLI overrides and returns an
immutable ``Config``. Each table is the settings object of the component it configures
(``[filter]`` is ``FilterSettings``, ``[server]`` is ``ServerSettings``, ``[supervisor]``
is ``RestartPolicy``), declared with its component; constraints are on the fields.

Reading goes in three steps. ``eegd.validation`` checks the TOML data against ``Config``'s
declared types and constraints (``msgspec.inspect.type_info``), so every refusal is a
``ConfigError`` in eegd's words naming the dotted key (``source.channels: 33 is out of
range (allowed: 1..32)``; ``ConfigError.key`` holds it, and an overridden key names the
flag too), and converts the known-good data into the settings objects, whose own checks
(high-pass below low-pass) name their table. Last, one step checks what spans components:
the source is built (its channels and rate, against a device's own facts), and the filter
is designed at the source's rate.

``[source]`` holds the keys every source shares; each source kind's own options are the
``[source.<kind>]`` table (``[source.synthetic]``), checked by that source's
``from_options``. The old top-level ``[synthetic]`` table is still read, with a warning.
Plugins get their options from ``[plugin.<name>]``, except the built-ins whose tables are
top-level (``PLUGIN_TABLES``: ``[filter]`` is the voltage filter's, ``[spectrum]`` the
brain waves', ``[recording]`` the recorder's).
"""

from __future__ import annotations

import dataclasses
import logging
import math
import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

import msgspec

from eegd.acquisition.loop import DEFAULT_STALL_TIMEOUT_S
from eegd.dsp.filters import FilterSettings, design_sos
from eegd.dsp.spectrum import SlidingSpectrum, SpectrumSettings
from eegd.errors import ConfigError, shortened
from eegd.net.kiosk import KioskSettings
from eegd.net.security.hosts import is_loopback
from eegd.net.security.tokens import AuthSettings
from eegd.net.settings import ServerSettings
from eegd.plugins.gpio_trigger import check_line_free
from eegd.plugins.recorder.settings import RecordingSettings
from eegd.sources.base import SharedSourceOptions, Source, SourceChoices
from eegd.sources.registry import available_kinds, load_source_class
from eegd.supervisor import RestartPolicy
from eegd.validation import convert

__all__ = [
    "MAX_CONFIG_BYTES",
    "PLUGIN_TABLES",
    "Config",
    "LogSection",
    "SourceSection",
    "load_config",
]

logger = logging.getLogger(__name__)

#: Plugins whose options are a top-level table rather than ``[plugin.<name>]``.
PLUGIN_TABLES: Mapping[str, str] = {
    "voltage_filter": "filter",
    "brain_waves": "spectrum",
    "recorder": "recording",
}


class SourceSection(msgspec.Struct, frozen=True, kw_only=True):
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


class LogSection(msgspec.Struct, frozen=True, kw_only=True):
    """``[log]``: verbosity and the periodic status line."""

    level: Literal["debug", "info", "warning", "error"] = "info"
    status_interval_s: Annotated[float, msgspec.Meta(ge=0.1, le=86_400)] = 5.0


class Config(msgspec.Struct, frozen=True, kw_only=True):
    """The whole configuration; every table and key has a default."""

    source: SourceSection = msgspec.field(default_factory=SourceSection)
    filter: FilterSettings = msgspec.field(default_factory=FilterSettings)
    """``[filter]``: the voltage filter's settings; 0 turns a stage off."""
    spectrum: SpectrumSettings = msgspec.field(default_factory=SpectrumSettings)
    """``[spectrum]``: the brain waves' settings."""
    recording: RecordingSettings = msgspec.field(default_factory=RecordingSettings)
    """``[recording]``: the recorder's settings."""
    server: ServerSettings = msgspec.field(default_factory=ServerSettings)
    """``[server]``: where the server listens and the limits of its clients."""
    auth: AuthSettings = msgspec.field(default_factory=AuthSettings)
    """``[auth]``: the tokens' hashes, sessions, query tokens."""
    supervisor: RestartPolicy = msgspec.field(default_factory=RestartPolicy)
    """``[supervisor]``: how crashed tasks are restarted."""
    log: LogSection = msgspec.field(default_factory=LogSection)
    kiosk: KioskSettings = msgspec.field(default_factory=KioskSettings)
    """``[kiosk]``: the kiosk page's marker buttons."""
    plugins: list[str] = msgspec.field(
        default_factory=lambda: ["voltage_filter", "brain_waves", "recorder"]
    )
    """Plugins to run, by name: entry points of the ``eegd.plugins`` group."""
    plugin: dict[str, dict[str, Any]] = msgspec.field(default_factory=dict)
    """Options of the other plugins: ``[plugin.NAME]`` tables, checked by each plugin."""

    def with_source(self, changes: Mapping[str, Any]) -> Config:
        """This configuration with ``changes`` merged into ``[source]``, checked as a file is.

        ``changes`` is a partial ``[source]`` table: its keys replace the running ones, a
        ``<kind>`` table is merged key by key into that kind's options, and null removes a
        key (back to its default, or to the device's own value). Every check ``load_config``
        makes runs and the source is built once; a ``ConfigError`` names the dotted key.
        """
        _refuse_directories(changes)
        table = self.source.as_written()
        for key, value in changes.items():
            current = table.get(key)
            if value is None:
                table.pop(key, None)
            elif isinstance(value, Mapping) and isinstance(current, dict | None):
                merged = {**(current or {}), **value}
                table[key] = {name: item for name, item in merged.items() if item is not None}
            else:
                table[key] = value
        data: dict[str, Any] = {"source": table}
        _reject_non_finite(data)
        _gather_source_tables(data)
        section = convert(data["source"], SourceSection, "source", hidden=_INTERNAL_SOURCE_KEYS)
        section = msgspec.structs.replace(section, file_directories=self.source.file_directories)
        config = msgspec.structs.replace(self, source=section)
        _check_across(config)
        return config

    def build_source(self) -> Source:
        """A fresh, unopened source of ``source.kind``, from ``[source]`` and its own table."""
        source = self.source
        source_class = load_source_class(source.kind)
        return source_class.from_options(source.shared(), source.options.get(source.kind, {}))

    def plugin_table(self, name: str) -> str:
        """The dotted name of plugin ``name``'s options table (``filter``, ``plugin.NAME``)."""
        return PLUGIN_TABLES.get(name, f"plugin.{name}")

    def plugin_options(self, name: str) -> dict[str, Any]:
        """The options plugin ``name`` is built from: its table's values."""
        table = PLUGIN_TABLES.get(name)
        if table is None:
            return dict(self.plugin.get(name, {}))
        return dataclasses.asdict(getattr(self, table))


#: ``SourceSection`` fields that the loader fills in, never written in a file.
_INTERNAL_SOURCE_KEYS = frozenset({"options", "explicit", "file_directories"})
_SOURCE_KEYS = tuple(
    field.name
    for field in msgspec.structs.fields(SourceSection)
    if field.name not in _INTERNAL_SOURCE_KEYS
)
#: The shared keys a device may report itself (``SharedSourceOptions.explicit``).
_DEVICE_FACTS = ("channels", "sample_rate", "channel_names")
#: How the acquisition rides out faults: written back by ``as_written`` when not default.
_RESILIENCE_KEYS = ("stall_timeout_s", "retry_forever")
_DEFAULT_SOURCE = SourceSection()
#: The table the synthetic source's options had before ``[source.synthetic]``.
_LEGACY_SYNTHETIC = "synthetic"


def load_config(
    path: Path | None = None, overrides: Mapping[str, tuple[str, Any]] | None = None
) -> Config:
    """Read and validate the configuration.

    ``path`` is a TOML file (None: defaults only). ``overrides`` maps dotted keys to
    ``(flag, value)`` pairs from the command line, applied over the file; errors about an
    overridden key name the flag too.
    """
    data = _read_toml(path) if path is not None else {}
    flags: dict[str, str] = {}
    for dotted, (flag, value) in (overrides or {}).items():
        *tables, key = dotted.split(".")
        node = data
        for table in tables:
            node = node.setdefault(table, {})
        node[key] = value
        flags[dotted] = flag
    try:
        _reject_non_finite(data)  # before the tables move, so the error names the key as written
        legacy = _read_legacy_synthetic(data)
        directories = _playback_directories(data, path, overrides or {})
        _gather_source_tables(data)
        if isinstance(data.setdefault("source", {}), dict):
            data["source"]["file_directories"] = directories
        config = convert(data, Config, "", hidden=_INTERNAL_SOURCE_KEYS)
        _check_across(config, legacy)
    except ConfigError as exc:
        named = flags.get(exc.key or "")
        raise (ConfigError(f"{named} ({exc})", key=exc.key) if named else exc) from None
    return config


#: The largest configuration file read: a real one is a few KiB; ``/dev/zero`` never ends.
MAX_CONFIG_BYTES = 1024 * 1024


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as file:
            data = file.read(MAX_CONFIG_BYTES + 1)
        if len(data) > MAX_CONFIG_BYTES:
            raise ConfigError(
                f"{path}: not a configuration file (larger than {MAX_CONFIG_BYTES // 1024} KiB)",
                key=None,
            )
        return tomllib.loads(data.decode("utf-8"))
    except ConfigError:
        raise
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found", key=None) from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read config file: {exc.strerror}", key=None) from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}", key=None) from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"{path}: not valid TOML: byte {exc.start} is not UTF-8 (TOML files are UTF-8)",
            key=None,
        ) from exc
    except RecursionError:
        raise ConfigError(f"{path}: not valid TOML: nested too deeply", key=None) from None
    except ValueError as exc:  # e.g. an integer past Python's 4300-digit conversion limit
        raise ConfigError(f"{path}: not valid TOML: {exc}", key=None) from exc


def _reject_non_finite(data: Mapping[str, Any]) -> None:
    """Refuse ``nan`` and ``inf`` anywhere: they slip through every range check.

    The walk keeps its own stack, so data nested as deep as tomllib can parse cannot
    exhaust Python's.
    """
    pending: list[tuple[str, Any]] = [(str(key), value) for key, value in data.items()]
    while pending:
        dotted, value = pending.pop()
        if isinstance(value, float) and not math.isfinite(value):
            raise ConfigError(
                f"{dotted}: {value} is not allowed (allowed: a finite number)", key=dotted
            )
        if isinstance(value, Mapping):
            pending.extend((f"{dotted}.{key}", item) for key, item in value.items())
        elif isinstance(value, list):
            pending.extend((f"{dotted}[{index}]", item) for index, item in enumerate(value))


def _read_legacy_synthetic(data: dict[str, Any]) -> frozenset[str]:
    """Move the old ``[synthetic]`` table into ``[source.synthetic]``, warning about it.

    A key set in both places keeps the new table's value. Returns the keys taken from the
    old table, so errors about them name the table the user wrote.
    """
    legacy = data.pop(_LEGACY_SYNTHETIC, None)
    if legacy is None:
        return frozenset()
    if not isinstance(legacy, dict):
        problem = f"expected a table, got {type(legacy).__name__}"
        raise ConfigError(f"{_LEGACY_SYNTHETIC}: {problem}", key=_LEGACY_SYNTHETIC)
    logger.warning("the [synthetic] table is deprecated; write its keys under [source.synthetic]")
    source = data.setdefault("source", {})
    if not isinstance(source, dict):
        return frozenset()  # the check of [source] names it
    table = source.setdefault("synthetic", {})
    if not isinstance(table, dict):
        return frozenset()
    taken = frozenset(legacy) - frozenset(table)
    source["synthetic"] = {**legacy, **table}
    return frozenset(str(key) for key in taken)


def _playback_directories(
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


def _refuse_directories(changes: Mapping[str, Any]) -> None:
    """Refuse a change of the playback directories at run time: they bound what a client may
    make the daemon open, so only the configuration file sets them."""
    table = changes.get("playback")
    if isinstance(table, Mapping) and "directories" in table:
        key = "source.playback.directories"
        raise ConfigError(f"{key}: set in the configuration file only, never by a request", key=key)


def _gather_source_tables(data: dict[str, Any]) -> None:
    """Move each ``[source.<kind>]`` table into ``source.options``; refuse unknown tables."""
    source = data.get("source")
    if not isinstance(source, dict):
        return
    tables: dict[str, Any] = {}
    for key, value in list(source.items()):
        internal = key in _INTERNAL_SOURCE_KEYS
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


# --- After reading: what spans fields or components -----------------------------------------


def _check_exposure(config: Config) -> None:
    """Refuse to listen beyond loopback with no operator token, unless told to."""
    host = config.server.host
    if is_loopback(host) or config.auth.operator_token_hashes or config.auth.insecure_no_auth:
        return
    raise ConfigError(
        f"server.host: listening on {host[:40]} with no operator token would let anyone on "
        "the network change the filter, the source and recordings; create a token with "
        "`eegd token new --role operator` and put the line it prints under [auth], "
        "or pass --insecure-no-auth",
        key="server.host",
    )


def _check_across(config: Config, legacy: frozenset[str] = frozenset()) -> None:
    """Build the source once and design the filter and the spectrum at its rate, so their
    checks run at start and at every source change.

    The source comes first, since the filter and the spectrum are then designed at its
    sample rate (and the spectrum for its channels): settings that cannot run there (a
    corner above Nyquist, an unstable design, a window too large for memory) fail the start,
    or the change, naming the key, rather than crash-looping the plugin's task. ``legacy``
    are the keys read from ``[synthetic]``: an error about one of them names that table.
    """
    _check_exposure(config)
    kinds = available_kinds()
    kind = config.source.kind
    if kind not in kinds:
        allowed = ", ".join(map(repr, kinds))
        problem = f"{kind[:40]!r} is not allowed (allowed: {allowed})"
        raise ConfigError(f"source.kind: {problem}", key="source.kind")
    try:
        source = config.build_source()  # a device's own rate and channels, or the configured
        rate, channels = source.sample_rate, len(source.channel_names)
    except ConfigError as exc:
        prefix = f"source.{_LEGACY_SYNTHETIC}."
        if exc.key and exc.key.startswith(prefix) and exc.key.removeprefix(prefix) in legacy:
            message = str(exc).removeprefix("source.")
            raise ConfigError(message, key=exc.key.removeprefix("source.")) from None
        raise
    if "gpio_trigger" in config.plugins:
        check_line_free(config.plugin_options("gpio_trigger"), source)
    try:
        design_sos(config.filter, rate)
    except ConfigError as exc:
        raise exc.within("filter") from None
    if "brain_waves" in config.plugins:
        try:
            SlidingSpectrum(rate, channels, config.spectrum)
        except ConfigError as exc:
            raise exc.within("spectrum") from None
