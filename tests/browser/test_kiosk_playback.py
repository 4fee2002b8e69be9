"""The kiosk's playback bar in Chromium against a daemon in this process that plays a file.

Pause and resume, seek (a new session that starts there: the file's annotation 2 s after the
place sought is a flag 2 s into the session, and nothing is counted lost), speed, loop,
another file from the playback directories, and the end of a file with its replay.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from playwright.async_api import Page

from tests.browser.test_kiosk import wait_for_state
from tests.support.live import LiveDaemon, live_daemon
from tests.support.recordings import write_recording

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="session")]

DEADLINE_MS = 15_000
BAR = "document.getElementById('playback').dataset"
SESSION = "document.body.dataset.session"


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def directory(tmp_path_factory: pytest.TempPathFactory) -> Path:
    played = tmp_path_factory.mktemp("playback")
    write_recording(played, seconds=30, name="long", annotations=((12.0, -1, "twelve"),))
    write_recording(played, seconds=4, name="short")
    return played


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def playing(directory: Path) -> AsyncIterator[LiveDaemon]:
    toml = (
        f'[source]\nkind = "playback"\n[source.playback]\npath = "{directory / "long.edf"}"\n'
        f'directories = ["{directory}"]\n'
    )
    async with live_daemon(toml) as live:
        yield live


async def wait_for(page: Page, condition: str) -> None:
    await page.wait_for_function(condition, timeout=DEADLINE_MS)


async def new_session(page: Page, before: str) -> str:
    await wait_for(page, f"{SESSION} !== {json.dumps(before)}")
    session: str = await page.evaluate(SESSION)
    return session


async def test_pause_resume_seek_speed_loop(playing: LiveDaemon, page: Page) -> None:
    await page.goto(playing.url)
    await wait_for_state(page, "streaming")
    await wait_for(page, f"{BAR}.playing === 'true' && {BAR}.file === 'long.edf'")
    for control in await page.locator("#playback button:visible, #playback input").all():
        box = await control.bounding_box()
        assert box is not None
        assert box["height"] >= 44, await control.evaluate("(el) => el.outerHTML")

    session = await page.evaluate(SESSION)
    await page.click("#playback-toggle")
    await wait_for(page, f"{BAR}.paused === 'true'")
    await wait_for_state(page, "playback-paused")
    stopped_at = float(await page.evaluate(f"{BAR}.position"))
    await page.click("#playback-toggle")
    session = await new_session(page, session)
    await wait_for(page, f"{BAR}.paused === 'false'")
    assert float(await page.evaluate(f"{BAR}.start")) == pytest.approx(stopped_at, abs=0.001)
    await wait_for_state(page, "streaming")

    await page.evaluate(
        """() => {
          const seek = document.getElementById("playback-seek");
          seek.value = "10";
          seek.dispatchEvent(new Event("input"));
          seek.dispatchEvent(new Event("change"));
        }"""
    )
    session = await new_session(page, session)
    await wait_for(page, f"{BAR}.start === '10'")
    rate = float(await page.evaluate("document.body.dataset.sampleRate"))
    flag = "#trace-strip .marker-flag[data-label='twelve']"
    await page.locator(flag).wait_for(state="attached", timeout=DEADLINE_MS)
    assert int(await page.get_attribute(flag, "data-sample") or "-1") == round(2 * rate)
    health = "document.getElementById('health').dataset"
    await wait_for(page, f"{health}.session === {json.dumps(session)} && {health}.lost === '0'")

    await page.click("#playback-speeds button[data-speed='2']")
    await wait_for(page, f"{BAR}.speed === '2'")
    assert float(await page.evaluate(f"{BAR}.start")) >= 10
    await page.click("#playback-loop")
    await wait_for(page, f"{BAR}.loop === 'true'")
    assert await page.get_attribute("#playback-loop", "aria-pressed") == "true"


async def test_another_file_plays_to_its_end_and_replays(playing: LiveDaemon, page: Page) -> None:
    await page.goto(playing.url)
    await wait_for(page, f"{BAR}.playing === 'true'")
    session = await page.evaluate(SESSION)
    await page.click("#playback-file")
    names = await page.locator("#playback-files button").all_inner_texts()
    assert names == ["long.edf", "short.edf"]
    await page.click("#playback-files button[data-path$='short.edf']")
    session = await new_session(page, session)
    await wait_for(page, f"{BAR}.file === 'short.edf'")
    await page.click("#playback-speeds button[data-speed='4']")
    await wait_for(page, f"{BAR}.speed === '4'")
    if await page.evaluate(f"{BAR}.loop") == "true":
        await page.click("#playback-loop")
    await wait_for(page, f"{BAR}.loop === 'false'")
    await wait_for_state(page, "ended", DEADLINE_MS)
    await wait_for(page, f"{BAR}.ended === 'true'")
    assert await page.locator("#playback-toggle").inner_text() == "Replay"
    ended = await page.evaluate(SESSION)
    await page.click("#playback-toggle")
    await new_session(page, ended)  # from the start, and to the end again
    await wait_for(page, f"{BAR}.start === '0'")
    await wait_for_state(page, "ended", DEADLINE_MS)
