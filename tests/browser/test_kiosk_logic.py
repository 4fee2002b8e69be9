"""The kiosk's pure modules in Chromium, without a daemon: peak finding, the daemon's signal
quality verdicts, lane pages, the ledger line and 10-20 positions. Inputs are built here in
Python (spectra with and without a peak, a quality message) and the results read back.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from playwright.async_api import Page

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="session")]

_PEAK = """async ({ freqs, power }) => {
  const { alphaPeak } = await import("/kiosk/peak.js");
  return alphaPeak(freqs, power);
}"""


def _one_over_f(freqs: np.ndarray, exponent: float = 1.0) -> np.ndarray:
    return 100.0 / np.maximum(freqs, 0.5) ** exponent


async def test_alpha_peak_only_above_the_one_over_f_background(static_page: Page) -> None:
    freqs = np.arange(0, 100.5, 0.5)
    rng = np.random.default_rng(0)
    noise = 10 ** rng.normal(0, 0.05, freqs.size)
    background = _one_over_f(freqs, 1.3) * noise
    alpha = background + 40 * np.exp(-(((freqs - 10.2) / 0.8) ** 2))
    weak = background + 1.0 * np.exp(-(((freqs - 10) / 0.8) ** 2))

    def call(power: np.ndarray) -> Any:
        return static_page.evaluate(_PEAK, {"freqs": freqs.tolist(), "power": power.tolist()})

    found = await call(alpha)
    assert found["hz"] == pytest.approx(10.2, abs=0.3)
    assert found["prominence"] > 0.3
    assert await call(background) is None  # the largest value is at 7 Hz, the edge: no peak
    assert await call(weak) is None
    assert await call(np.zeros_like(freqs)) is None


_QUALITY = """async ({ message, channels, session }) => {
  const { QualityVerdicts, QUALITY_STALE_MS } = await import("/kiosk/quality.js");
  const verdicts = new QualityVerdicts();
  const before = verdicts.fresh(0);
  const taken = verdicts.take(message, channels, session, 1000);
  return {
    before,
    taken,
    verdicts: verdicts.verdicts,
    fresh: verdicts.fresh(1000 + QUALITY_STALE_MS - 1),
    stale: verdicts.fresh(1000 + QUALITY_STALE_MS),
    silent: verdicts.silentS(4200),
    other: verdicts.take({ ...message, session: "another" }, channels, session, 5000),
  };
}"""


async def test_quality_verdicts_follow_the_hellos_channels_and_go_stale(
    static_page: Page,
) -> None:
    # A quality message as the daemon sends it, its channels in another order than the hello,
    # one channel the hello does not have, one of the hello's left out, one malformed entry.
    message = {
        "type": "quality",
        "timestamp": 1_700_000_000_000_000,
        "session": "s1",
        "first_sample": 250,
        "window_s": 1.0,
        "channels": [
            {
                "name": "O2",
                "level": "bad",
                "reason": "railed: 100% of samples at full scale",
                "short": "railed 100%",
            },
            {
                "name": "C3",
                "level": "bad",
                "reason": "flat line: 0.00 µV peak to peak",
                "short": "flat",
            },
            {"name": "Cz", "level": "good", "reason": "good signal", "short": "good"},
            {"name": "O1", "level": "good", "reason": "good signal", "short": "good"},
            {"name": "Fp1", "level": "purple"},
        ],
    }
    result = await static_page.evaluate(
        _QUALITY, {"message": message, "channels": ["C3", "O1", "O2", "Fp1"], "session": "s1"}
    )

    assert result["before"] is False
    assert result["taken"] is True
    verdicts = result["verdicts"]
    assert [v and v["level"] for v in verdicts] == ["bad", "good", "bad", None]
    assert verdicts[0]["reason"].startswith("flat")
    assert verdicts[2] == {
        "level": "bad",
        "reason": "railed: 100% of samples at full scale",
        "short": "railed 100%",
    }
    assert (result["fresh"], result["stale"], result["silent"]) == (True, False, 3)
    assert result["other"] is False  # another session's verdicts are not this one's


_PAGES = """async () => {
  const { lanesPerPage, pages, pageName } = await import("/kiosk/lanes.js");
  const names = Array.from({ length: 32 }, (_, c) => `E${c + 1}`);
  const perPage = lanesPerPage(360);
  const split = pages(32, new Set([1, 2]), perPage);
  return { perPage, split, first: pageName(names, split[0]), none: pages(2, new Set([0, 1]), 8) };
}"""


async def test_pages_keep_lanes_touch_sized_and_skip_hidden_channels(static_page: Page) -> None:
    result = await static_page.evaluate(_PAGES)
    assert result["perPage"] == 8  # 360 px: 8 lanes of 45 px
    assert result["split"][0] == [0, 3, 4, 5, 6, 7, 8, 9]
    assert sum(len(page) for page in result["split"]) == 30
    assert all(len(page) <= 8 for page in result["split"])
    assert result["first"] == "E1–E10"
    assert result["none"] == [[]]


_LEDGER = """async (status) => {
  const { ledgerLine, sessionLedger } = await import("/kiosk/health.js");
  return ledgerLine(sessionLedger(status, "s1"));
}"""


async def test_ledger_line_says_all_delivered_or_what_was_lost_and_where(
    static_page: Page,
) -> None:
    whole = {"source": {"sample_rate": 250}, "ledger": {"sessions": [_session(lost=0)]}}
    gap = {"first_sample": 2500, "count": 500, "duration_s": 2.0, "cause": "outage"}
    lossy = {"source": {"sample_rate": 250}, "ledger": {"sessions": [_session(500, [gap])]}}

    assert await static_page.evaluate(_LEDGER, whole) == "all samples delivered · 0:40 of data"
    assert await static_page.evaluate(_LEDGER, lossy) == (
        "lost 500 samples (2.0 s) in 1 gap: 2.0 s at 0:10 (outage) · 0:40 of data"
    )


def _session(lost: int, gaps: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {
        "id": "s1",
        "sample_rate": 250,
        "expected": 10_000,
        "acquired": 10_000 - lost,
        "lost": lost,
        "gaps": gaps or [],
        "gap_count": len(gaps or []),
    }


_HEAD = """async (names) => {
  const { headPosition } = await import("/kiosk/montage.js");
  return names.map(headPosition);
}"""


async def test_head_positions_from_10_20_names_and_none_for_others(static_page: Page) -> None:
    fz, o1, o2, t3, fp2, unknown, ref = await static_page.evaluate(
        _HEAD, ["Fz", "O1", "o2", "T3", "Fp2", "EXG1", "A1"]
    )
    assert fz[0] == 0
    assert fz[1] > 0.3
    assert o1[0] < 0 < o2[0]
    assert o1[1] < -0.5
    assert t3[0] < -0.8
    assert t3[1] == 0
    assert fp2[0] > 0
    assert fp2[1] > 0.8
    assert unknown is None
    assert ref is None
