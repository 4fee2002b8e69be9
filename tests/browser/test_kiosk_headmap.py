"""The head map in Chromium: one band's power interpolated over the scalp, its band chosen
below it, a colour scale in µV², and 32 electrode names that stay apart at 800×480.

The interpolation is checked against spectra sent by a stand-in for eegd's /ws (the page's
HTTP side is a real daemon's): alpha power 100 µV² at O1 and O2 and 1 µV² elsewhere must
colour the scalp between O1 and O2 hot, between Fp1 and Fp2 cold, and the vertex between.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import numpy as np
import pytest
import pytest_asyncio
from playwright.async_api import Page

from eegd.events import FftPacket, frozen_array
from eegd.net.protocol import encode_event, encode_server_message
from tests.browser.test_kiosk import _FREQS, _hello, eventually, open_faked, wait_for_state
from tests.support.live import LiveDaemon, live_daemon

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="session")]

DEADLINE_MS = 15_000
HEAD = "document.getElementById('headmap-canvas').dataset"
EIGHT = ("Fp1", "Fp2", "C3", "C4", "P3", "P4", "O1", "O2")


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def thirty_two() -> AsyncIterator[LiveDaemon]:
    async with live_daemon("[source]\nchannels = 32\n") as live:
        yield live


def _alpha_at_the_back() -> bytes:
    """A spectrum whose alpha power is 100 µV² at O1 and O2, 1 µV² elsewhere; other bands 1."""
    bands = np.ones((len(EIGHT), 5), np.float32)
    bands[[EIGHT.index("O1"), EIGHT.index("O2")], 2] = 100.0
    packet = FftPacket(
        source_frame_id=1,
        timestamp=1_700_000_000_000_000,
        freqs=frozen_array(_FREQS, np.float32),
        psd=frozen_array(np.ones((len(EIGHT), len(_FREQS))), np.float32),
        band_power=frozen_array(bands, np.float32),
        fft_size=500,
        window="hann",
        sample_rate=250.0,
        channel_names=EIGHT,
        monotonic_ns=1,
    )
    return encode_event(packet)


_DRAWN_AT_ITS_SIZE = """() => {
  const canvas = document.getElementById("headmap-canvas");
  const { width, height } = canvas.getBoundingClientRect();
  const ratio = window.devicePixelRatio || 1;
  return canvas.dataset.labels !== undefined
    && Math.abs(canvas.width / ratio - width) < 1 && Math.abs(canvas.height / ratio - height) < 1;
}"""

_LABELS_AND_SIZE = """() => {
  const canvas = document.getElementById("headmap-canvas");
  const { width, height } = canvas.getBoundingClientRect();
  return { labels: canvas.dataset.labels, font: canvas.dataset.font, canvas: { width, height } };
}"""

_LIGHTNESS = """([x, y]) => {
  const canvas = document.getElementById("headmap-canvas");
  const ratio = canvas.width / canvas.getBoundingClientRect().width;
  const [r, g, b] = canvas.getContext("2d")
    .getImageData(Math.round(x * ratio), Math.round(y * ratio), 1, 1).data;
  return (Math.max(r, g, b) + Math.min(r, g, b)) / 2 / 255;
}"""


async def test_band_power_is_interpolated_over_the_scalp_with_a_scale_in_uv2(
    thirty_two: LiveDaemon, page: Page
) -> None:
    fake_server, server = await open_faked(page, thirty_two.url)
    await eventually(lambda: bool(fake_server.received))
    server.send(encode_server_message(_hello("a", EIGHT)))
    await page.wait_for_function("document.body.dataset.channels === '8'")
    await page.click('#views button[data-view="head"]')
    for count in range(1, 4):
        server.send(_alpha_at_the_back())
        await page.wait_for_function(
            f"document.getElementById('spectrum').dataset.spectra === '{count}'"
        )
    await page.wait_for_function(f"{HEAD}.colorbar !== undefined", timeout=DEADLINE_MS)
    assert await page.evaluate(f"{HEAD}.band") == "alpha"
    assert await page.evaluate(f"{HEAD}.colorbar") == "1..100 µV²"

    places = {
        e["name"]: (e["x"], e["y"]) for e in json.loads(await page.evaluate(f"{HEAD}.electrodes"))
    }

    def between(a: str, b: str) -> list[float]:
        return [(places[a][0] + places[b][0]) / 2, (places[a][1] + places[b][1]) / 2]

    back = await page.evaluate(_LIGHTNESS, between("O1", "O2"))
    vertex = await page.evaluate(_LIGHTNESS, between("C3", "C4"))
    front = await page.evaluate(_LIGHTNESS, between("Fp1", "Fp2"))
    assert back > vertex > front, (back, vertex, front)

    await page.click('#head-bands button[data-band="theta"]')
    await page.wait_for_function(f"{HEAD}.band === 'theta'")
    assert (
        await page.get_attribute('#head-bands button[data-band="theta"]', "aria-pressed") == "true"
    )


def _overlaps(boxes: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [
        (a["name"], b["name"])
        for i, a in enumerate(boxes)
        for b in boxes[i + 1 :]
        if a["x"] < b["x"] + b["w"]
        and b["x"] < a["x"] + a["w"]
        and a["y"] < b["y"] + b["h"]
        and b["y"] < a["y"] + a["h"]
    ]


async def test_32_electrodes_are_readable_at_800x480(thirty_two: LiveDaemon, page: Page) -> None:
    await page.goto(thirty_two.url)
    await wait_for_state(page, "streaming")
    await page.click('#views button[data-view="head"]')
    await page.wait_for_function(f"{HEAD}.colorbar !== undefined", timeout=DEADLINE_MS)
    # the labels are laid out for the canvas's size at its last draw: wait for a draw at the
    # size the page settled on (the view's bars appear after its first one), read both at once
    await page.wait_for_function(_DRAWN_AT_ITS_SIZE, timeout=DEADLINE_MS)
    drawn = await page.evaluate(_LABELS_AND_SIZE)
    boxes, canvas = json.loads(drawn["labels"]), drawn["canvas"]
    assert len(boxes) == 32
    assert _overlaps(boxes) == []
    assert int(drawn["font"]) >= 10
    for box in boxes:
        assert 0 <= box["x"] <= box["x"] + box["w"] <= canvas["width"], box
        assert 0 <= box["y"] <= box["y"] + box["h"] <= canvas["height"], box
    assert canvas["height"] >= 180  # the map has the bars' room
    assert (await page.evaluate(f"{HEAD}.colorbar")).endswith(" µV²")
    buttons = page.locator("#head-bands button")
    assert await buttons.count() == 5
    for button in await buttons.all():
        box = await button.bounding_box()
        assert box is not None
        assert box["height"] >= 44
