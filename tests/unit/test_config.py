"""Configuration: defaults, file and flag overrides, and one-line errors that name the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from eegd.config import Config, load_config
from eegd.errors import ConfigError


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "eegd.toml"
    path.write_text(text)
    return path


def test_defaults_describe_the_documented_setup() -> None:
    config = load_config()
    assert config == Config()
    assert config.source.kind == "synthetic"
    assert config.source.channels == 8
    assert config.source.sample_rate == 250
    assert config.source.batch_size == 32
    assert config.synthetic_settings().channel_names is None
    assert config.filter.settings().notch_hz == 50.0
    assert config.plugins == ["voltage_filter", "brain_waves"]
    assert (config.server.host, config.server.port) == ("127.0.0.1", 8080)


def test_file_values_and_flag_overrides(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "[source]\nchannels = 16\nsample_rate = 1000\n[filter]\nnotch_hz = 60\nhighpass_hz = 0\n",
    )
    config = load_config(path, {"source.channels": ("--channels", 4)})
    assert config.source.channels == 4
    assert config.source.sample_rate == 1000
    settings = config.filter.settings()
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
    ],
)
def test_bad_values_name_the_key(tmp_path: Path, text: str, expected: str) -> None:
    with pytest.raises(ConfigError, match=expected) as caught:
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
