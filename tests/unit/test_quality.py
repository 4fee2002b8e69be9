"""Signal quality on known signals: each one is built here with the fault it should show
(a channel at full scale, a dead one, a hum of a known amplitude), and the verdict is read
back. The oracle is the signal, never the code's own thresholds: amplitudes and shares are
chosen well inside or outside what an EEG reader would call good.
"""

from __future__ import annotations

import numpy as np
import pytest

from eegd.dsp.quality import QualityWindow, assess

RATE = 250.0
T = np.arange(int(RATE)) / RATE
#: A 24-bit ADC's counts, as a source without a declared range delivers them.
COUNTS = (-(2**23), 2**23 - 1)
UV = 1e-6


def _eeg(seed: int = 0, uv: float = 15.0) -> np.ndarray:
    """One second of background EEG: white noise of ``uv`` µV RMS."""
    return uv * UV * np.random.default_rng(seed).standard_normal(T.size)


def _judge(rows: list[np.ndarray], ranges: list[tuple[float, float]] | None = None, **kw):
    volts = np.array(rows)
    spans = ranges or [(-0.1875, 0.1875)] * len(rows)
    return assess(volts, RATE, volts, spans, **kw)


def test_good_eeg_is_good_and_says_so() -> None:
    (verdict,) = _judge([_eeg()])
    assert (verdict.level, verdict.reason, verdict.short) == ("good", "good signal", "good")
    assert verdict.near_rail_share == 0
    assert verdict.railed_percent < 0.1  # 60 µV of 187.5 mV at most


def test_a_channel_held_at_the_top_of_its_declared_range_is_railed() -> None:
    top = 0.2  # a board that declares ±200 mV
    (verdict,) = _judge([np.full(T.size, top)], ranges=[(-top, top)])
    assert verdict.level == "bad"
    assert verdict.reason == "railed: 100% of samples at full scale"
    assert verdict.railed_percent == pytest.approx(100)
    assert verdict.near_rail_share == 1


def test_railed_is_judged_against_each_channels_own_range() -> None:
    # 150 mV is at the rail of a ±150 mV channel, a third of the way up a ±450 mV one.
    level = np.full(T.size, 0.15)
    narrow, wide = _judge([level, level + _eeg()], ranges=[(-0.15, 0.15), (-0.45, 0.45)])
    assert narrow.level == "bad"
    assert narrow.reason.startswith("railed")
    assert wide.level == "good"
    assert wide.railed_percent == pytest.approx(100 / 3, abs=0.1)


def test_counts_at_the_adcs_full_scale_are_railed() -> None:
    volts = np.array([np.full(T.size, 0.1875), _eeg()])
    counts = np.array([np.full(T.size, COUNTS[1]), np.round(_eeg() / 2.2e-8)])
    railed, good = assess(volts, RATE, counts, [COUNTS, COUNTS])
    assert railed.level == "bad"
    assert railed.short == "railed 100%"
    assert good.level == "good"


def test_a_dead_input_is_a_flat_line() -> None:
    (verdict,) = _judge([np.zeros(T.size)])
    assert verdict.level == "bad"
    assert verdict.reason == "flat line: 0.00 µV peak to peak"
    assert verdict.peak_to_peak_uv == 0


def test_a_few_samples_at_full_scale_are_clipping_not_railed() -> None:
    signal = _eeg()
    signal[::50] = 0.1875  # 5 of 250 samples: 2 %
    (verdict,) = _judge([signal])
    assert verdict.level == "warn"
    assert verdict.reason == "clipping: 2.0% of samples at full scale"
    assert verdict.near_rail_share == pytest.approx(0.02)


@pytest.mark.parametrize(("hz", "uv", "level"), [(50, 80.0, "bad"), (60, 20.0, "warn")])
def test_mains_hum_is_measured_at_its_amplitude(hz: int, uv: float, level: str) -> None:
    # Under 5 µV of noise, a second's single-bin DFT reads a sine within about 1 µV.
    (verdict,) = _judge([_eeg(uv=5) + uv * UV * np.sin(2 * np.pi * hz * T + 0.3)])
    assert verdict.level == level
    assert f"{hz} Hz" in verdict.reason
    assert verdict.line_uv is not None
    assert verdict.line_uv[hz] == pytest.approx(uv, abs=2.5)
    other = 60 if hz == 50 else 50
    assert verdict.line_uv[other] < 2.5


def test_line_noise_is_not_measured_below_a_rate_that_resolves_60_hz() -> None:
    rate = 100.0
    t = np.arange(100) / rate
    volts = np.array([15 * UV * np.sin(2 * np.pi * 7 * t)])
    (verdict,) = assess(volts, rate, volts, [(-1.0, 1.0)])
    assert verdict.line_uv is None
    assert verdict.level == "good"


def test_an_electrode_off_is_bad_whatever_its_signal() -> None:
    on, off = _judge([_eeg(1), _eeg(2)], lead_off={1})
    assert on.level == "good"
    assert not on.lead_off
    assert (off.level, off.reason, off.short, off.lead_off) == (
        "bad",
        "electrode off (lead-off)",
        "off",
        True,
    )


def test_as_dict_is_json_ready() -> None:
    (verdict,) = _judge([_eeg(uv=5) + 30 * UV * np.sin(2 * np.pi * 50 * T)])
    data = verdict.as_dict()
    assert data["level"] == "warn"
    assert set(data["line_uv"]) == {"50", "60"}
    assert data["line_uv"]["50"] == pytest.approx(30, abs=2.5)


def test_assess_refuses_shapes_that_do_not_match() -> None:
    with pytest.raises(ValueError, match="same"):
        assess(np.zeros((2, 10)), RATE, np.zeros((2, 9)), [(-1, 1), (-1, 1)])
    with pytest.raises(ValueError, match="ranges"):
        assess(np.zeros((2, 10)), RATE, np.zeros((2, 10)), [(-1, 1)])
    with pytest.raises(ValueError, match="min < max"):
        assess(np.zeros((1, 10)), RATE, np.zeros((1, 10)), [(1, 1)])


def _blocks(signal: np.ndarray, size: int = 32):
    for start in range(0, signal.shape[1], size):
        yield signal[:, start : start + size]


def test_the_window_judges_every_hop_once_a_whole_window_is_in() -> None:
    window = QualityWindow(RATE, [(-1.0, 1.0)], window_s=1.0, hop_s=0.5)
    signal = np.tile(_eeg(), 2)[None, :]  # 2 s in blocks of 32 samples
    verdicts = [window.push(block, block) for block in _blocks(signal)]
    # A verdict at samples 250, 375 and 500: the first once a second is in, then every 125,
    # each on the second before it.
    assert [i for i, judged in enumerate(verdicts) if judged] == [7, 11, 15]
    assert [first for judged in verdicts for first, _ in judged] == [0, 125, 250]


def test_the_window_measures_hum_exactly_across_the_ring_and_follows_a_change() -> None:
    hum = 40 * UV * np.sin(2 * np.pi * 50 * np.arange(3 * int(RATE)) / RATE)
    railed = np.full(int(RATE), 0.99)
    signal = np.concatenate([railed, hum])[None, :]
    window = QualityWindow(RATE, [(-1.0, 1.0)])
    verdicts = [v[0] for block in _blocks(signal, 37) for _, v in window.push(block, block)]
    assert verdicts[0].level == "bad"
    assert verdicts[0].reason.startswith("railed")
    last = verdicts[-1]  # the last second is hum alone, read from a ring that wrapped
    assert last.line_uv is not None
    assert last.line_uv[50] == pytest.approx(40, rel=1e-6)
    assert last.near_rail_share == 0


def test_restart_waits_for_a_whole_window_again() -> None:
    window = QualityWindow(RATE, [(-1.0, 1.0)])
    second = _eeg()[None, :]
    assert len(window.push(second, second)) == 1
    window.restart()
    assert window.push(second[:, :200], second[:, :200]) == []
    ((first, _),) = window.push(second[:, 200:], second[:, 200:])
    assert first == 0
