"""The kiosk's recording controls against the real daemon: record, mark, stop, download."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.async_api import Page

from tests.support.live import LiveDaemons

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="session")]

DEADLINE_MS = 10_000
RECORDING = "document.getElementById('recording').dataset"


async def test_record_mark_stop_and_the_file_is_listed_for_download(
    daemons: LiveDaemons, page: Page, tmp_path: Path
) -> None:
    config = tmp_path / "eegd.toml"
    config.write_text(f'[recording]\ndirectory = "{tmp_path}"\n')
    daemon = await daemons.start(config.read_text())
    await page.goto(daemon.url)
    await page.wait_for_function(f"{RECORDING}.recording === 'false'", timeout=DEADLINE_MS)

    await page.click("#record")
    await page.wait_for_function(f"{RECORDING}.recording === 'true'", timeout=DEADLINE_MS)
    await page.wait_for_function(f"{RECORDING}.file.startsWith('eegd-')", timeout=DEADLINE_MS)
    await page.click("#marker")
    await page.click("#marker-menu button >> nth=0")
    await page.wait_for_function(
        "document.getElementById('markers').dataset.marked === '1'", timeout=DEADLINE_MS
    )
    await page.screenshot(path=str(tmp_path / "recording.png"))
    await page.click("#record")
    await page.wait_for_function(f"{RECORDING}.recording === 'false'", timeout=DEADLINE_MS)
    assert await page.evaluate(f"{RECORDING}.recordings") == "1"

    link = page.locator("#recordings a")
    href = await link.get_attribute("href")
    assert href is not None
    assert href.startswith("/api/recordings/eegd-")
    (bdf,) = tmp_path.glob("eegd-*.bdf")
    assert href.endswith(bdf.stem)
