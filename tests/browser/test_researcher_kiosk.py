"""The kiosk a researcher uses, against the real daemon in this process, in Chromium at 800×480.

Daemons serve the module (each started once, each page a fresh one): 32 synthetic channels
with the default alpha rhythm; 8 synthetic channels with alpha off, wrapped by the faulty
source to hold C3 flat and O2 at the ADC's full scale; and one that goes silent for 2 s. Tests
read data- attributes and boxes.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
from playwright.async_api import Page

from tests.browser.test_kiosk import wait_for_state
from tests.support.faults import FLAT_C3_RAILED_O2
from tests.support.live import LiveDaemon, live_daemon
from tests.support.rest import api
from tests.support.timing import scaled

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="session")]

DEADLINE_MS = 15_000
#: Spectra (4 a second) after which the kiosk's running average spans about 3 s.
SETTLED_SPECTRA = 12
SPECTRUM = "document.getElementById('spectrum').dataset"


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def thirty_two() -> AsyncIterator[LiveDaemon]:
    """32 channels at 250 Hz, alpha over the occipital and parietal channels."""
    async with live_daemon("[source]\nchannels = 32\n") as live:
        yield live


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def faults() -> AsyncIterator[LiveDaemon]:
    """8 channels without alpha; C3 flat, O2 railed (the faulty source's options)."""
    async with live_daemon(FLAT_C3_RAILED_O2) as live:
        yield live


_BOXES = """(selector) => [...document.querySelectorAll(selector)]
  .filter((el) => el.getClientRects().length && getComputedStyle(el).visibility !== "hidden")
  .map((el) => {
    const box = el.getBoundingClientRect();
    return { html: el.outerHTML.slice(0, 120), x: box.x, y: box.y, w: box.width, h: box.height };
  })"""

CONTROLS = "button, summary, input, select"


def _overlapping(boxes: list[dict[str, Any]]) -> list[tuple[str, str]]:
    pairs = []
    for i, a in enumerate(boxes):
        for b in boxes[i + 1 :]:
            width = min(a["x"] + a["w"], b["x"] + b["w"]) - max(a["x"], b["x"])
            height = min(a["y"] + a["h"], b["y"] + b["h"]) - max(a["y"], b["y"])
            if width > 0.5 and height > 0.5:
                pairs.append((a["html"], b["html"]))
    return pairs


async def _assert_controls_touch_sized(page: Page) -> int:
    controls = await page.evaluate(_BOXES, CONTROLS)
    small = [box["html"] for box in controls if box["h"] < 44]
    assert small == [], small
    return len(controls)


async def test_32_channels_fit_800x480_in_pages_of_touch_sized_lanes(
    thirty_two: LiveDaemon, page: Page
) -> None:
    await page.goto(thirty_two.url)
    await wait_for_state(page, "streaming", DEADLINE_MS)
    await page.wait_for_function("document.body.dataset.channels === '32'")

    seen: list[str] = []
    pages = int(await page.evaluate("document.body.dataset.pages"))
    for number in range(1, pages + 1):
        await page.wait_for_function(f"document.body.dataset.page === '{number}'")
        labels = await page.evaluate(_BOXES, "#lane-labels button")
        assert labels, "no lane labels"
        assert _overlapping(labels) == []
        seen += await page.locator("#lane-labels button").all_inner_texts()
        await _assert_controls_touch_sized(page)
        if number < pages:
            await page.click("#page-next")
    assert len(seen) == 32
    assert len(set(seen)) == 32

    await page.click("#lane-labels button >> nth=0")
    selected = await page.evaluate("document.body.dataset.selectedChannel")
    assert selected == seen[-len(await page.locator("#lane-labels button").all())]
    assert selected in await page.locator("#spectrum-note").inner_text()
    assert selected in await page.locator("#channel-info").inner_text()

    await page.click("#display-open")
    await page.locator("#display-panel").wait_for(state="visible")
    assert await _assert_controls_touch_sized(page) > 30
    await page.click("#hide-channel")
    hidden = await page.evaluate("document.body.dataset.hidden")
    assert hidden == selected
    assert selected not in await page.locator("#lane-labels").inner_text()


async def test_filter_changes_show_both_ways(thirty_two: LiveDaemon, page: Page) -> None:
    await page.goto(thirty_two.url)
    await wait_for_state(page, "streaming", DEADLINE_MS)
    summary = page.locator("#filter-summary")
    await page.wait_for_function("document.body.dataset.filter.includes('notch 50 Hz')")

    await api(thirty_two, "PUT", "api/filter", {"notch_hz": 60, "lowpass_hz": 30})
    # The page reads /api/filter only when it connects: a change made elsewhere reaches it by
    # the config_changed event alone, whatever the deadline.
    await page.wait_for_function(
        "document.body.dataset.filter === '0.5–30 Hz · notch 60 Hz'", timeout=DEADLINE_MS
    )
    assert json.loads(await summary.get_attribute("data-filter") or "null")["notch_hz"] == 60

    await page.click("#display-open")
    await page.click('#display-notch_hz button[data-value="0"]')
    await page.click('#display-highpass_hz button[data-value="1"]')
    await page.wait_for_function("document.body.dataset.filter === '1–30 Hz'")
    state = await api(thirty_two, "GET", "api/filter")
    assert (state["notch_hz"], state["highpass_hz"], state["lowpass_hz"]) == (None, 1, 30)
    pressed = page.locator('#display-notch_hz button[aria-pressed="true"]')
    assert await pressed.get_attribute("data-value") == "0"
    await api(thirty_two, "PUT", "api/filter", {"notch_hz": 50, "highpass_hz": 0.5})


async def test_alpha_peak_reads_10_hz_on_an_occipital_channel(
    thirty_two: LiveDaemon, page: Page
) -> None:
    await page.goto(thirty_two.url)
    await wait_for_state(page, "streaming", DEADLINE_MS)
    await page.click('#lane-labels button[data-channel="O1"]')
    # The readout names the peak of a running average (peak.js PEAK_SMOOTHING, about 2.5 s of
    # spectra); read it once that average spans that long, not from the first 2 s spectrum,
    # whose peak a waning alpha can put half a hertz off.
    await page.wait_for_function(
        f"Number({SPECTRUM}.spectra) >= {SETTLED_SPECTRA} && {SPECTRUM}.peakHz !== undefined",
        timeout=DEADLINE_MS,
    )
    # One evaluate reads both, so a spectrum arriving in between cannot split them.
    shown, readout = await page.evaluate(
        f"[{SPECTRUM}.peakHz, document.getElementById('peak-readout').textContent]"
    )
    assert float(shown) == pytest.approx(10, abs=0.5)
    assert readout == f"alpha peak {shown} Hz"


async def test_no_clear_peak_without_alpha_and_red_dots_for_flat_and_railed(
    faults: LiveDaemon, page: Page
) -> None:
    await page.goto(faults.url)
    await wait_for_state(page, "streaming", DEADLINE_MS)
    await page.wait_for_function(f"{SPECTRUM}.peak !== undefined", timeout=DEADLINE_MS)
    first = int(await page.evaluate(f"{SPECTRUM}.spectra"))
    for count in range(first, first + 8, 2):  # spectra over 2 s: none of them shows a peak
        await page.wait_for_function(f"Number({SPECTRUM}.spectra) >= {count}")
        assert await page.evaluate(f"{SPECTRUM}.peak") == "none"
        assert await page.evaluate(f"{SPECTRUM}.peakHz") is None
    assert "no clear alpha peak" in await page.locator("#peak-readout").inner_text()

    def label(name: str) -> str:
        return f'#lane-labels button[data-channel="{name}"]'

    await page.wait_for_function(
        f"document.querySelector('{label('O2')}').dataset.quality === 'bad'"
        f" && document.querySelector('{label('C3')}').dataset.quality === 'bad'"
        f" && document.querySelector('{label('O1')}').dataset.quality === 'good'",
        timeout=DEADLINE_MS,
    )
    assert (await page.get_attribute(label("O2"), "data-quality-reason") or "").startswith("railed")
    assert (await page.get_attribute(label("C3"), "data-quality-reason") or "").startswith("flat")
    await page.click(label("O2"))
    assert "railed" in await page.locator("#channel-info").inner_text()
    assert await page.get_attribute("#channel-info", "data-quality") == "bad"


_SILENT = """
[source]
kind = "faulty"

[source.faulty]
wraps = "synthetic"
silence_every = 12      # about 1.5 s in (32-sample reads at 250 Hz)
silence_s = 2
silence_times = 1

[supervisor]            # reopen within 50 ms of the device's return: the gap is the silence
initial_backoff = 0.02
max_backoff = 0.05
"""

HEALTH = "document.getElementById('health').dataset"


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def silent() -> AsyncIterator[LiveDaemon]:
    """A synthetic source that goes silent for 2 s once, about 1.5 s after it opens."""
    async with live_daemon(_SILENT) as live:
        yield live


async def test_a_2_s_outage_shows_as_a_2_s_gap_and_a_new_session_starts_from_zero(
    silent: LiveDaemon, page: Page
) -> None:
    await page.goto(silent.url)
    await wait_for_state(page, "streaming", DEADLINE_MS)
    session = (await api(silent, "GET", "api/status"))["source"]["session"]
    await page.wait_for_function(f"{HEALTH}.session === '{session}'")

    await page.wait_for_function(f"Number({HEALTH}.lost) > 0", timeout=30_000)
    ledger = (await api(silent, "GET", "api/status"))["ledger"]["session"]
    assert ledger["id"] == session
    (gap,) = ledger["gaps"]
    # The silence is 2 s of the source's real time. The reopen after it adds to the gap, and
    # on a loaded machine (four test workers on two cores) it took 0.7 s: a deadline.
    assert 1.5 <= gap["duration_s"] <= 2 + scaled(2)
    await page.wait_for_function(f"{HEALTH}.lost === '{ledger['lost']}'")
    shown = await page.evaluate(f"({{...{HEALTH}}})")
    assert shown["gaps"] == "1"
    assert float(shown["lastGapS"]) == pytest.approx(gap["duration_s"])
    line = await page.locator("#health").inner_text()
    assert f"lost {ledger['lost']:,} samples" in line
    assert f"{gap['duration_s']:.1f} s at" in line

    await api(silent, "PUT", "api/source", {"kind": "synthetic"})
    await page.wait_for_function(f"{HEALTH}.session !== '{session}' && {HEALTH}.lost === '0'")
    assert (await page.locator("#health").inner_text()).startswith("all samples delivered")
