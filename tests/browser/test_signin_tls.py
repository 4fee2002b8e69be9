"""The kiosk over HTTPS with a self-signed certificate, and its sign-in, in one Chromium page.

The daemon runs in-process with a certificate made for the test and an operator token. The
page streams over ``wss://`` (the kiosk derives it from ``location.protocol``), is refused a
change before signing in, signs in through the kiosk's form (an HttpOnly cookie the page
cannot read), then makes the change and shows it on the audit line.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright import async_api as playwright_api

from eegd.net.security.tokens import hash_token, new_token
from tests.browser.conftest import DEFAULT_TIMEOUT_MS, KIOSK_VIEWPORT
from tests.browser.test_kiosk import wait_for_state
from tests.support.live import live_daemon
from tests.support.tls import self_signed

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="session")]

SIGNIN = "document.getElementById('signin').dataset"
PUT_FILTER = """async (notch) => {
  const reply = await fetch("/api/filter", {
    method: "PUT",
    headers: {"Content-Type": "application/json"},
    body: JSON.stringify({notch_hz: notch}),
  });
  return reply.status;
}"""


async def test_the_kiosk_streams_over_tls_and_signs_in(
    browser: playwright_api.Browser, tmp_path: Path
) -> None:
    cert, key = self_signed(tmp_path)
    token = new_token()
    toml = (
        f'[server]\ntls_cert = "{cert}"\ntls_key = "{key}"\n'
        f'[auth]\noperator_token_hashes = ["{hash_token(token)}"]\n'
    )
    context = await browser.new_context(viewport=KIOSK_VIEWPORT, ignore_https_errors=True)
    context.set_default_timeout(DEFAULT_TIMEOUT_MS)
    page = await context.new_page()
    uncaught: list[str] = []
    page.on("pageerror", lambda error: uncaught.append(str(error)))
    try:
        async with live_daemon(toml) as live:
            assert live.url.startswith("https://")
            await page.goto(live.url)
            await wait_for_state(page, "streaming")
            await page.wait_for_function(f"{SIGNIN}.role === 'viewer'")
            assert await page.evaluate(f"{SIGNIN}.signIn") == "true"
            assert await page.evaluate(PUT_FILTER, 60) == 401

            await page.click("#signin-button")
            await page.fill("#signin-token", "not the token")
            await page.click("#signin-submit")
            await page.wait_for_function(
                "document.getElementById('signin-message').textContent.includes('not')"
            )
            assert await page.evaluate(f"{SIGNIN}.role") == "viewer"
            await page.fill("#signin-token", token)
            await page.click("#signin-submit")
            await page.wait_for_function(f"{SIGNIN}.role === 'operator'")
            assert "eegd_session" not in await page.evaluate("document.cookie")
            cookies = await context.cookies()
            session = next(cookie for cookie in cookies if cookie["name"] == "eegd_session")
            assert session["httpOnly"]
            assert session["secure"]
            assert session["sameSite"] == "Strict"

            assert await page.evaluate(PUT_FILTER, 60) == 200
            await page.wait_for_function(
                "document.getElementById('audit-line').textContent"
                ".startsWith('PUT /api/filter by operator')"
            )
            frames = int(await page.evaluate("document.body.dataset.frames"))
            await page.wait_for_function(f"Number(document.body.dataset.frames) > {frames}")
            await wait_for_state(page, "streaming")
    finally:
        await context.close()
    assert not uncaught, uncaught
