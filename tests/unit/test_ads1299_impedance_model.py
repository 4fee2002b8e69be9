"""Held out: electrodes of known impedance on the datasheet's model, measured through eegd.

The model (``tests.support.ads1299_model``) puts the AC lead-off current through each
electrode and the board's series resistor and filters it as the chip's sinc³ does; eegd's
real hardware path (``hardware.py``) reads it through the stand-in spidev and gpiod.
"""

from __future__ import annotations

import pytest

from eegd.sources.ads1299.driver import ADS1299Source
from eegd.sources.ads1299.hardware import open_hardware
from eegd.sources.ads1299.impedance import run_impedance
from eegd.sources.ads1299.settings import ADS1299Settings
from eegd.sources.base import Source
from tests.support.standin import SeedBoard, install

ELECTRODES_KOHM = [5.0, 20.0, 80.0, 1.0, 8.0, 40.0, 150.0, 400.0]
SERIES_OHMS = 4990.0  # the ADS1299EEG-FE's input resistors, which the elata preset declares


def measure(
    monkeypatch: pytest.MonkeyPatch, rate: int = 250, **options: object
) -> dict[str, tuple[float | None, str]]:
    board = SeedBoard()
    install(monkeypatch, board)
    board.chip.inputs.electrode_ohms = [kohm * 1e3 for kohm in ELECTRODES_KOHM]
    board.chip.inputs.series_ohms = SERIES_OHMS
    board.chip.inputs.dc_volts = [0.01, -0.02, 0.0, 0.005, 0.0, 0.0, 0.03, -0.01]
    settings = ADS1299Settings.from_mapping(options)

    def open_source(derived: ADS1299Settings) -> Source:
        return ADS1299Source(
            derived, 8, rate, hardware=lambda: open_hardware(derived, clock=board.clock)
        )

    result = run_impedance(open_source, settings, [24] * 8, rate)
    assert board.chip.violations.total() == 0
    return {e.name: (e.kohm, str(e.grade)) for e in result.electrodes}


@pytest.mark.parametrize(
    ("frequency", "rate"),
    [("dc", 250), ("7.8", 250), ("31.2", 250), ("31.2", 1000), ("fdr/4", 250)],
)
def test_known_electrode_impedances_come_back_within_ten_percent(
    monkeypatch: pytest.MonkeyPatch, frequency: str, rate: int
) -> None:
    measured = measure(monkeypatch, rate, lead_off_frequency=frequency)
    kohms = [kohm for kohm, _ in measured.values()]
    for got, truth in zip(kohms, ELECTRODES_KOHM, strict=True):
        assert got is not None
        assert got == pytest.approx(truth, rel=0.10), (got, truth)
    grades = [g for _, g in measured.values()]
    assert grades == ["green", "yellow", "red", "green", "green", "yellow", "red", "red"]


def test_a_current_that_rails_the_input_gives_no_impedance(monkeypatch: pytest.MonkeyPatch) -> None:
    # 6 µA through 85 kΩ (with the series resistor) is 0.5 V, beyond gain 24's ±187.5 mV;
    # through 25 kΩ it is 150 mV, within it
    measured = list(measure(monkeypatch, lead_off_current_na=6000).values())
    for got, truth in zip(measured[:5], ELECTRODES_KOHM, strict=False):
        if truth > 20.0:
            assert got == (None, "red")
        else:
            assert got[0] == pytest.approx(truth, rel=0.10)
    assert all(got == (None, "red") for got in measured[5:])
