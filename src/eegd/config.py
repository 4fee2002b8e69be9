"""The daemon's configuration: one TOML file, every key with a default, validated once at start.

``load_config`` reads ``eegd.toml`` (or no file), applies CLI overrides and returns an
immutable ``Config``. Any problem raises ``ConfigError`` whose one-line message names the
key (``source.channels: 33 is out of range (allowed: 1..32)``) or, for an override, the flag.

``[source]`` holds the keys every source shares; each source kind's own options are the
``[source.<kind>]`` table (``[source.synthetic]``), checked by that source's
``from_options``. The old top-level ``[synthetic]`` table is still read, with a warning.
Plugins get their options from ``[plugin.<name>]``, except the built-ins whose tables are
top-level (``PLUGIN_TABLES``: ``[filter]`` is the voltage filter's, ``[spectrum]`` the
brain waves').
"""

from __future__ import annotations

import dataclasses
import logging
import math
import re
import sys
import tomllib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Literal, get_args

import msgspec

from eegd.dsp.filters import FilterSettings, design_sos
from eegd.dsp.spectrum import SpectrumSettings
from eegd.errors import ConfigError
from eegd.sources.base import SharedSourceOptions, Source
from eegd.sources.registry import available_kinds, load_source_class
from eegd.supervisor import RestartPolicy

__all__ = [
    "PLUGIN_TABLES",
    "Config",
    "FilterSection",
    "LogSection",
    "ServerSection",
    "SourceSection",
    "SpectrumSection",
    "load_config",
]

logger = logging.getLogger(__name__)

#: Plugins whose options are a top-level table rather than ``[plugin.<name>]``.
PLUGIN_TABLES: Mapping[str, str] = {"voltage_filter": "filter", "brain_waves": "spectrum"}


class _Section(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Base of every table: immutable, keyword-only, unknown keys rejected."""


class SourceSection(_Section, frozen=True):
    """``[source]``: which device to read and the stream's shape."""

    kind: str = "synthetic"
    """A source kind of the ``eegd.sources`` registry (``eegd sources`` lists them)."""
    channels: int = 8
    sample_rate: int = 250
    channel_names: list[str] | None = None
    batch_size: int = 32
    """Samples per packet on the bus; high rates want bigger batches (512 at 16 kHz)."""
    options: dict[str, dict[str, Any]] = msgspec.field(default_factory=dict)
    """The ``[source.<kind>]`` tables by kind, each checked by its source's ``from_options``."""
    explicit: frozenset[str] = frozenset()
    """The shared keys the file or a flag set (``load_config`` fills it in): a device's own
    channels or rate replace only the others, and an explicit value is checked against it."""

    def __post_init__(self) -> None:
        if not 1 <= self.batch_size <= 8192:
            raise ValueError(f"batch_size: {self.batch_size} is out of range (allowed: 1..8192)")

    def shared(self) -> SharedSourceOptions:
        """The keys every source shares, as a source's ``from_options`` takes them."""
        return SharedSourceOptions(
            kind=self.kind,
            channels=self.channels,
            sample_rate=self.sample_rate,
            channel_names=tuple(self.channel_names) if self.channel_names else None,
            batch_size=self.batch_size,
            explicit=self.explicit,
        )


class FilterSection(_Section, frozen=True):
    """``[filter]``: the voltage filter; 0 turns a stage off."""

    highpass_hz: float = 0.5
    lowpass_hz: float = 45.0
    notch_hz: int = 50
    order: int = 4
    notch_q: float = 30.0
    """Quality factor of the notch: its -3 dB width is ``notch_hz / notch_q``."""

    def settings(self) -> FilterSettings:
        """The DSP settings these values describe."""
        return FilterSettings(
            highpass_hz=self.highpass_hz or None,
            lowpass_hz=self.lowpass_hz or None,
            notch_hz=float(self.notch_hz) if self.notch_hz else None,
            order=self.order,
            notch_q=self.notch_q,
        )

    def options(self) -> dict[str, Any]:
        """The voltage filter plugin's options these values are (None for a stage that is off)."""
        return dataclasses.asdict(self.settings())


class SpectrumSection(_Section, frozen=True):
    """``[spectrum]``: the brain-waves spectrum."""

    window_s: float = 2.0
    hop_s: float = 0.25
    max_freq_hz: float = 100.0
    detrend: Literal["constant", "linear", "none"] = "constant"

    def settings(self) -> SpectrumSettings:
        """The DSP settings these values describe."""
        return SpectrumSettings(
            window_s=self.window_s,
            hop_s=self.hop_s,
            max_freq_hz=self.max_freq_hz,
            detrend=None if self.detrend == "none" else self.detrend,
        )

    def options(self) -> dict[str, Any]:
        """The brain-waves plugin's options these values are."""
        return msgspec.structs.asdict(self)


class ServerSection(_Section, frozen=True):
    """``[server]``: where the HTTP/WebSocket server listens."""

    host: str = "127.0.0.1"
    port: int = 8080
    allowed_origins: list[str] = msgspec.field(default_factory=list)
    """Web origins besides eegd's own that may open WebSockets, e.g. "http://lab-pc:3000"."""
    heartbeat_s: float = 10.0
    max_clients: int = 128
    max_topics_per_client: int = 4
    max_message_bytes: int = 65536
    """Inbound WebSocket messages larger than this get ``too_large``; 4 × larger close (1009)."""
    max_messages_per_s: float = 20.0
    """Control messages a client may send per second (bursts of 50); a flood is closed."""
    client_queue_s: float = 2.0
    """Seconds of a client's topics its queue holds before dropping the oldest frames."""
    stall_timeout_s: float = 10.0
    """A client whose socket takes nothing for this long is closed (1008)."""
    header_timeout_s: float = 5.0
    """A connection that sends no complete request for this long is closed."""
    max_pending_connections: int = 64
    """Connections waiting for their request at once; one more closes the oldest."""

    def __post_init__(self) -> None:
        if not 0 <= self.port <= 65535:
            raise ValueError(f"port: {self.port} is out of range (allowed: 0..65535, 0 = any)")
        for key in (
            "heartbeat_s",
            "client_queue_s",
            "stall_timeout_s",
            "header_timeout_s",
            "max_messages_per_s",
        ):
            if getattr(self, key) <= 0:
                raise ValueError(f"{key}: {getattr(self, key)} must be positive")
        for key in (
            "max_clients",
            "max_topics_per_client",
            "max_message_bytes",
            "max_pending_connections",
        ):
            if getattr(self, key) < 1:
                raise ValueError(f"{key}: {getattr(self, key)} must be at least 1")


class LogSection(_Section, frozen=True):
    """``[log]``: verbosity and the periodic status line."""

    level: Literal["debug", "info", "warning", "error"] = "info"
    status_interval_s: float = 5.0

    def __post_init__(self) -> None:
        if self.status_interval_s <= 0:
            raise ValueError(f"status_interval_s: {self.status_interval_s} must be positive")


class Config(_Section, frozen=True):
    """The whole configuration; every table and key has a default."""

    source: SourceSection = msgspec.field(default_factory=SourceSection)
    filter: FilterSection = msgspec.field(default_factory=FilterSection)
    spectrum: SpectrumSection = msgspec.field(default_factory=SpectrumSection)
    server: ServerSection = msgspec.field(default_factory=ServerSection)
    supervisor: RestartPolicy = msgspec.field(default_factory=RestartPolicy)
    """``[supervisor]``: how crashed tasks are restarted (checked by ``RestartPolicy``)."""
    log: LogSection = msgspec.field(default_factory=LogSection)
    plugins: list[str] = msgspec.field(default_factory=lambda: ["voltage_filter", "brain_waves"])
    """Plugins to run, by name: entry points of the ``eegd.plugins`` group."""
    plugin: dict[str, dict[str, Any]] = msgspec.field(default_factory=dict)
    """Options of the other plugins: ``[plugin.NAME]`` tables, checked by each plugin."""

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
        options: dict[str, Any] = getattr(self, table).options()
        return options


#: ``SourceSection`` fields that the loader fills in, never written in a file.
_INTERNAL_SOURCE_KEYS = frozenset({"options", "explicit"})
_SOURCE_KEYS = frozenset(
    field.name
    for field in msgspec.structs.fields(SourceSection)
    if field.name not in _INTERNAL_SOURCE_KEYS
)
#: The shared keys a device may report itself (``SharedSourceOptions.explicit``).
_DEVICE_FACTS = ("channels", "sample_rate", "channel_names")
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
        try:  # before the tables move, so the error names the key as written
            _reject_non_finite(data)
            non_finite = None
        except ConfigError as exc:
            non_finite = exc
        legacy = _read_legacy_synthetic(data)
        _gather_source_tables(data)
        _reject_unknown_keys(data, Config, prefix="")
        if non_finite is not None:
            raise non_finite
        config = msgspec.convert(data, Config, strict=True)
        _check_domain(config, legacy)
    except ConfigError as exc:
        raise _name_flag(exc, flags) from None
    except msgspec.ValidationError as exc:
        raise _name_flag(_translate(exc, data), flags) from None
    return config


def _read_legacy_synthetic(data: dict[str, Any]) -> frozenset[str]:
    """Move the old ``[synthetic]`` table into ``[source.synthetic]``, warning about it.

    A key set in both places keeps the new table's value. Returns the keys taken from the
    old table, so errors about them name the table the user wrote.
    """
    legacy = data.pop(_LEGACY_SYNTHETIC, None)
    if legacy is None:
        return frozenset()
    if not isinstance(legacy, Mapping):
        raise ConfigError(f"{_LEGACY_SYNTHETIC}: expected a table, got {type(legacy).__name__}")
    logger.warning("the [synthetic] table is deprecated; write its keys under [source.synthetic]")
    source = data.setdefault("source", {})
    if not isinstance(source, dict):
        return frozenset()  # msgspec names the bad [source] itself
    table = source.setdefault("synthetic", {})
    if not isinstance(table, dict):
        return frozenset()
    taken = frozenset(legacy) - frozenset(table)
    source["synthetic"] = {**legacy, **table}
    return frozenset(str(key) for key in taken)


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
                raise ConfigError(f"source.{str(key)[:40]}: unknown key (allowed: {allowed})")
            tables[key] = source.pop(key)
    if tables:
        source["options"] = tables
    source["explicit"] = [key for key in _DEVICE_FACTS if key in source]


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as file:
            return tomllib.load(file)
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read config file: {exc.strerror}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"{path}: not valid TOML: byte {exc.start} is not UTF-8 (TOML files are UTF-8)"
        ) from exc
    except RecursionError:
        raise ConfigError(f"{path}: not valid TOML: nested too deeply") from None
    except ValueError as exc:  # e.g. an integer past Python's 4300-digit conversion limit
        raise ConfigError(f"{path}: not valid TOML: {exc}") from exc


def _reject_non_finite(data: Mapping[str, Any]) -> None:
    """Refuse ``nan`` and ``inf`` anywhere: they slip through every ``<= 0`` check.

    The walk keeps its own stack, so data nested as deep as tomllib can parse cannot
    exhaust Python's.
    """
    pending: list[tuple[str, Any]] = [(str(key), value) for key, value in data.items()]
    while pending:
        dotted, value = pending.pop()
        if isinstance(value, float) and not math.isfinite(value):
            raise ConfigError(f"{dotted}: {value} is not allowed (allowed: a finite number)")
        if isinstance(value, Mapping):
            pending.extend((f"{dotted}.{key}", item) for key, item in value.items())
        elif isinstance(value, list):
            pending.extend((f"{dotted}[{index}]", item) for index, item in enumerate(value))


def _reject_unknown_keys(data: Mapping[str, Any], struct: Any, prefix: str) -> None:
    if dataclasses.is_dataclass(struct):
        names = [field.name for field in dataclasses.fields(struct)]
        for key in data:
            if key not in names:
                raise ConfigError(f"{prefix}{key}: unknown key (allowed: {', '.join(names)})")
        return
    fields = {field.name: field for field in msgspec.structs.fields(struct)}
    for key, value in data.items():
        field = fields.get(key)
        if field is None:
            allowed = ", ".join(fields)
            raise ConfigError(f"{prefix}{key}: unknown key (allowed: {allowed})")
        nested = field.type
        if isinstance(value, Mapping) and isinstance(nested, type):
            if issubclass(nested, msgspec.Struct) or dataclasses.is_dataclass(nested):
                _reject_unknown_keys(value, nested, prefix=f"{prefix}{key}.")


_MSGSPEC_MESSAGE = re.compile(r"^(?P<message>.*?)(?: - at `\$(?P<path>[^`]*)`)?$", re.DOTALL)
_MISSING = object()


def _translate(exc: msgspec.ValidationError, data: Mapping[str, Any]) -> ConfigError:
    """Turn msgspec's "Expected `int`, got `str` - at `$.source.channels`" into our form."""
    match = _MSGSPEC_MESSAGE.match(str(exc))
    message, path = (
        (match["message"], (match["path"] or "").lstrip(".")) if match else (str(exc), "")
    )
    field, separator, rest = message.partition(": ")
    if separator and re.fullmatch(r"\w+", field):
        # A check in __post_init__ names its own field: "batch_size: 0 is out of range ...".
        return ConfigError(f"{path}.{field}: {rest}".lstrip("."))
    value = _lookup(data, path)
    if message.startswith("Invalid enum value"):
        message = f"{value!r} is not allowed (allowed: {_allowed_literals(path)})"
    elif value is not _MISSING:
        message = f"{message[:1].lower()}{message[1:]} (value: {_shown(value)})"
    return ConfigError(f"{path or 'config'}: {message}")


def _shown(value: object) -> str:
    """``repr(value)``, shortened: a config value may be a huge string or integer."""
    if isinstance(value, int) and value.bit_length() > 64:
        try:
            return f"an integer of {len(str(abs(value)))} digits"
        except ValueError:  # past Python's int-to-str conversion limit
            return f"an integer of more than {sys.get_int_max_str_digits()} digits"
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _allowed_literals(dotted: str) -> str:
    """The choices of a Literal-typed key such as ``log.level``, for error messages."""
    struct: Any = Config
    field_type: Any = None
    for part in dotted.split("."):
        fields = {field.name: field for field in msgspec.structs.fields(struct)}
        field_type = fields[part].type if part in fields else None
        struct = field_type
    return ", ".join(repr(choice) for choice in get_args(field_type))


def _lookup(data: Mapping[str, Any], dotted: str) -> Any:
    node: Any = data
    for part in dotted.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return _MISSING
        node = node[part]
    return node


def _check_domain(config: Config, legacy: frozenset[str] = frozenset()) -> None:
    """Build the source and the DSP settings once, so their own checks run at start.

    The source comes first, since the filter is then designed at its sample rate: settings
    that cannot run there (a corner above Nyquist, an unstable design) fail the start rather
    than crash-looping the filter task. ``legacy`` are the keys read from ``[synthetic]``:
    an error about one of them names that table.
    """
    kinds = available_kinds()
    kind = config.source.kind
    if kind not in kinds:
        raise ConfigError(
            f"source.kind: {kind[:40]!r} is not allowed (allowed: {', '.join(map(repr, kinds))})"
        )
    try:
        rate = config.build_source().sample_rate  # a device's own rate, or the configured one
    except ConfigError as exc:
        message = str(exc)
        prefix = f"source.{_LEGACY_SYNTHETIC}."
        if message.startswith(prefix) and message[len(prefix) :].partition(":")[0] in legacy:
            raise ConfigError(message.removeprefix("source.")) from None
        raise
    checks: dict[str, Callable[[], object]] = {
        "filter": lambda: design_sos(config.filter.settings(), rate),
        "spectrum": config.spectrum.settings,
    }
    for table, build in checks.items():
        try:
            build()
        except ConfigError as exc:
            raise ConfigError(f"{table}.{exc}") from None


def _name_flag(exc: ConfigError, flags: Mapping[str, str]) -> ConfigError:
    key = str(exc).partition(":")[0]
    flag = flags.get(key)
    return ConfigError(f"{flag} ({exc})") if flag else exc
