"""The kiosk's source settings panel against the real daemon, at the 800×480 kiosk screen.

It opens from a button, switches the synthetic source's rate with ``PUT /api/source``, shows
a refusal's message and leaves the stream as it was, and follows a switch someone else makes
(to a BrainFlow board, whose rate and channels are facts shown read-only).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from playwright.async_api import Locator, Page

from tests.browser.test_kiosk import _OVERFLOW, wait_for_state
from tests.support.live import LiveDaemons

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="session")]

DEADLINE_MS = 15_000
PANEL = "document.getElementById('source-settings').dataset"
STREAMING = "document.body.dataset.state === 'streaming'"


async def api_source(url: str, method: str = "GET", body: Any = None) -> tuple[int, Any]:
    """``GET`` or ``PUT /api/source``: the status and the JSON reply."""
    async with (
        aiohttp.ClientSession() as session,
        session.request(method, url.rstrip("/") + "/api/source", json=body) as response,
    ):
        return response.status, await response.json()


async def assert_touch_sized(controls: Locator) -> int:
    """Every visible control of ``controls`` is at least 44 px high and wide; returns how many."""
    seen = 0
    for control in await controls.all():
        if not await control.is_visible():
            continue
        box = await control.bounding_box()
        assert box is not None
        html = await control.evaluate("(el) => el.outerHTML")
        assert box["height"] >= 44, html
        assert box["width"] >= 44, html
        seen += 1
    return seen


async def wait_for(page: Page, condition: str) -> None:
    await page.wait_for_function(condition, timeout=DEADLINE_MS)


async def test_switch_250_to_1000_hz_then_a_refused_channel_count_changes_nothing(
    daemons: LiveDaemons, page: Page, tmp_path: Path
) -> None:
    daemon = await daemons.start(overrides={"source.sample_rate": 250})
    await page.goto(daemon.url)
    await wait_for_state(page, "streaming")
    await wait_for(page, f"{PANEL}.sourceRate === '250' && {PANEL}.sourceEditable === 'true'")
    assert await page.locator("#source-panel").is_hidden()
    assert await assert_touch_sized(page.locator("#source-open")) == 1

    await page.click("#source-open")
    await wait_for(page, f"{PANEL}.sourceOpen === 'true'")
    panel = page.locator("#source-panel")
    rates = panel.locator("#source-rates button")
    assert await rates.evaluate_all("(buttons) => buttons.map((b) => b.dataset.rate)") == [
        "250",
        "500",
        "1000",
        "2000",
        "4000",
        "8000",
        "16000",
    ]
    assert await panel.locator("#source-rates button[aria-pressed='true']").get_attribute(
        "data-rate"
    ) == ("250")
    assert await page.input_value("#source-channels") == "8"
    # Every control of the panel is a touch target, and the panel fits the screen.
    assert await assert_touch_sized(panel.locator("button, input")) == 7 + 5
    box = await panel.bounding_box()
    assert box is not None
    assert box["y"] >= 0
    assert box["y"] + box["height"] <= 480
    layout = await page.evaluate(_OVERFLOW)
    assert layout["scrollWidth"] <= layout["width"], layout

    first_session = await page.evaluate("document.body.dataset.session")
    await panel.locator("#source-rates button[data-rate='1000']").click()
    await page.click("#source-apply")
    await wait_for(page, f"{PANEL}.sourceApplied === '1000'")
    # The new session's hello reached the status, and the daemon runs at 1000 Hz.
    await wait_for(
        page,
        f"document.body.dataset.sampleRate === '1000' && {STREAMING}"
        f" && document.body.dataset.session !== {json.dumps(first_session)}",
    )
    assert await page.evaluate(f"{PANEL}.sourceRate") == "1000"
    status, state = await api_source(daemon.url)
    assert status == 200
    assert state["settings"]["sample_rate"] == 1000
    assert state["session"]["sample_rate"] == 1000
    assert await page.evaluate(f"{PANEL}.sourceError") is None

    # 40 channels can be typed but not run: the daemon's refusal is the error line.
    session = state["session"]["id"]
    await page.fill("#source-channels", "40")
    await page.click("#source-apply")
    await wait_for(page, f"{PANEL}.sourceError !== undefined")
    error = await page.evaluate(f"{PANEL}.sourceError")
    assert error.startswith("source.channels: 40 is out of range"), error
    assert await page.locator("#source-message").inner_text() == error
    assert await page.locator("#source-message").is_visible()
    await page.screenshot(path=str(tmp_path / "source-refused.png"))
    frames = int(await page.evaluate("document.body.dataset.frames"))
    await wait_for(page, f"Number(document.body.dataset.frames) > {frames + 2} && {STREAMING}")
    status, state = await api_source(daemon.url)
    assert state["session"]["id"] == session
    assert state["session"]["sample_rate"] == 1000
    assert len(state["session"]["channels"]) == 8
    assert await page.evaluate("document.body.dataset.session") == session

    await page.click("#source-close")
    await wait_for(page, f"{PANEL}.sourceOpen === 'false'")
    assert await panel.is_hidden()


async def test_a_switch_made_elsewhere_shows_and_a_boards_facts_are_read_only(
    daemons: LiveDaemons, page: Page
) -> None:
    daemon = await daemons.start(overrides={"source.sample_rate": 250})
    await page.goto(daemon.url)
    await wait_for_state(page, "streaming")
    await page.click("#source-open")
    await wait_for(page, f"{PANEL}.sourceOpen === 'true' && {PANEL}.sourceRate === '250'")

    status, reply = await api_source(daemon.url, "PUT", {"sample_rate": 500})
    assert status == 200, reply
    await wait_for(page, f"{PANEL}.sourceRate === '500'")
    pressed = page.locator("#source-rates button[aria-pressed='true']")
    await wait_for(
        page,
        "document.querySelector(\"#source-rates button[aria-pressed='true']\")"
        "?.dataset.rate === '500'",
    )
    assert await pressed.count() == 1

    body = {"kind": "brainflow", "sample_rate": None, "brainflow": {"board": "synthetic"}}
    status, reply = await api_source(daemon.url, "PUT", body)
    assert status == 200, reply
    channels = len(reply["session"]["channels"])
    rate = reply["session"]["sample_rate"]
    assert reply["choices"] == {"sample_rate": None, "channels": None}
    await wait_for(
        page,
        f"{PANEL}.sourceKind === 'brainflow' && {PANEL}.sourceEditable === 'false'"
        f" && {PANEL}.sourceChannels === '{channels}' && {PANEL}.sourceRate === '{rate:g}'",
    )
    assert await page.locator("#source-rates").is_hidden()
    assert await page.locator("#source-channels").is_hidden()
    assert await page.locator("#source-rate-fact").is_visible()
    assert await page.locator("#source-channels-fact").inner_text() == str(channels)
    assert await page.locator("#source-apply").is_disabled()
    assert await assert_touch_sized(page.locator("#source-panel button")) == 2
