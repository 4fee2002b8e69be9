"""Browser fixtures: Debian's chromium driven by Playwright's async API (never a downloaded one).

One browser serves every browser test of a pytest-xdist worker (they run on the session's
event loop); each test gets a fresh context and page.
"""

from __future__ import annotations

import mimetypes
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from playwright import async_api as playwright_api

from eegd.net.server import KIOSK_DIR
from tests.support.live import LiveDaemons

#: The system browser; Playwright's own browser downloads are never used.
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
#: Features the tests never use that cost CPU in every context's window: the omnibox's two
#: WebUI popups, each a renderer the window preloads (in the kiosk modules, more CPU than the
#: kiosk's own renderer).
UNUSED_FEATURES = ("WebUIOmniboxPopup", "WebUIOmniboxAimPopup")
#: Playwright's own ``--disable-features`` (1.65). Chromium keeps only the last of repeated
#: switches, so ours must carry these too; ``_launch`` adds any that a newer Playwright names.
PLAYWRIGHT_DISABLED_FEATURES = (
    "AvoidUnnecessaryBeforeUnloadCheckSync",
    "DestroyProfileOnBrowserClose",
    "HttpsUpgrades",
    "HttpsFirstBalancedModeAutoEnable",
    "LensOverlay",
    "MediaRouter",
    "PaintHolding",
    "ThirdPartyStoragePartitioning",
    "AvoidCorsURLLoaderRestartOnRedirect",
    "TcpPortRandomizationWin",
    "OptimizationHints",
    "NetworkTimeServiceQuerying",
    "AimEnabled",
    "PreconnectToSearch",
    "msForceBrowserSignIn",
    "msEdgeUpdateLaunchServicesPreferredVersion",
)
DISABLE_FEATURES = "--disable-features="
#: The 7-inch kiosk screen.
KIOSK_VIEWPORT = {"width": 800, "height": 480}
#: Playwright's default deadline for every wait, generous for a busy 2-core machine.
DEFAULT_TIMEOUT_MS = 10_000
#: A made-up origin whose /kiosk/ files come straight from the package, for daemon-less tests.
STATIC_ORIGIN = "http://kiosk.test"


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def browser() -> AsyncIterator[playwright_api.Browser]:
    """A headless chromium shared by every browser test of the worker (a launch costs about
    1.2 s of CPU and 2 s of wall time; 16 modules launched one each), without the features
    no test uses."""
    if not CHROMIUM.exists():
        pytest.fail(
            f"{CHROMIUM} is missing; install Debian's chromium: sudo apt-get install chromium"
        )
    async with playwright_api.async_playwright() as playwright:
        launched = await _launch(playwright, PLAYWRIGHT_DISABLED_FEATURES + UNUSED_FEATURES)
        try:
            yield launched
        finally:
            await launched.close()


async def _launch(
    playwright: playwright_api.Playwright, disabled: tuple[str, ...]
) -> playwright_api.Browser:
    """Chromium with ``disabled`` features off, relaunched with the union if Playwright's own
    ``--disable-features`` (read back from the browser's command line) names more."""
    launched = await playwright.chromium.launch(
        executable_path=str(CHROMIUM), args=[*CHROMIUM_ARGS, DISABLE_FEATURES + ",".join(disabled)]
    )
    session = await launched.new_browser_cdp_session()
    switches = (await session.send("SystemInfo.getInfo"))["commandLine"].split()
    await session.detach()
    named = {
        feature
        for switch in switches
        if switch.startswith(DISABLE_FEATURES)
        for feature in switch.removeprefix(DISABLE_FEATURES).split(",")
    }
    missing = tuple(sorted(named - set(disabled)))
    if not missing:
        return launched
    await launched.close()
    return await _launch(playwright, disabled + missing)


@pytest_asyncio.fixture(loop_scope="session")
async def page(browser: playwright_api.Browser) -> AsyncIterator[playwright_api.Page]:
    """A fresh page at the kiosk's 800×480; an uncaught JavaScript error fails the test."""
    context = await browser.new_context(viewport=KIOSK_VIEWPORT)
    context.set_default_timeout(DEFAULT_TIMEOUT_MS)
    opened = await context.new_page()
    uncaught: list[str] = []
    opened.on("pageerror", lambda error: uncaught.append(str(error)))
    try:
        yield opened
    finally:
        await context.close()
    if uncaught:
        pytest.fail(f"uncaught errors in the page: {uncaught}")


@pytest_asyncio.fixture(loop_scope="session")
async def daemons() -> AsyncIterator[LiveDaemons]:
    """Real daemons in the test's loop on loopback ports (``LiveDaemons.start``), stopped after
    the test: the page talks to them over real sockets, as to ``eegd run``."""
    started = LiveDaemons()
    try:
        yield started
    finally:
        await started.stop_all()


async def _serve_kiosk_file(route: playwright_api.Route) -> None:
    path = route.request.url.removeprefix(STATIC_ORIGIN)
    name = path.removeprefix("/kiosk/")
    file = KIOSK_DIR / name
    if name == path or "/" in name or not file.is_file():
        await route.fulfill(status=200, content_type="text/html", body="<!doctype html>")
        return
    content_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
    await route.fulfill(status=200, content_type=content_type, body=file.read_bytes())


@pytest_asyncio.fixture(loop_scope="session")
async def static_page(page: playwright_api.Page) -> playwright_api.Page:
    """A blank page on an origin that serves the kiosk's modules under /kiosk/, no daemon."""
    await page.route(f"{STATIC_ORIGIN}/**", _serve_kiosk_file)
    await page.goto(f"{STATIC_ORIGIN}/")
    return page
