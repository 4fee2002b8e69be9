"""The ``[recording]`` table: defaults, and refusals that name the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from eegd.config import load_config
from eegd.errors import ConfigError
from eegd.plugins.recorder import Recorder, RecordingSettings


def test_the_defaults_and_the_table_the_recorder_is_built_from() -> None:
    config = load_config()
    assert config.recording == RecordingSettings()
    assert config.plugin_table("recorder") == "recording"
    assert config.plugin_options("recorder") == {
        "directory": "./recordings",
        "format": "bdf",
        "max_duration_s": 3600.0,
        "queue_s": 10.0,
    }
    recorder = Recorder.from_options(config.plugin_options("recorder"))
    assert recorder.settings == RecordingSettings()


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ('format = "wav"', r"recording\.format: 'wav' is not allowed \(allowed: 'bdf', 'edf'"),
        ("max_duration_s = 0", r"recording\.max_duration_s: 0 is out of range"),
        ("queue_s = -1", r"recording\.queue_s: -1 is out of range"),
        ("colour = 1", r"recording\.colour: unknown key \(allowed: directory, format"),
    ],
)
def test_a_bad_value_names_its_key(tmp_path: Path, table: str, message: str) -> None:
    path = tmp_path / "eegd.toml"
    path.write_text(f"[recording]\n{table}\n")
    with pytest.raises(ConfigError, match=message):
        load_config(path)
