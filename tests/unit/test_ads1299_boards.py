"""Board presets: the wirings of the boards people own, overrides, contradictions, start-up."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from eegd.cli import main
from eegd.errors import ConfigError
from eegd.sources.ads1299 import ADS1299Emulator, ADS1299Settings, ADS1299Source
from eegd.sources.ads1299.fields import decode_config1
from eegd.sources.ads1299.registers import Register

# What each board's own software drives, read from it (not from eegd): elata-eeg's
# crates/sensors/src/ads1299 (README pinout, spi.rs), BrainFlow's pieeg_board.cpp, and
# PiEEG-16's GUI/pieeg16_drdy_only.py. None: the line is not wired.
REFERENCE_WIRINGS = {
    "elata": {
        "spi_bus": 0,
        "chip_selects": ("ce0",),
        "drdy_gpio": 25,
        "start_gpio": None,
        "reset_gpio": None,
        "pwdn_gpio": None,
        "readback": "daisy",
    },
    "pieeg": {
        "spi_bus": 0,
        "chip_selects": ("ce0",),
        "drdy_gpio": 26,
        "start_gpio": None,
        "reset_gpio": None,
        "pwdn_gpio": None,
        "spi_hz": 1_000_000,
        "chips": 1,
        "readback": "daisy",
    },
    "pieeg16": {
        "spi_bus": 0,
        "chip_selects": ("ce0", "gpio19"),
        "drdy_gpio": (26, 13),
        "start_gpio": None,
        "reset_gpio": None,
        "pwdn_gpio": None,
        "spi_hz": 4_000_000,
        "chips": 2,
        "readback": "multiple",
    },
    "hat": {
        "drdy_gpio": 25,
        "start_gpio": 22,
        "reset_gpio": 23,
        "pwdn_gpio": 24,
        "readback": "daisy",
    },
}


@pytest.mark.parametrize("board", sorted(REFERENCE_WIRINGS))
def test_each_preset_is_the_boards_own_wiring(board: str) -> None:
    settings = ADS1299Settings.from_mapping({"board": board})
    assert settings.board == board
    for key, value in REFERENCE_WIRINGS[board].items():
        assert getattr(settings, key) == value, key


def test_the_default_board_is_the_seeds_and_drives_no_control_line() -> None:
    settings = ADS1299Settings.from_mapping({})
    assert settings.board == "elata"
    assert (settings.start_gpio, settings.reset_gpio, settings.pwdn_gpio) == (None, None, None)
    assert settings.drdy_gpio == 25
    assert settings == ADS1299Settings()


def test_every_preset_value_yields_to_its_own_key() -> None:
    settings = ADS1299Settings.from_mapping(
        {"board": "hat", "drdy_gpio": 5, "pwdn_gpio": False, "spi_hz": 8_000_000}
    )
    assert (settings.drdy_gpio, settings.pwdn_gpio, settings.spi_hz) == (5, None, 8_000_000)
    assert (settings.start_gpio, settings.reset_gpio) == (22, 23)
    pieeg = ADS1299Settings.from_mapping({"board": "pieeg", "start_gpio": 6, "chips": None})
    assert (pieeg.start_gpio, pieeg.drdy_gpio, pieeg.chips) == (6, 26, None)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (
            {"board": "openbci"},
            r"source\.ads1299\.board: 'openbci' is not a known board "
            r"\(allowed: elata, pieeg, pieeg16, hat\)",
        ),
        (
            {"board": "hat", "drdy_gpio": 22},
            r"source\.ads1299\.drdy_gpio and source\.ads1299\.start_gpio both use GPIO22",
        ),
        (
            {"board": "pieeg16", "drdy_gpio": 26},
            r"source\.ads1299\.drdy_gpio and source\.ads1299\.chips: 1 for 2 chips.*"
            r"source\.ads1299\.readback",
        ),
        (
            {"board": "pieeg16", "chip_selects": ["ce0"]},
            r"source\.ads1299\.chip_selects and source\.ads1299\.chips: 1 for 2 chips",
        ),
        (
            {"board": "pieeg16", "readback": "daisy"},
            r"source\.ads1299\.chip_selects and source\.ads1299\.readback: 2 chip selects",
        ),
        (
            {"board": "pieeg16", "chips": None},
            r'source\.ads1299\.chips: must be set with readback = "multiple"',
        ),
        (
            {"board": "pieeg16", "chip_selects": ["ce0", "gpio26"]},
            r"source\.ads1299\.drdy_gpio and source\.ads1299\.chip_selects both use GPIO26",
        ),
        (
            {"board": "pieeg16", "chip_selects": ["ce0", "ce1", "gpio5"], "chips": 3},
            r"chip_selects: a GPIO chip select needs a spidev device whose CE no chip uses",
        ),
        ({"chip_selects": ["cs0"]}, r"source\.ads1299\.chip_selects\[0\]: 'cs0' is not allowed"),
        ({"drdy_gpio": 9}, r"source\.ads1299\.drdy_gpio: GPIO9 is SPI0 MISO"),
        ({"reset_gpio": "yes"}, r"source\.ads1299\.reset_gpio: 'yes' is not allowed"),
        ({"readback": "chain"}, r"source\.ads1299\.readback: 'chain' is not allowed"),
        ({"free_chip_gpios": [0, 5]}, r"source\.ads1299\.free_chip_gpios"),
        (
            {"reference_buffer": False},
            r"source\.ads1299\.vref_v: must be set with source\.ads1299\.reference_buffer",
        ),
        (
            {"vref_v": 4.096},
            r"source\.ads1299\.vref_v and source\.ads1299\.reference_buffer: 4\.096 V",
        ),
    ],
)
def test_contradictions_are_refused_naming_the_keys(
    options: dict[str, object], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        ADS1299Settings.from_mapping(options)


@pytest.mark.parametrize(
    ("table", "expected"),
    [
        ('board = "pieeg32"', "allowed: elata, pieeg, pieeg16, hat"),
        ('board = "hat"\nreset_gpio = 25', "drdy_gpio and source.ads1299.reset_gpio"),
    ],
)
def test_a_bad_board_exits_2_with_one_line(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    table: str,
    expected: str,
) -> None:
    (tmp_path / "eegd.toml").write_text(f'[source]\nkind = "ads1299"\n[source.ads1299]\n{table}\n')
    monkeypatch.chdir(tmp_path)
    assert main(["run", "--port", "0"]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1
    assert expected in lines[0]


def test_an_external_reference_sets_the_scale() -> None:
    emulated = ADS1299Settings.from_mapping({"spi_hz": 20_000_000, "input": "shorted"})
    external = ADS1299Settings.from_mapping(
        {"spi_hz": 20_000_000, "input": "shorted", "reference_buffer": False, "vref_v": 4.0}
    )
    emulator = ADS1299Emulator()
    emulator.inputs.forced_codes = {0: 1_000_000}
    volts = []
    for settings in (emulated, external):
        with ADS1299Source(settings, 8, 250, hardware=emulator.hardware) as source:
            volts.append(float(source.read(4).volts[0, -1]))
    # one count is 2 VREF / gain / 2**24 (SBAS499 "Ideal Output Code"): 4.5 V, then 4.0 V
    assert volts[0] == pytest.approx(1_000_000 * 9.0 / 24 / 2**24, rel=1e-6)
    assert volts[1] == pytest.approx(1_000_000 * 8.0 / 24 / 2**24, rel=1e-6)


@pytest.mark.parametrize("board", ["elata", "pieeg", "hat"])
def test_a_board_starts_with_its_own_lines_or_opcodes(board: str) -> None:
    settings = ADS1299Settings.from_mapping({"board": board, "spi_hz": 20_000_000, "chips": 1})
    emulator = ADS1299Emulator()
    with ADS1299Source(settings, 8, 250, hardware=emulator.hardware) as source:
        assert source.read(25).n_samples == 25
        assert emulator.converting
    assert not emulator.converting  # START low, or the STOP opcode


def test_pieeg16_reads_each_chip_on_its_own_chip_select() -> None:
    settings = ADS1299Settings.from_mapping({"board": "pieeg16", "spi_hz": 20_000_000})
    emulator = ADS1299Emulator(2)
    codes = {channel: 1000 * (channel + 1) for channel in range(16)}
    emulator.inputs.forced_codes = codes
    with ADS1299Source(settings, 16, 250, hardware=lambda: emulator.hardware(settings)) as source:
        block = source.read(10)
        # multiple readback: DAISY_EN' set, and no chip drives the other's clock
        assert decode_config1(emulator.registers(1)[Register.CONFIG1])[1:] == (False, False)
    assert np.array_equal(block.raw[:, -1], [codes[c] for c in range(16)])
