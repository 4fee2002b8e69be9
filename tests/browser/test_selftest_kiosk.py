"""The kiosk's self-test button against the real daemon on an emulated ADS1299."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.async_api import Page

from tests.browser.test_kiosk import _OVERFLOW, wait_for_state
from tests.support.live import LiveDaemons

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="session")]

DEADLINE_MS = 15_000
SELFTEST = "document.getElementById('selftest').dataset"
EMULATED = """
[source]
kind = "ads1299"
channels = 8
sample_rate = 250

[source.ads1299]
emulate = true
"""


async def test_selftest_button_runs_the_test_and_lists_every_channel(
    daemons: LiveDaemons, page: Page, tmp_path: Path
) -> None:
    config = tmp_path / "eegd.toml"
    config.write_text(EMULATED + f'\n[recording]\ndirectory = "{tmp_path}"\n')
    daemon = await daemons.start(config.read_text())
    await page.goto(daemon.url)
    await wait_for_state(page, "streaming")
    button = page.locator("#selftest-run")
    await button.wait_for(state="visible", timeout=DEADLINE_MS)
    box = await button.bounding_box()
    assert box is not None
    assert box["height"] >= 44
    assert box["width"] >= 44
    first_session = await page.evaluate("document.body.dataset.session")

    await button.click()
    await page.wait_for_function(f"{SELFTEST}.selftest === 'passed'", timeout=DEADLINE_MS)
    items = page.locator("#selftest-channels li")
    assert await items.count() == 9  # the verdict, then each channel
    assert await page.locator("#selftest-channels li[data-passed='true']").count() == 8
    assert "µVrms" in await items.nth(1).inner_text()
    await page.screenshot(path=str(tmp_path / "selftest.png"))
    layout = await page.evaluate(_OVERFLOW)
    assert layout["scrollWidth"] <= layout["width"], layout

    await page.wait_for_function(
        f"document.body.dataset.session !== {first_session!r} && {STATE_STREAMING}",
        timeout=DEADLINE_MS,
    )


STATE_STREAMING = "document.body.dataset.state === 'streaming'"


async def test_selftest_button_is_hidden_for_a_source_without_one(
    daemons: LiveDaemons, page: Page
) -> None:
    daemon = await daemons.start()
    await page.goto(daemon.url)
    await wait_for_state(page, "streaming")
    await page.wait_for_function("document.getElementById('selftest').hidden === true")
    assert await page.locator("#selftest-run").is_visible() is False
