"""Markers on the kiosk's traces, in Chromium against a real daemon in this process.

A flag stands at its marker's sample with its label, over every lane of every page; the
marker buttons carry the labels of ``[kiosk] marker_labels`` and keys 1–9 press them; a
played file's annotations are flags at their onsets, as far apart on screen as the time
axis says they are in the file.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
import pytest_asyncio
from playwright.async_api import Page

from tests.browser.test_kiosk import wait_for_state
from tests.support.live import LiveDaemon, live_daemon
from tests.support.recordings import write_recording

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="session")]

DEADLINE_MS = 15_000
LABELS = ("eyes closed", "eyes open", "blink")
_KIOSK = '[source]\nchannels = 32\n[kiosk]\nmarker_labels = ["eyes closed", "eyes open", "blink"]\n'

_FLAGS = """() => {
  const strip = document.getElementById("trace-strip").getBoundingClientRect();
  return [...document.querySelectorAll("#trace-strip .marker-flag")].map((flag) => {
    const box = flag.getBoundingClientRect();
    const label = flag.querySelector("span").getBoundingClientRect();
    return {
      label: flag.dataset.label,
      sample: Number(flag.dataset.sample),
      x: box.left - strip.left,
      top: box.top - strip.top,
      height: box.height,
      inside: box.left >= strip.left && box.left <= strip.right && label.width > 0 &&
        label.left >= strip.left - 0.5 && label.right <= strip.right + 0.5,
      strip: { width: strip.width, height: strip.height },
    };
  });
}"""


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def marking() -> AsyncIterator[LiveDaemon]:
    """32 synthetic channels (three pages at 800×480) and three marker labels."""
    async with live_daemon(_KIOSK) as live:
        yield live


async def _post_marker(url: str, label: str) -> dict[str, Any]:
    async with (
        aiohttp.ClientSession() as session,
        session.post(url + "api/markers", json={"label": label}) as response,
    ):
        response.raise_for_status()
        answer: dict[str, Any] = await response.json()
        return answer


async def _flag(page: Page, label: str) -> dict[str, Any]:
    """The flag labelled ``label``, once its sample is on screen (a marker of "now" is a
    little ahead of the trace, which runs a packet or two behind the newest sample)."""
    shown = f"({_FLAGS})().some((flag) => flag.label === {label!r} && flag.inside)"
    await page.wait_for_function(shown, timeout=DEADLINE_MS)
    flags: list[dict[str, Any]] = await page.evaluate(_FLAGS)
    return next(flag for flag in flags if flag["label"] == label)


async def test_marker_buttons_keys_and_flags_on_every_page(marking: LiveDaemon, page: Page) -> None:
    await page.goto(marking.url)
    await wait_for_state(page, "streaming")
    await page.wait_for_function(
        f"document.getElementById('markers').dataset.labels === {'|'.join(LABELS)!r}"
    )
    # 20 s on screen: the flags stay in view however slow the machine is.
    await page.click("#display-open")
    await page.click('#display-window button[data-value="20"]')
    await page.click("#display-close")
    await page.wait_for_function("document.body.dataset.windowS === '20'")
    await page.click("#marker")
    buttons = page.locator("#marker-menu button")
    assert await buttons.evaluate_all("(all) => all.map((b) => b.dataset.label)") == list(LABELS)
    for button in await buttons.all():
        box = await button.bounding_box()
        assert box is not None
        assert box["height"] >= 44
    await buttons.nth(0).click()
    closed = await _flag(page, "eyes closed")
    assert await page.locator("#marker-menu").is_hidden()

    await page.keyboard.press("2")
    opened = await _flag(page, "eyes open")
    assert opened["sample"] > closed["sample"]

    outside = await _post_marker(marking.url, "from a script")
    other = await _flag(page, "from a script")
    assert other["sample"] == outside["sample"]

    await page.click("#pause")  # and still while the pages are looked at
    pages = int(await page.evaluate("document.body.dataset.pages"))
    assert pages >= 2
    for number in range(1, pages + 1):
        await page.wait_for_function(f"document.body.dataset.page === '{number}'")
        for label in ("eyes closed", "eyes open", "from a script"):
            flag = await _flag(page, label)
            assert flag["top"] == pytest.approx(0, abs=1)
            assert flag["height"] >= 0.8 * flag["strip"]["height"]
        if number < pages:
            await page.click("#page-next")


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def annotated(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[LiveDaemon]:
    """An 8 s EDF+ file annotated at 5 s and 6 s, played 4 times faster to its end."""
    directory = tmp_path_factory.mktemp("annotated")
    file = write_recording(
        directory, seconds=8, annotations=((5.0, -1, "lights off"), (6.0, 0.5, "tone"))
    ).path
    toml = (
        f'[source]\nkind = "playback"\n[source.playback]\npath = "{file}"\nspeed = 4\n'
        f'directories = ["{directory}"]\n'
    )
    async with live_daemon(toml) as live:
        yield live


async def test_a_played_files_annotations_pass_by_at_their_onsets(
    annotated: LiveDaemon, page: Page
) -> None:
    await page.goto(annotated.url)
    await page.wait_for_function("document.body.dataset.session !== undefined")
    session = await page.evaluate("document.body.dataset.session")
    async with (  # from the start, with the page watching
        aiohttp.ClientSession() as client,
        client.put(annotated.url + "api/source", json={}) as response,
    ):
        response.raise_for_status()
    await page.wait_for_function(f"document.body.dataset.session !== {session!r}")
    await wait_for_state(page, "ended", DEADLINE_MS)
    await _flag(page, "lights off")
    await _flag(page, "tone")
    flags = {flag["label"]: flag for flag in await page.evaluate(_FLAGS)}  # at one moment
    off, tone = flags["lights off"], flags["tone"]
    rate = float(await page.evaluate("document.body.dataset.sampleRate"))
    assert tone["sample"] - off["sample"] == rate  # onsets 1 s apart in the file
    window_s = float(await page.evaluate("document.body.dataset.windowS"))
    # One second of the time axis, in CSS pixels: the strip spans the window.
    second_px = off["strip"]["width"] / window_s
    assert tone["x"] - off["x"] == pytest.approx(second_px, abs=2)
