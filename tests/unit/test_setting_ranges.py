"""Every numeric setting has the range the daemon can run with: the values a hostile probe
found accepted (1e-300 s intervals, a 1e6 s window, a 1e308 s session) are refused naming the
key, in the file and in ``PUT /api/source`` alike; the spectrum is designed at start and at
every source change; a configuration file is read to a bound."""

from __future__ import annotations

from pathlib import Path

import pytest

from eegd.config import Config, load_config
from eegd.errors import ConfigError


def load(tmp_path: Path, toml: str) -> Config:
    path = tmp_path / "eegd.toml"
    path.write_text(toml)
    return load_config(path)


@pytest.mark.parametrize(
    ("toml", "key"),
    [
        ("[log]\nstatus_interval_s = 1e-300\n", "log.status_interval_s"),
        ("[source]\nstall_timeout_s = 1e-300\n", "source.stall_timeout_s"),
        ("[server]\nheartbeat_s = 1e-300\n", "server.heartbeat_s"),
        ("[server]\nstall_timeout_s = 1e-300\n", "server.stall_timeout_s"),
        ("[server]\nbody_timeout_s = 1e308\n", "server.body_timeout_s"),
        ("[spectrum]\nhop_s = 1e-9\n", "spectrum.hop_s"),
        ("[spectrum]\nwindow_s = 1e6\n", "spectrum.window_s"),
        ("[auth]\nsession_ttl_s = 1e308\n", "auth.session_ttl_s"),
        ("[supervisor]\nmax_backoff = 1e308\n", "supervisor.max_backoff"),
        ("[recording]\nmax_duration_s = 1e308\n", "recording.max_duration_s"),
        ("[source.lsl]\nstall_timeout_s = 1e-300\n", "source.lsl.stall_timeout_s"),
        ("[source.brainflow]\nstall_timeout_s = 1e-300\n", "source.brainflow.stall_timeout_s"),
        ("[source.brainflow]\nip_port = 70000\n", "source.brainflow.ip_port"),
        ('[source.playback]\npath = "x.edf"\nspeed = 1e300\n', "source.playback.speed"),
    ],
)
def test_a_value_the_daemon_cannot_run_with_is_refused_naming_its_key(
    tmp_path: Path, toml: str, key: str
) -> None:
    kind = key.split(".")[1]
    if key.startswith("source.") and kind in ("lsl", "brainflow", "playback"):
        toml = f'[source]\nkind = "{kind}"\n' + toml
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, toml)
    assert caught.value.key == key
    assert str(caught.value).startswith(f"{key}: ")
    assert "allowed" in str(caught.value)


def test_put_source_refuses_what_the_file_refuses() -> None:
    with pytest.raises(ConfigError) as caught:
        Config().with_source({"stall_timeout_s": 1e-300})
    assert caught.value.key == "source.stall_timeout_s"


def test_a_spectrum_window_too_large_for_memory_is_refused_at_start(tmp_path: Path) -> None:
    toml = (
        "[source]\nsample_rate = 16000\nchannels = 32\nbatch_size = 512\n"
        "[spectrum]\nwindow_s = 60\nmax_freq_hz = 8000\n"
    )
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, toml)
    assert caught.value.key == "spectrum.window_s"
    assert "MiB" in str(caught.value)


def test_a_source_change_the_spectrum_cannot_follow_is_refused_naming_its_key(
    tmp_path: Path,
) -> None:
    config = load(tmp_path, "[spectrum]\nwindow_s = 60\nmax_freq_hz = 8000\n")
    with pytest.raises(ConfigError) as caught:
        config.with_source({"sample_rate": 16000, "channels": 32, "batch_size": 512})
    assert caught.value.key == "spectrum.window_s"
    assert config.with_source({"sample_rate": 16000, "channels": 4}).source.channels == 4


def test_a_config_path_that_never_ends_is_refused() -> None:
    with pytest.raises(ConfigError, match="/dev/zero: not a configuration file"):
        load_config(Path("/dev/zero"))
