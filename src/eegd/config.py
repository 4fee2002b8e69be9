"""The daemon's configuration: one TOML file, every key with a default, validated once at start.

``load_config`` reads ``eegd.toml`` (or no file), applies CLI overrides and returns an
immutable ``Config``. Each table is the settings object of the component it configures
(``[filter]`` is ``FilterSettings``, ``[server]`` is ``ServerSettings``, ``[supervisor]``
is ``RestartPolicy``), declared with its component; constraints are on the fields.

Reading goes in two steps. ``eegd.validation.convert`` turns the TOML data into
``Config`` with msgspec, which checks every declared type and constraint, and translates a
refusal into a ``ConfigError`` in eegd's words naming the dotted key (``source.channels: 33
is out of range (allowed: 1..32)``; ``ConfigError.key`` holds it, and an overridden key names
the flag too); a table's own rule across its fields (high-pass below low-pass) names its
table. Then one step checks what spans components: the source is built (its channels and
rate, against a device's own facts), and the filter is designed at the source's rate.

``[source]`` is ``eegd.source_table``'s: the keys every source shares, with each source
kind's own ``[source.<kind>]`` table (``[source.synthetic]``) checked by that source's
``from_options``; the old top-level ``[synthetic]`` table is still read, with a warning.
Plugins get their options from ``[plugin.<name>]``, except the built-ins whose tables are
top-level (``PLUGIN_TABLES``: ``[filter]`` is the voltage filter's, ``[spectrum]`` the
brain waves', ``[recording]`` the recorder's).
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

import msgspec

from eegd.dsp.filters import FilterSettings, design_sos
from eegd.dsp.spectrum import SlidingSpectrum, SpectrumSettings
from eegd.errors import ConfigError
from eegd.net.kiosk import KioskSettings
from eegd.net.security.hosts import is_loopback
from eegd.net.security.tokens import AuthSettings
from eegd.net.settings import ServerSettings
from eegd.plugins.gpio_trigger import check_line_free
from eegd.plugins.recorder.settings import RecordingSettings
from eegd.restart import RestartPolicy
from eegd.source_table import (
    INTERNAL_SOURCE_KEYS,
    SourceSection,
    gather_source_tables,
    playback_directories,
    read_legacy_synthetic,
    refuse_directories,
)
from eegd.sources.base import Source
from eegd.sources.registry import available_kinds, load_source_class
from eegd.validation import Settings, convert, refuse_non_finite

__all__ = [
    "MAX_CONFIG_BYTES",
    "PLUGIN_TABLES",
    "Config",
    "LogSection",
    "load_config",
]


#: Plugins whose options are a top-level table rather than ``[plugin.<name>]``.
PLUGIN_TABLES: Mapping[str, str] = {
    "voltage_filter": "filter",
    "brain_waves": "spectrum",
    "recorder": "recording",
}


class LogSection(Settings, frozen=True):
    """``[log]``: verbosity and the periodic status line."""

    level: Literal["debug", "info", "warning", "error"] = "info"
    status_interval_s: Annotated[float, msgspec.Meta(ge=0.1, le=86_400)] = 5.0


class Config(Settings, frozen=True):
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
        default_factory=lambda: ["voltage_filter", "brain_waves", "recorder", "signal_quality"]
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
        refuse_directories(changes)
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
        gather_source_tables(data)
        section = convert(data["source"], SourceSection, "source", hidden=INTERNAL_SOURCE_KEYS)
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
        return msgspec.structs.asdict(getattr(self, table))


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
        refuse_non_finite(data)  # before the tables move, so the error names the key as written
        legacy = read_legacy_synthetic(data)
        directories = playback_directories(data, path, overrides or {})
        gather_source_tables(data)
        if isinstance(data.setdefault("source", {}), dict):
            data["source"]["file_directories"] = directories
        config = convert(data, Config, hidden=INTERNAL_SOURCE_KEYS)
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


def _check_across(config: Config, legacy: Mapping[str, str] | None = None) -> None:
    """Build the source once and design the filter and the spectrum at its rate, so their
    checks run at start and at every source change.

    The source comes first, since the filter and the spectrum are then designed at its
    sample rate (and the spectrum for its channels): settings that cannot run there (a
    corner above Nyquist, an unstable design, a window too large for memory) fail the start,
    or the change, naming the key, rather than crash-looping the plugin's task. ``legacy``
    maps the keys read from ``[synthetic]`` to where they were written: an error about one
    of them names that table.
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
        written = (legacy or {}).get(exc.key or "")
        raise (exc.moved(written) if written else exc) from None
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
