"""What a new user tripped on in the kiosk, each checked in Chromium against a real daemon.

A refused Record that said nothing, a sign-in the daemon had forgotten after a restart, an
alpha readout that outlived the rhythm by seconds, a played file's end that looked like a
stall, two retry countdowns a second apart, a token field too small to touch, quality dots
that stayed green with no data, a footer that cut its own lines, and axes with odd ticks.

Daemons serve the module (in this process, each started once; pages are fresh): one with an
operator token, one that plays a short EDF file to its end, one whose source goes silent
for seconds with a slow retry, and one with a railed channel. The restart test runs its own
daemon as a process, on the port it gets back. Tests read data- attributes and boxes.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np
import pytest
import pytest_asyncio
from playwright.async_api import Page

from eegd.events import FftPacket, frozen_array
from eegd.net.protocol import encode_event, encode_server_message
from eegd.net.security.tokens import hash_token, new_token
from tests.browser.test_kiosk import _FREQS, _hello, eventually, open_faked, wait_for_state
from tests.support.faults import FLAT_C3_RAILED_O2
from tests.support.live import LiveDaemon, LiveDaemons, live_daemon
from tests.support.recordings import write_recording
from tests.support.waiting import wait_until

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="session")]

DEADLINE_MS = 15_000
TOKEN = new_token()
AUTH = f'[auth]\noperator_token_hashes = ["{hash_token(TOKEN)}"]\n'
SIGNIN = "document.getElementById('signin').dataset"
RECORDING = "document.getElementById('recording').dataset"
SPECTRUM = "document.getElementById('spectrum').dataset"
LABELS = "[...document.querySelectorAll('#lane-labels button')]"


async def wait_for(page: Page, condition: str, timeout_ms: float = DEADLINE_MS) -> None:
    await page.wait_for_function(condition, timeout=timeout_ms)


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def guarded() -> AsyncIterator[LiveDaemon]:
    """The synthetic source, with an operator token: a page that has not signed in is a viewer."""
    async with live_daemon(AUTH) as live:
        yield live


def _overlap(a: dict[str, float] | None, b: dict[str, float] | None) -> bool:
    assert a is not None
    assert b is not None
    width = min(a["x"] + a["width"], b["x"] + b["width"]) - max(a["x"], b["x"])
    height = min(a["y"] + a["height"], b["y"] + b["height"]) - max(a["y"], b["y"])
    return width > 0.5 and height > 0.5


async def test_a_refused_record_asks_for_sign_in_and_the_next_poll_keeps_it(
    guarded: LiveDaemon, page: Page
) -> None:
    await page.goto(guarded.url)
    await wait_for_state(page, "streaming")
    await wait_for(page, f"{SIGNIN}.role === 'viewer'")

    await page.click("#record")
    await wait_for(page, "document.getElementById('audit-line').dataset.accepted === 'false'")
    form = page.locator("#signin-form")
    await form.wait_for(state="visible", timeout=DEADLINE_MS)
    assert "Record needs an operator" in await page.locator("#signin-message").inner_text()
    polls = int(await page.evaluate(f"{RECORDING}.polls"))
    await wait_for(page, f"Number({RECORDING}.polls) >= {polls + 2}")
    assert await form.is_visible()
    assert "Record needs an operator" in await page.locator("#signin-message").inner_text()

    # The token field is a touch target, and the form covers no trace.
    token = await page.locator("#signin-token").bounding_box()
    assert token is not None
    assert token["height"] >= 44
    strip = await page.locator("#trace-strip").bounding_box()
    assert not _overlap(await form.bounding_box(), strip)

    await page.fill("#signin-token", TOKEN)
    await page.click("#signin-submit")
    await wait_for(page, f"{SIGNIN}.role === 'operator'")
    assert await form.is_hidden()
    await page.click("#record")
    await wait_for(page, f"{RECORDING}.recording === 'true'")
    await page.click("#record")
    await wait_for(page, f"{RECORDING}.recording === 'false'")


async def test_after_a_restart_the_page_is_signed_out_and_its_dots_go_grey_while_away(
    daemons: LiveDaemons, page: Page, tmp_path: Path
) -> None:
    config = tmp_path / "eegd.toml"
    config.write_text(AUTH + f'[recording]\ndirectory = "{tmp_path}"\n')
    daemon = await daemons.start(config.read_text())
    port = urlsplit(daemon.url).port
    await page.goto(daemon.url)
    await wait_for_state(page, "streaming")
    await page.click("#signin-button")
    await page.fill("#signin-token", TOKEN)
    await page.click("#signin-submit")
    await wait_for(page, f"{SIGNIN}.role === 'operator' && {SIGNIN}.via === 'session'")
    await wait_for(page, f"{LABELS}.every((b) => b.dataset.quality === 'good')")

    await daemons.stop(daemon)
    await wait_for_state(page, "reconnecting")
    assert await page.locator("#replay").is_hidden()  # only at the end of a file
    await wait_for(page, f"{LABELS}.every((b) => b.dataset.quality === 'none')")
    reasons = await page.evaluate(f"{LABELS}.map((b) => b.dataset.qualityReason)")
    assert all(reason.startswith("no data: ") for reason in reasons), reasons

    await daemons.start(config.read_text(), {"server.port": port})
    await wait_for_state(page, "streaming", DEADLINE_MS)
    await wait_for(page, f"{SIGNIN}.via === 'anonymous'")
    assert await page.evaluate(f"{SIGNIN}.role") == "viewer"
    assert await page.get_attribute("#signin-button", "aria-label") == "Sign in"
    await wait_for(page, f"{LABELS}.every((b) => b.dataset.quality === 'good')")


def _fft(channels: tuple[str, ...], peak: float) -> bytes:
    """A spectrum flat at 1 µV²/Hz with ``peak`` µV²/Hz at 10 Hz on every channel."""
    psd = np.ones((len(channels), len(_FREQS)), np.float32)
    psd[:, _FREQS.index(10.0)] = peak
    packet = FftPacket(
        source_frame_id=9,
        timestamp=1_700_000_000_000_000,
        freqs=frozen_array(_FREQS, np.float32),
        psd=frozen_array(psd, np.float32),
        band_power=frozen_array(np.ones((len(channels), 5)), np.float32),
        fft_size=500,
        window="hann",
        sample_rate=250.0,
        channel_names=channels,
        monotonic_ns=123,
    )
    return encode_event(packet)


#: Spectra (one every 0.25 s) within which the readout must follow alpha stopping.
ALPHA_GONE_WITHIN = 8


async def test_the_alpha_readout_goes_within_2_s_of_spectra_when_alpha_stops(
    guarded: LiveDaemon, page: Page
) -> None:
    fake_server, server = await open_faked(page, guarded.url)
    await eventually(lambda: bool(fake_server.received))
    channels = ("O1", "O2")
    server.send(encode_server_message(_hello("a", channels)))
    await wait_for(page, "document.body.dataset.channels === '2'")

    for count in range(1, 9):
        server.send(_fft(channels, peak=100.0))
        await wait_for(page, f"{SPECTRUM}.spectra === '{count}'")
    assert await page.evaluate(f"{SPECTRUM}.peak") == "alpha"

    gone_after = None
    for count in range(1, 41):
        server.send(_fft(channels, peak=1.0))
        await wait_for(page, f"{SPECTRUM}.spectra === '{8 + count}'")
        if await page.evaluate(f"{SPECTRUM}.peak") == "none":
            gone_after = count
            break
    assert gone_after is not None
    assert gone_after <= ALPHA_GONE_WITHIN

    # And it comes back at once: the first spectrum with alpha again names it.
    server.send(_fft(channels, peak=100.0))
    await wait_for(page, f"{SPECTRUM}.peak === 'alpha'")


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def ended(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[LiveDaemon]:
    """An 8 s EDF+ file played 4 times faster, without loop: it ends after 2 s."""
    directory = tmp_path_factory.mktemp("played")
    file = write_recording(directory, seconds=8, annotations=((1.0, -1, "start"),)).path
    toml = (
        f'[source]\nkind = "playback"\n[source.playback]\npath = "{file}"\nspeed = 4\n'
        f'directories = ["{directory}"]\n'
    )
    async with live_daemon(toml) as live:
        yield live


async def test_the_end_of_a_played_file_says_so_and_replays(ended: LiveDaemon, page: Page) -> None:
    await page.goto(ended.url)
    await wait_for_state(page, "ended", DEADLINE_MS)
    assert await page.locator("#replay").is_visible()
    assert await page.evaluate(f"{LABELS}.every((b) => b.dataset.quality === 'none')")
    session = await page.evaluate("document.body.dataset.session")

    await page.click("#replay")
    await wait_for(page, f"document.body.dataset.session !== {json.dumps(session)}")
    await wait_for(page, "Number(document.body.dataset.frames) > 0")
    await wait_for_state(page, "ended", DEADLINE_MS)


_SLOW_RETRY = """
[source]
kind = "faulty"

[source.faulty]
wraps = "synthetic"
silence_every = 12      # about 1.5 s in, and for good
silence_s = 36000
silence_times = 1

[supervisor]
initial_backoff = 4
max_backoff = 4
jitter = 0
"""

_COUNTDOWNS = """() => {
  const status = /in (\\d+) s/.exec(document.getElementById("status-detail").textContent);
  const health = /retrying in (\\d+) s/.exec(document.getElementById("health").textContent);
  return [status && Number(status[1]), health && Number(health[1])];
}"""


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def slow_retry() -> AsyncIterator[LiveDaemon]:
    """A source that goes silent for good after about 1.5 s, retried every 4 s."""
    async with live_daemon(_SLOW_RETRY) as live:
        yield live


async def _compare_countdowns(page: Page) -> None:
    """The status line's and the health line's retry countdowns, read together as they tick
    (every 0.2 s), are the same number every time, and are read at least 6 times."""
    await wait_for(page, "document.body.dataset.retryIn !== undefined", 30_000)
    compared = 0
    for _ in range(12):
        shown = float(await page.evaluate("document.body.dataset.retryIn ?? 'NaN'"))
        if math.isnan(shown):  # between two retries
            await wait_for(page, "document.body.dataset.retryIn !== undefined", 30_000)
            continue
        await wait_for(page, f"(document.body.dataset.retryIn ?? 'x') !== '{shown:.1f}'")
        status, health = await page.evaluate(_COUNTDOWNS)
        if status is not None and health is not None:
            assert status == health
            compared += 1
    assert compared >= 6


async def test_one_retry_countdown(slow_retry: LiveDaemon, page: Page) -> None:
    await page.goto(slow_retry.url)
    await _compare_countdowns(page)


async def test_a_page_opened_after_the_loss_says_so_with_the_same_countdown(
    slow_retry: LiveDaemon, page: Page
) -> None:
    """The source_lost event went out before this page connected (a reopen that fails
    announces nothing): the page learns the loss from the daemon's degraded tasks."""
    await wait_until(lambda: slow_retry.daemon.acquisition.stats().outages >= 1, timeout=30)
    await page.goto(slow_retry.url)
    # The detail is read in the same check as the state: the state may end (a retry) between two.
    lost = await page.wait_for_function(
        "document.body.dataset.state === 'source-lost'"
        " && document.getElementById('status-detail').textContent",
        timeout=DEADLINE_MS,
    )
    detail = await lost.json_value()
    assert "the faulty source" in detail, detail
    await _compare_countdowns(page)


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def railed() -> AsyncIterator[LiveDaemon]:
    """8 synthetic channels without alpha, C3 flat and O2 at the ADC's full scale."""
    async with live_daemon(AUTH + FLAT_C3_RAILED_O2) as live:
        yield live


_AFTER = "(selector) => getComputedStyle(document.querySelector(selector), '::after').content"

_CUT = """() => {
  const foot = document.querySelector(".trace-foot");
  const box = foot.getBoundingClientRect();
  const shown = [...foot.querySelectorAll("*")].filter((el) => el.getClientRects().length);
  const outside = shown.filter((el) => {
    const r = el.getBoundingClientRect();
    return r.left < box.left - 0.5 || r.right > box.right + 0.5 || r.bottom > box.bottom + 0.5;
  });
  const cut = shown.filter(
    (el) => el.matches(".filter-summary, .foot-lines > span") &&
      (el.scrollWidth > el.clientWidth + 1 || el.scrollHeight > el.clientHeight + 1),
  );
  const name = (el) => el.id || el.className;
  return { outside: outside.map(name), cut: cut.map(name) };
}"""

PUT_FILTER = """async () => (await fetch("/api/filter", {
  method: "PUT", headers: {"Content-Type": "application/json"}, body: '{"notch_hz": 60}',
})).status"""


async def test_wide_labels_say_the_quality_and_the_footer_cuts_nothing(
    railed: LiveDaemon, page: Page
) -> None:
    await page.set_viewport_size({"width": 1366, "height": 768})
    await page.goto(railed.url)
    await wait_for_state(page, "streaming")
    o2 = '#lane-labels button[data-channel="O2"]'
    await wait_for(page, f"document.querySelector('{o2}').dataset.quality === 'bad'")
    assert "railed" in await page.evaluate(_AFTER, o2)
    assert "flat" in await page.evaluate(_AFTER, '#lane-labels button[data-channel="C3"]')
    assert "good" in await page.evaluate(_AFTER, '#lane-labels button[data-channel="O1"]')

    assert await page.evaluate(PUT_FILTER) == 401  # an audit line, refused
    await wait_for(page, "document.getElementById('audit-line').dataset.accepted === 'false'")
    for width, height in [(1366, 768), (800, 480)]:
        await page.set_viewport_size({"width": width, "height": height})
        await wait_for(page, f"document.documentElement.clientWidth === {width}")
        await wait_for(page, "document.getElementById('filter-summary').textContent !== ''")
        assert await page.evaluate(_CUT) == {"outside": [], "cut": []}, width
    assert await page.evaluate(_AFTER, o2) in ("none", "normal")


def _nice(labels: list[str]) -> bool:
    """0, s, 2s, ... with s one of 1, 2, 5 times a power of ten."""
    values = [float(label) for label in labels]
    if len(values) < 3 or values[0] != 0:
        return False
    step = values[1]
    mantissa = step / 10 ** math.floor(math.log10(step))
    evenly = all(math.isclose(b - a, step) for a, b in zip(values, values[1:], strict=False))
    return evenly and any(math.isclose(mantissa, m) for m in (1, 2, 5))


async def test_power_and_spectrogram_axes_have_round_ticks_and_a_colour_scale(
    railed: LiveDaemon, page: Page
) -> None:
    await page.goto(railed.url)
    await wait_for_state(page, "streaming")
    await page.click("#display-open")
    await page.click('#display-power button[data-value="linear"]')
    await page.click("#display-close")
    canvas = "document.getElementById('spectrum-canvas').dataset"
    await wait_for(page, f"{SPECTRUM}.power === 'linear' && {canvas}.powerTicks !== undefined")
    await wait_for(page, f"Number({SPECTRUM}.spectra) >= 2")
    ticks = (await page.evaluate(f"{canvas}.powerTicks")).split(",")
    assert _nice(ticks), ticks

    await page.click('#views button[data-view="spectrogram"]')
    sgram = "document.getElementById('spectrogram-canvas').dataset"
    await wait_for(page, f"{sgram}.colorbar !== undefined")
    assert _nice((await page.evaluate(f"{sgram}.freqTicks")).split(",")), await page.evaluate(
        f"{sgram}.freqTicks"
    )
    assert re.fullmatch(r"-?\d+\.\.-?\d+ dB", await page.evaluate(f"{sgram}.colorbar"))
