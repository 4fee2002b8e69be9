"""Configuration: defaults, file and flag overrides, and one-line errors that name the key."""

from __future__ import annotations

import ast
from pathlib import Path

import msgspec
import pytest

import eegd
from eegd.config import Config, load_config
from eegd.dsp.filters import FilterSettings
from eegd.dsp.spectrum import SpectrumSettings
from eegd.errors import ConfigError
from eegd.net.settings import ServerSettings
from eegd.restart import RestartPolicy


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "eegd.toml"
    path.write_text(text)
    return path


def test_defaults_describe_the_documented_setup() -> None:
    config = load_config()
    assert msgspec.structs.replace(config.source, file_directories=()) == Config().source
    assert msgspec.structs.replace(config, source=Config().source) == Config()
    assert config.source.file_directories == (
        str(Path.cwd() / "recordings"),  # the recording directory and data/ beside the
        str(Path.cwd() / "data"),  # config file: the working directory, with no file
    )
    assert config.source.kind == "synthetic"
    assert config.source.channels == 8
    assert config.source.sample_rate == 250
    assert config.source.batch_size == 32
    assert config.source.shared().channel_names is None
    assert config.build_source().kind == "synthetic"
    assert config.filter.notch_hz == 50.0
    assert config.plugins == ["voltage_filter", "brain_waves", "recorder", "signal_quality"]
    assert (config.server.host, config.server.port) == ("127.0.0.1", 8080)


def test_file_values_and_flag_overrides(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "[source]\nchannels = 16\nsample_rate = 1000\n[filter]\nnotch_hz = 60\nhighpass_hz = 0\n",
    )
    config = load_config(path, {"source.channels": ("--channels", 4)})
    assert config.source.channels == 4
    assert config.source.sample_rate == 1000
    settings = config.filter
    assert settings.notch_hz == 60.0
    assert settings.highpass_hz is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[source]\nchanels = 8\n", r"^source\.chanels: unknown key \(allowed: .*channels"),
        ("[sauce]\n", r"^sauce: unknown key"),
        ('[source]\nchannels = "eight"\n', r"^source\.channels: expected `int`, got `str`"),
        ("[source]\nsample_rate = 300\n", r"^source\.sample_rate: 300 .*250, 500, 1000"),
        ("[source]\nchannels = 0\n", r"^source\.channels: 0 .*32"),
        ("[source]\nchannels = 33\n", r"^source\.channels: 33 .*32"),
        ("[source]\nbatch_size = 0\n", r"^source\.batch_size: 0 is out of range"),
        ("[filter]\nnotch_hz = 55\n", r"^filter\.notch_hz: 55"),
        ("[synthetic]\nline_noise_hz = 40\n", r"^synthetic\.line_noise_hz: 40"),
        ("[server]\nport = 70000\n", r"^server\.port: 70000 is out of range"),
        ('[log]\nlevel = "loud"\n', r"^log\.level: 'loud' is not allowed \(allowed: 'debug'"),
        ("[supervisor]\nmultiplier = 0.5\n", r"^supervisor\.multiplier: 0.5"),
        ("channels = 8\n", r"^channels: unknown key"),
        ("[source\n", r"not valid TOML"),
        ("[filter]\nlowpass_hz = 200\n", r"^filter\.lowpass_hz: 200 Hz .* 250 Hz .*Nyquist"),
        ("[filter]\nhighpass_hz = 1e-300\n", r"^filter\.highpass_hz: 1e-300 Hz is not allowed"),
        ("[filter]\nnotch_q = 1e-300\n", r"^filter\.notch_q: 1e-300 is not allowed"),
        ("[filter]\nlowpass_hz = 124.99999\norder = 8\n", r"^filter\.lowpass_hz: 124\.99999"),
        ("[filter]\nhighpass_hz = 4\nlowpass_hz = 2\n", r"^filter\.highpass_hz: 4 is not allowed"),
        ("x = " + "1" * 5000 + "\n", r"not valid TOML: .*4300 digits"),
        ("[server]\nhost = " + "9" * 30 + "\n", r"^server\.host: .*an integer of 30 digits"),
        ("[kiosk]\nmarker_labels = []\n", r"^kiosk\.marker_labels: 0 labels .*1\.\.9"),
        ("[kiosk]\nmarker_labels = [" + '"a", ' * 10 + "]\n", r"^kiosk\.marker_labels: 10 "),
        ('[kiosk]\nmarker_labels = ["ok", ""]\n', r"^kiosk\.marker_labels\[1\]: '' is not"),
    ],
)
def test_bad_values_name_the_key(tmp_path: Path, text: str, expected: str) -> None:
    with pytest.raises(ConfigError, match=expected) as caught:
        load_config(write(tmp_path, text))
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize(
    ("table", "key"),
    [
        ("server", "heartbeat_s"),
        ("server", "client_queue_s"),
        ("server", "stall_timeout_s"),
        ("log", "status_interval_s"),
        ("spectrum", "window_s"),
        ("spectrum", "hop_s"),
        ("spectrum", "max_freq_hz"),
        ("supervisor", "initial_backoff"),
        ("supervisor", "max_backoff"),
        ("supervisor", "multiplier"),
        ("supervisor", "jitter"),
        ("supervisor", "reset_after"),
        ("supervisor", "stop_timeout"),
        ("filter", "highpass_hz"),
        ("filter", "notch_q"),
    ],
)
@pytest.mark.parametrize("value", ["nan", "inf", "-inf"])
def test_nan_and_infinity_are_refused_naming_the_key(
    tmp_path: Path, table: str, key: str, value: str
) -> None:
    with pytest.raises(
        ConfigError, match=rf"^{table}\.{key}: {value} is not allowed \(allowed: a finite"
    ):
        load_config(write(tmp_path, f"[{table}]\n{key} = {value}\n"))


def test_nan_inside_a_plugin_table_is_refused_naming_the_place(tmp_path: Path) -> None:
    text = 'plugins = ["tally"]\n[plugin.tally]\nlevels = [1.0, nan]\n'
    with pytest.raises(ConfigError, match=r"^plugin\.tally\.levels\[1\]: nan is not allowed"):
        load_config(write(tmp_path, text))


def test_notch_q_is_a_filter_key_like_the_rest_api_one(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, "[filter]\nnotch_q = 20\n"))
    assert config.filter.notch_q == 20.0
    assert config.plugin_options("voltage_filter")["notch_q"] == 20.0
    assert load_config().filter.notch_q == 30.0


def test_the_filter_is_checked_at_the_configured_sample_rate(tmp_path: Path) -> None:
    text = "[source]\nsample_rate = 500\n[filter]\nlowpass_hz = 200\n"
    assert load_config(write(tmp_path, text)).filter.lowpass_hz == 200.0
    with pytest.raises(ConfigError, match=r"^filter\.lowpass_hz: 200 Hz .* 250 Hz"):
        load_config(write(tmp_path, text), {"source.sample_rate": ("--sample-rate", 250)})


def test_a_file_that_is_not_utf8_is_a_one_line_config_error(tmp_path: Path) -> None:
    path = tmp_path / "eegd.toml"
    path.write_bytes(b'[source]\nkind = "synth\xfftic"\n')
    with pytest.raises(ConfigError, match=r"not valid TOML: byte 22 is not UTF-8") as caught:
        load_config(path)
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize(
    "text",
    [
        "x = " + "[" * 100_000 + "]" * 100_000 + "\n",
        "x = " + "{a = " * 5000 + "1" + "}" * 5000 + "\n",
    ],
)
def test_nesting_too_deep_for_the_parser_is_a_one_line_config_error(
    tmp_path: Path, text: str
) -> None:
    with pytest.raises(ConfigError, match=r"not valid TOML: nested too deeply") as caught:
        load_config(write(tmp_path, text))
    assert "\n" not in str(caught.value)


def test_an_overridden_key_names_the_flag() -> None:
    with pytest.raises(ConfigError, match=r"^--channels \(source\.channels: 33"):
        load_config(None, {"source.channels": ("--channels", 33)})


def test_a_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "nope.toml")


def test_config_is_immutable() -> None:
    config = load_config()
    with pytest.raises(AttributeError):
        config.source.channels = 4  # type: ignore[misc]


def test_each_source_kind_has_its_own_table_and_flags_override_it(tmp_path: Path) -> None:
    path = write(tmp_path, "[source.synthetic]\nseed = 7\nline_noise_hz = 60\n")
    config = load_config(path, {"source.synthetic.seed": ("--seed", 9)})
    assert config.source.options == {"synthetic": {"seed": 9, "line_noise_hz": 60}}
    with pytest.raises(ConfigError, match=r"^--seed \(source\.synthetic\.seed: expected `int`"):
        load_config(path, {"source.synthetic.seed": ("--seed", "nine")})
    with pytest.raises(ConfigError, match=r"^source\.synthetic\.line_noise_hz: 40"):
        load_config(write(tmp_path, "[source.synthetic]\nline_noise_hz = 40\n"))
    with pytest.raises(ConfigError, match=r"^source\.synthetic\.seed: nan is not allowed"):
        load_config(write(tmp_path, "[source.synthetic]\nseed = nan\n"))


@pytest.mark.parametrize("table", ["nosuchkind", "options"])
def test_a_table_under_source_must_be_a_source_kind(tmp_path: Path, table: str) -> None:
    with pytest.raises(
        ConfigError, match=rf"^source\.{table}: unknown key .*\[source\.synthetic\]"
    ):
        load_config(write(tmp_path, f"[source.{table}]\nx = 1\n"))


def test_the_old_synthetic_table_is_read_with_a_warning_naming_the_new_one(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = write(tmp_path, "[synthetic]\nseed = 3\npaced = false\n[source.synthetic]\nseed = 4\n")
    config = load_config(path)
    assert config.source.options["synthetic"] == {"seed": 4, "paced": False}
    assert any("[source.synthetic]" in record.getMessage() for record in caplog.records)
    assert load_config().source.options == {}


def test_plugin_options_come_from_their_tables(tmp_path: Path) -> None:
    path = write(tmp_path, "[filter]\nnotch_hz = 60\n[plugin.tally]\nevery = 3\n")
    config = load_config(path)
    assert config.plugin_table("voltage_filter") == "filter"
    assert config.plugin_table("tally") == "plugin.tally"
    assert config.plugin_options("voltage_filter")["notch_hz"] == 60.0
    assert config.plugin_options("brain_waves")["window_s"] == 2.0
    assert config.plugin_options("tally") == {"every": 3}


def test_each_table_is_the_settings_object_its_component_takes(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, "[server]\nmax_clients = 9\nclient_queue_s = 1.5\n"))
    assert isinstance(config.filter, FilterSettings)
    assert isinstance(config.spectrum, SpectrumSettings)
    assert isinstance(config.server, ServerSettings)
    assert isinstance(config.supervisor, RestartPolicy)
    connections = config.server.connection_settings()
    assert (connections.limits.max_clients, connections.queue_seconds) == (9, 1.5)


def test_zero_turns_a_filter_stage_off_and_none_the_detrend(tmp_path: Path) -> None:
    text = '[filter]\nhighpass_hz = 0\nnotch_hz = 0\n[spectrum]\ndetrend = "none"\n'
    config = load_config(write(tmp_path, text))
    assert (config.filter.highpass_hz, config.filter.notch_hz) == (None, None)
    assert config.spectrum.detrend is None


@pytest.mark.parametrize(
    ("text", "key", "message"),
    [
        (
            "[source]\nchannels = 8.5\n",
            "source.channels",
            "source.channels: expected `int`, got `float` (value: 8.5)",
        ),
        (
            "[source]\nbatch_size = true\n",
            "source.batch_size",
            "source.batch_size: expected `int`, got `bool` (value: True)",
        ),
        (
            "[server]\nheartbeat_s = 0\n",
            "server.heartbeat_s",
            "server.heartbeat_s: 0 is out of range (allowed: 0.01..86400)",
        ),
        (
            "[supervisor]\njitter = 1\n",
            "supervisor.jitter",
            "supervisor.jitter: 1 is out of range (allowed: >= 0 and < 1)",
        ),
        (
            "[server]\nallowed_origins = [1]\n",
            "server.allowed_origins[0]",
            "server.allowed_origins[0]: expected `str`, got `int` (value: 1)",
        ),
        (
            '[log]\nlevel = "loud"\n',
            "log.level",
            "log.level: 'loud' is not allowed (allowed: 'debug', 'info', 'warning', 'error')",
        ),
        (
            '[spectrum]\ndetrend = "cubic"\n',
            "spectrum.detrend",
            "spectrum.detrend: 'cubic' is not allowed (allowed: 'constant', 'linear', 'none')",
        ),
        (
            "[server]\ncolour = 1\n",
            "server.colour",
            "server.colour: unknown key (allowed: host, port, allowed_origins, allowed_hosts, "
            "tls_cert, tls_key, heartbeat_s, "
            "max_clients, max_topics_per_client, max_message_bytes, max_messages_per_s, "
            "client_queue_s, stall_timeout_s, header_timeout_s, max_pending_connections, "
            "body_timeout_s, body_min_bytes_per_s, max_changes_per_s, max_markers_per_s)",
        ),
        (
            "[filter]\norder = 9\n",
            "filter.order",
            "filter.order: 9 is out of range (allowed: 1..8)",
        ),
        ("source = 1\n", "source", "source: expected `object`, got `int` (value: 1)"),
    ],
)
def test_errors_carry_the_key_they_name(tmp_path: Path, text: str, key: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, text))
    assert (caught.value.key, str(caught.value)) == (key, message)


def test_an_error_from_a_settings_object_names_its_table(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, "[filter]\nhighpass_hz = 4\nlowpass_hz = 2\n"))
    assert caught.value.key == "filter.highpass_hz"
    with pytest.raises(ConfigError) as caught:
        load_config(None, {"filter.notch_hz": ("--notch", 55)})
    assert caught.value.key == "filter.notch_hz"
    assert str(caught.value).startswith("--notch (filter.notch_hz: 55 is not allowed")


def test_no_component_imports_the_configuration() -> None:
    package = Path(eegd.__file__).parent
    importers = set()
    for path in package.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [alias.name for alias in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            if "eegd.config" in names:
                importers.add(path.relative_to(package).as_posix())
    assert importers <= {"cli.py", "daemon.py", "service.py", "status.py", "runtime/changes.py"}


def test_a_config_error_keeps_its_one_line_message_and_knows_its_key() -> None:
    error = ConfigError("channels: 33 is out of range (allowed: 1..32)")
    assert error.key == "channels"
    inside = error.within("source")
    assert (inside.key, str(inside)) == (
        "source.channels",
        "source.channels: 33 is out of range (allowed: 1..32)",
    )
    assert ConfigError("plugin.tally.levels[1]: nan is not allowed").key == "plugin.tally.levels[1]"
    assert ConfigError("--board and --file choose different sources").key is None
    assert ConfigError("anything", key="log.level").key == "log.level"
    assert ConfigError("eegd.toml: config file not found", key=None).key is None


def test_a_file_error_is_about_no_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(Path("nope.toml"))
    assert caught.value.key is None
