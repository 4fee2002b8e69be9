"""The kiosk's impedance panel in Chromium against a real daemon on the emulated ADS1299.

The emulated electrodes have the impedances the configuration gives them, so the page must
show those figures (within 10 %) on tiles of the colour their grade has, at the kiosk's
800×480 and a laptop's 1366×768; a refused check says why (a recording in progress, a
source that cannot measure impedance, a page that has not signed in).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.async_api import Page

from eegd.net.security.tokens import hash_token, new_token
from tests.browser.test_kiosk import _OVERFLOW, wait_for_state
from tests.browser.test_selftest_kiosk import EMULATED
from tests.support.live import LiveDaemon, LiveDaemons
from tests.support.rest import api

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="session")]

DEADLINE_MS = 20_000
PANEL = "document.getElementById('impedance-panel').dataset"
KOHMS: list[float | str] = [2, 5, 20, 80, "off", 10, 40, 150]
KNOWN = (
    EMULATED + "lead_off_current_na = 24\n"
    'emulated_impedance_kohm = [2, 5, 20, 80, "off", 10, 40, 150]\n'
)
TOKEN = new_token()
AUTH = f'[auth]\noperator_token_hashes = ["{hash_token(TOKEN)}"]\n'
#: Each grade's colour as the page resolves it (the theme's variables).
COLOURS = """() => Object.fromEntries(
  [["green", "--live"], ["yellow", "--wait"], ["red", "--down"]].map(([grade, variable]) => {
    const probe = document.createElement("i");
    probe.style.color = `var(${variable})`;
    document.body.append(probe);
    const colour = getComputedStyle(probe).color;
    probe.remove();
    return [grade, colour];
  }),
)"""
TILES = """() => [...document.querySelectorAll('#impedance-electrodes li')].map((li) => {
  const box = li.getBoundingClientRect();
  return {
    name: li.querySelector('strong').textContent,
    text: li.querySelector('span').textContent,
    colour: getComputedStyle(li).borderTopColor,
    inside: box.top >= 0 && box.left >= 0 && box.bottom <= innerHeight && box.right <= innerWidth,
  };
})"""


async def check(page: Page, daemon: LiveDaemon, outcome: str) -> None:
    """Open the panel, press Check and wait for ``outcome`` (done, refused)."""
    await page.goto(daemon.url)
    await wait_for_state(page, "streaming")
    await page.click("#impedance-open")
    await page.click("#impedance-check")
    await page.wait_for_function(f"{PANEL}.impedance === '{outcome}'", timeout=DEADLINE_MS)


def expected_colour(kohm: float | str, colours: dict[str, str]) -> str:
    """The colour of an electrode's grade: green to 10 kΩ, yellow to 50 kΩ (the legend)."""
    if kohm == "off" or float(kohm) > 50:
        return colours["red"]
    return colours["green"] if float(kohm) <= 10 else colours["yellow"]


async def test_a_check_shows_every_electrode_in_kohm_in_its_grade_colour(
    daemons: LiveDaemons, page: Page, tmp_path: Path
) -> None:
    daemon = await daemons.start(KNOWN)
    await check(page, daemon, "done")
    legend = await page.locator("#impedance-legend").inner_text()
    assert "green ≤ 10 kΩ" in legend
    assert "yellow ≤ 50 kΩ" in legend
    colours = await page.evaluate(COLOURS)
    assert len(set(colours.values())) == 3
    for size in ({"width": 800, "height": 480}, {"width": 1366, "height": 768}):
        await page.set_viewport_size(size)
        tiles = await page.evaluate(TILES)
        assert [tile["name"] for tile in tiles] == [
            "Fp1",
            "Fp2",
            "C3",
            "C4",
            "P3",
            "P4",
            "O1",
            "O2",
        ]
        for tile, truth in zip(tiles, KOHMS, strict=True):
            assert tile["inside"], (size, tile)
            assert tile["colour"] == expected_colour(truth, colours), (tile, truth)
            if truth == "off":
                assert tile["text"] == "off"
                continue
            shown = re.fullmatch(r"([\d.]+) kΩ", tile["text"])
            assert shown is not None, tile
            assert float(shown.group(1)) == pytest.approx(float(truth), rel=0.10), (tile, truth)
        layout = await page.evaluate(_OVERFLOW)
        assert layout["scrollWidth"] <= layout["width"], layout
        await page.screenshot(path=str(tmp_path / f"impedance-{size['width']}.png"))
    assert await page.locator("#impedance-message").is_hidden()
    await page.click("#impedance-close")
    assert await page.locator("#impedance-panel").is_hidden()


async def test_a_check_during_a_recording_is_refused_in_the_panel(
    daemons: LiveDaemons, page: Page, tmp_path: Path
) -> None:
    daemon = await daemons.start(KNOWN + f'\n[recording]\ndirectory = "{tmp_path}"\n')
    await api(daemon, "POST", "api/recordings", {"name": "busy"})
    await check(page, daemon, "refused")
    assert await page.evaluate(f"{PANEL}.code") == "recording"
    message = await page.locator("#impedance-message").inner_text()
    assert "Impedance check refused" in message
    assert "busy is in progress" in message
    assert await page.locator("#impedance-electrodes li").count() == 0


async def test_a_source_without_impedance_is_named(daemons: LiveDaemons, page: Page) -> None:
    daemon = await daemons.start()
    await page.goto(daemon.url)
    await wait_for_state(page, "streaming")
    await page.click("#impedance-open")
    await page.wait_for_function(
        "document.getElementById('impedance-message').textContent.includes('synthetic')"
    )
    await page.click("#impedance-check")
    await page.wait_for_function(f"{PANEL}.impedance === 'refused'", timeout=DEADLINE_MS)
    assert await page.evaluate(f"{PANEL}.code") == "no_impedance"
    message = await page.locator("#impedance-message").inner_text()
    assert "synthetic source has no impedance check" in message


async def test_a_page_not_signed_in_is_asked_to_and_then_checks(
    daemons: LiveDaemons, page: Page
) -> None:
    daemon = await daemons.start(KNOWN + AUTH)
    await check(page, daemon, "refused")
    assert await page.evaluate(f"{PANEL}.code") == "unauthorized"
    assert "needs an operator" in await page.locator("#impedance-message").inner_text()
    form = page.locator("#signin-form")
    await form.wait_for(state="visible", timeout=DEADLINE_MS)
    assert "Impedance check needs an operator" in await page.locator("#signin-message").inner_text()
    await page.fill("#signin-token", TOKEN)
    await page.click("#signin-submit")
    await page.wait_for_function("document.getElementById('signin').dataset.role === 'operator'")
    await page.click("#impedance-check")
    await page.wait_for_function(f"{PANEL}.impedance === 'done'", timeout=DEADLINE_MS)
    assert await page.locator("#impedance-electrodes li").count() == 8
