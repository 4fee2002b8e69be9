"""The ADS1299 self-test: its pure checks, and whole runs against healthy and faulty emulators."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from eegd.cli import main
from eegd.sources.ads1299 import ADS1299Emulator, ADS1299Settings, ADS1299Source
from eegd.sources.ads1299.fields import TestFrequency
from eegd.sources.ads1299.noise import typical_noise
from eegd.sources.ads1299.selftest import (
    NOISE_LIMIT,
    SelfTestResult,
    check_noise,
    check_test_signal,
    run_configured_selftest,
    run_selftest,
)
from eegd.sources.base import SharedSourceOptions


def selftest(
    emulator: ADS1299Emulator,
    rate: int = 250,
    gain: int = 24,
    channels: int = 8,
    check_electrodes: bool = False,
) -> SelfTestResult:
    settings = ADS1299Settings(gain=gain, spi_hz=20_000_000)

    def open_source(derived: ADS1299Settings) -> ADS1299Source:
        return ADS1299Source(derived, channels, rate, hardware=emulator.hardware)

    return run_selftest(open_source, settings, [gain] * channels, rate, check_electrodes)


@pytest.mark.parametrize(("rate", "gain"), [(250, 24), (1000, 1), (16000, 8)])
def test_a_healthy_chip_passes(rate: int, gain: int) -> None:
    result = selftest(ADS1299Emulator(), rate, gain)
    assert result.passed, result.table()
    assert result.failed == ()
    channel = result.channels[0]
    assert channel.test_signal.frequency_hz == pytest.approx(2.048e6 / 2**20, rel=0.01)
    assert channel.test_signal.amplitude_uv == pytest.approx(1875, rel=0.01)
    assert channel.noise.rms_uv < channel.noise.limit_rms_uv


def test_a_channel_at_a_large_offset_fails_alone() -> None:
    emulator = ADS1299Emulator()
    emulator.inputs.offsets[2] = 0.050
    result = selftest(emulator)
    assert result.failed == ("C3",)
    assert result.channels[2].noise.offset_uv == pytest.approx(50_000, rel=1e-3)
    assert not result.passed


def test_a_missing_test_signal_fails_that_channel_alone() -> None:
    emulator = ADS1299Emulator(2)
    emulator.inputs.test_missing.add(13)
    result = selftest(emulator, channels=16)
    assert result.failed == (result.channels[13].name,)
    assert result.channels[13].test_signal.amplitude_uv < 10
    assert result.channels[13].noise.passed


def test_a_noisy_channel_fails_alone() -> None:
    emulator = ADS1299Emulator()
    rng = np.random.default_rng(1)

    def hum(index: np.ndarray, rate: float) -> np.ndarray:
        return rng.standard_normal(index.shape) * 3e-6

    emulator.inputs.extra[5] = hum
    result = selftest(emulator)
    assert result.failed == ("P4",)


def test_lead_off_is_reported_and_fails_only_when_electrodes_are_checked() -> None:
    emulator = ADS1299Emulator()
    emulator.set_lead_off(7)
    relaxed = selftest(emulator)
    assert relaxed.passed
    assert [c.name for c in relaxed.channels if c.lead_off] == ["O2"]
    strict = selftest(emulator, check_electrodes=True)
    assert strict.failed == ("O2",)


def test_noise_check_limits_are_twice_the_typical_figure_in_band() -> None:
    typical = typical_noise(24, 250).in_band(1.0, 50.0)
    rng = np.random.default_rng(0)
    quiet = rng.standard_normal(500) * 0.1e-6
    check = check_noise(quiet, 250, 24)
    assert check.limit_rms_uv == pytest.approx(NOISE_LIMIT * typical.rms_uv)
    assert check.passed
    loud = rng.standard_normal(500) * 1e-6  # ~7 × typical in full band
    assert not check_noise(loud, 250, 24).passed


def test_test_signal_check_measures_amplitude_and_frequency() -> None:
    index = np.arange(1000)
    square = np.where(np.mod(index * (1.953125 / 250), 1) < 0.5, 1, -1) * 3.75e-3
    good = check_test_signal(square, 250, 2, TestFrequency.FAST)
    assert good.passed
    assert good.amplitude_uv == pytest.approx(3750)
    assert not check_test_signal(square, 250, 1, TestFrequency.FAST).passed
    assert not check_test_signal(square, 250, 2, TestFrequency.SLOW).passed
    assert not check_test_signal(np.zeros(1000), 250, 2, TestFrequency.FAST).passed


def test_results_show_as_a_table_and_as_json() -> None:
    emulator = ADS1299Emulator()
    emulator.inputs.offsets[0] = 0.01
    result = selftest(emulator)
    table = result.table()
    assert "FAILED: Fp1" in table
    assert table.splitlines()[1].endswith("FAIL")
    document = json.loads(json.dumps(result.as_dict()))
    assert document["passed"] is False
    assert document["channels"][0]["name"] == "Fp1"
    assert document["channels"][1]["passed"] is True
    assert set(document["channels"][0]) == {
        "name",
        "gain",
        "noise",
        "test_signal",
        "lead_off",
        "passed",
    }


def test_the_configured_self_test_opens_an_emulator_itself() -> None:
    shared = SharedSourceOptions(kind="ads1299", channels=16, sample_rate=500)
    result = run_configured_selftest(shared, {"emulate": True, "gain": 12})
    assert result.passed, result.table()
    assert len(result.channels) == 16
    assert {channel.gain for channel in result.channels} == {12}


def test_eegd_selftest_prints_a_table_and_exits_0_when_every_channel_passes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "eegd.toml"
    config.write_text('[source]\nkind = "ads1299"\n\n[source.ads1299]\nemulate = true\n')
    assert main(["selftest", "--config", str(config)]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].startswith("channel")
    assert out.rstrip().endswith("all channels pass")
    assert main(["selftest", "--config", str(config), "--json", "--channels", "16"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["passed"] is True
    assert len(document["channels"]) == 16


def test_eegd_selftest_refuses_other_sources_and_a_missing_chip(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["selftest", "--source", "synthetic"]) == 2
    assert "'synthetic' has no self-test" in capsys.readouterr().err
    try:
        import spidev  # noqa: F401
    except ImportError:
        assert main(["selftest", "--source", "ads1299"]) == 2
        assert "pip install 'eegd[ads1299]'" in capsys.readouterr().err
