"""The accelerometer in Chromium: BrainFlow's own synthetic board (the real library, board id
-1) through an in-process daemon gives an aux stream with accelerometer rows; the kiosk then
offers an Accel view with their traces in g, and a source without them offers none.

The values the page shows are compared with the same aux samples as eegd's Python client
decodes them from its own subscription (a decoder the page does not share), matched by their
index in the aux stream. Tests read data- attributes, boxes and pixels, never the wording.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import numpy as np
import pytest
import pytest_asyncio
from brainflow.board_shim import BoardIds, BoardShim
from playwright.async_api import Page

import eegd.client
from eegd.net.protocol import AuxFrame
from tests.browser.test_kiosk import wait_for_state
from tests.support.live import LiveDaemon, LiveDaemons, live_daemon
from tests.support.waiting import wait_until

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="session")]

DEADLINE_MS = 15_000
ACCEL = "document.getElementById('accel-canvas').dataset"
BRAINFLOW = f"""
[source]
kind = "brainflow"
batch_size = 25
[source.brainflow]
board = {int(BoardIds.SYNTHETIC_BOARD)}
"""

#: The share of the plot's width the traces must ink, of the share their samples span (the
#: newest at the right edge, the window 10 s wide); a blank or axis-only plot inks none.
MIN_INKED = 0.8
WINDOW_S = 10

_INKED = """() => {
  // The share of the plot's pixel columns in which some pixel is neither background nor grid
  // (the traces' own colours are saturated, the grid and axis grey), and the samples drawn.
  const samples = Number(document.getElementById("accel-canvas").dataset.samples);
  const canvas = document.getElementById("accel-canvas");
  const ratio = canvas.width / canvas.getBoundingClientRect().width;
  const ctx = canvas.getContext("2d");
  const left = Math.round(44 * ratio), right = canvas.width - Math.round(12 * ratio);
  const top = Math.round(30 * ratio), bottom = canvas.height - Math.round(24 * ratio);
  const pixels = ctx.getImageData(left, top, right - left, bottom - top).data;
  const width = right - left;
  let inked = 0;
  for (let x = 0; x < width; x += 1) {
    for (let y = 0; y < bottom - top; y += 1) {
      const i = 4 * (y * width + x);
      const [r, g, b, a] = [pixels[i], pixels[i + 1], pixels[i + 2], pixels[i + 3]];
      if (a > 128 && Math.max(r, g, b) - Math.min(r, g, b) > 60) {
        inked += 1;
        break;
      }
    }
  }
  return [inked / width, samples];
}"""

_BOXES = """() => {
  const box = (el) => el.getBoundingClientRect().toJSON();
  return {
    canvas: box(document.getElementById("accel-canvas")),
    tab: box(document.querySelector('#views [data-view="accel"]')),
    panel: box(document.getElementById("spectrum")),
    viewport: [document.documentElement.clientWidth, document.documentElement.clientHeight],
  };
}"""


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def brainflow() -> AsyncIterator[LiveDaemon]:
    """BrainFlow's synthetic board (16 EEG channels, accelerometer and battery rows)."""
    async with live_daemon(BRAINFLOW) as live:
        yield live


async def _aux_frames(live: LiveDaemon, frames: list[AuxFrame]) -> None:
    """Collect the daemon's aux frames as eegd's Python client decodes them."""
    async with eegd.client.connect(live.ws_url + "ws", ["aux"]) as stream:
        async for item in stream:
            if isinstance(item, AuxFrame):
                frames.append(item)


def _accelerometer_at(frames: list[AuxFrame], sample: int) -> list[float] | None:
    """The accelerometer values (the rows whose unit is g) of aux stream sample ``sample``,
    if a collected frame holds it."""
    for frame in frames:
        offset = sample - frame.first_sample
        if 0 <= offset < frame.n_samples:
            rows = [row for row, unit in enumerate(frame.units) if unit == "g"]
            return [float(frame.values[row, offset]) for row in rows]
    return None


@pytest.mark.parametrize(("width", "height"), [(800, 480), (1366, 768)])
async def test_brainflows_accelerometer_is_drawn_in_g_with_its_latest_values(
    brainflow: LiveDaemon, page: Page, width: int, height: int
) -> None:
    frames: list[AuxFrame] = []
    client = asyncio.create_task(_aux_frames(brainflow, frames))
    try:
        await page.set_viewport_size({"width": width, "height": height})
        await page.goto(brainflow.url)
        await wait_for_state(page, "streaming", DEADLINE_MS)
        tab = page.locator('#views [data-view="accel"]')
        await tab.wait_for(state="visible", timeout=DEADLINE_MS)
        await tab.click()
        assert await page.evaluate("document.getElementById('spectrum').dataset.view") == "accel"

        rate = BoardShim.get_sampling_rate(int(BoardIds.SYNTHETIC_BOARD))
        await page.wait_for_function(f"Number({ACCEL}.samples) >= {2 * rate}", timeout=DEADLINE_MS)
        data = await page.evaluate(f"({{...{ACCEL}}})")
        assert data["channels"] == "AccelX,AccelY,AccelZ"  # the battery is no accelerometer
        assert data["units"] == "g,g,g"
        inked, samples = await page.evaluate(_INKED)
        assert inked >= MIN_INKED * min(1.0, samples / (WINDOW_S * rate))

        latest = json.loads(data["latest"])
        await wait_until(lambda: _accelerometer_at(frames, latest["sample"]) is not None, 15)
        wanted = _accelerometer_at(frames, latest["sample"])
        np.testing.assert_allclose(latest["values"], wanted, rtol=1e-6)

        boxes = await page.evaluate(_BOXES)
        canvas, panel = boxes["canvas"], boxes["panel"]
        assert canvas["width"] >= 200
        assert canvas["height"] >= 100
        for key in ("canvas", "tab"):
            box = boxes[key]
            assert box["right"] <= min(panel["right"], boxes["viewport"][0]) + 0.5, key
            assert box["bottom"] <= min(panel["bottom"], boxes["viewport"][1]) + 0.5, key
    finally:
        client.cancel()


async def test_a_source_without_an_accelerometer_offers_no_accel_view(
    daemons: LiveDaemons, page: Page
) -> None:
    daemon = await daemons.start()
    await page.goto(daemon.url)
    await wait_for_state(page, "streaming", DEADLINE_MS)
    await page.wait_for_function("Number(document.body.dataset.frames) > 0")
    assert await page.locator('#views [data-view="accel"]').is_hidden()
    assert await page.locator("#accel-canvas").is_hidden()
    assert await page.evaluate(f"{ACCEL}.channels") == ""
