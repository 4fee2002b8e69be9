"""The kiosk's "why no data" model (status.js) and its display-rate rule (decimation.js), run
as modules in Chromium without a daemon. The expected states and words are the ones the README
and the page promise a user; the rates follow docs/protocol.md's ``max_rate`` (pairs per
second) and the rule of two pairs per device pixel column, worked out by hand here.
"""

from __future__ import annotations

from typing import Any

import pytest
from playwright.async_api import Page

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="session")]

#: Feeds StatusModel a story (step name, what happens, when) and describes it after each step.
_STORY = """async (steps) => {
  const { StatusModel } = await import("/kiosk/status.js");
  const model = new StatusModel("eeg.local:8080");
  const hello = (session, rate) => ({ session, sample_rate: rate, channels: Array(8).fill("C") });
  const told = [];
  for (const [name, at, argument, acquisition] of steps) {
    if (name === "connecting") model.connecting(argument);
    else if (name === "closed") model.closed(at + argument, "eegd went away");
    else if (name === "opened") model.opened();
    else if (name === "hello") model.helloReceived(hello(...argument));
    else if (name === "data") model.dataReceived(at);
    else if (name === "system") model.systemEvent(argument);
    else if (name === "playback") model.setPlayback(argument);
    const retryAt = acquisition?.retryInMs === undefined ? undefined : at + acquisition.retryInMs;
    const source = acquisition?.source;
    const state = acquisition?.gaveUp
      ? { gaveUp: true, source }
      : retryAt && { retryAtMs: retryAt, source };
    told.push(model.describe(at, state || undefined));
  }
  return told;
}"""


async def _story(page: Page, steps: list[list[Any]]) -> list[dict[str, Any]]:
    told: list[dict[str, Any]] = await page.evaluate(_STORY, steps)
    return told


async def test_status_says_why_there_is_no_data_at_every_step(static_page: Page) -> None:
    lost = {"kind": "source_lost", "detail": {"source": "brainflow", "error": "unplugged"}}
    told = await _story(
        static_page,
        [
            ["none", 0],
            ["connecting", 10, 2],
            ["closed", 20, 3500],
            ["closed", 1000, 200],
            ["opened", 2000],
            ["hello", 2100, ["s1", 250]],
            ["data", 3000],
            ["none", 4000],
            ["none", 5200],
            ["system", 5300, lost],
            ["none", 5400, None, {"retryInMs": 2100}],
            ["none", 5500, None, {"gaveUp": True}],
            ["system", 6000, {"kind": "source_connected", "detail": {}}],
            ["data", 6100],
            ["system", 6200, {"kind": "source_ended", "detail": {}}],
            ["hello", 6300, ["s2", 16000]],
            ["data", 6400],
        ],
    )
    states = [(t["state"], t["headline"], t["detail"]) for t in told]
    assert states == [
        ("connecting", "Connecting to eegd…", "eeg.local:8080"),
        ("connecting", "Connecting to eegd…", "attempt 2"),
        ("reconnecting", "Reconnecting in 4 s", "eegd went away"),
        ("reconnecting", "Reconnecting in 1 s", "eegd went away"),  # 0.2 s left: never "0 s"
        ("waiting", "Waiting for the source", "connected to eegd"),
        ("waiting", "Waiting for data", "connected; the source has sent nothing yet"),
        ("streaming", "Live", "8 channels · 250 Hz"),
        ("streaming", "Live", "8 channels · 250 Hz"),  # 1 s without data is no stall yet
        ("waiting", "Waiting for the source", "no data for 2 s"),
        ("source-lost", "Source lost", "eegd is trying to reach the brainflow source again"),
        ("source-lost", "Source lost", "eegd retries the brainflow source in 3 s"),
        ("source-lost", "Source lost", "eegd gave up on the brainflow source"),
        ("waiting", "Waiting for data", "connected; the source has sent nothing yet"),
        ("streaming", "Live", "8 channels · 250 Hz"),
        ("ended", "End of file", "the file played to its end"),
        ("waiting", "Waiting for data", "connected; the source has sent nothing yet"),
        ("streaming", "Live", "8 channels · 16 kHz"),
    ]
    assert told[2]["retryIn"] == pytest.approx(3.5)
    assert told[10]["retryIn"] == pytest.approx(2.1)
    assert [t["retryIn"] for t in told[4:10] + told[11:]] == [None] * 12


async def test_a_page_that_missed_source_lost_learns_it_from_the_backing_off_task(
    static_page: Page,
) -> None:
    """Opened after the loss: no source_lost event comes (a failed reopen announces nothing),
    only the acquisition task's state from /api/status; data newer than that state wins."""
    told = await _story(
        static_page,
        [
            ["opened", 0],
            ["hello", 10, ["s1", 250]],
            ["none", 20, None, {"retryInMs": 2500, "source": "cyton"}],
            ["none", 30, None, {"gaveUp": True}],
            ["data", 40, None, {"retryInMs": 900, "source": "cyton"}],
            ["none", 2000, None, {"retryInMs": 900, "source": "cyton"}],
            ["none", 2100, None, {"retryInMs": 900, "source": "cyton"}],
        ],
    )
    states = [(t["state"], t["headline"], t["detail"]) for t in told]
    assert states == [
        ("waiting", "Waiting for the source", "connected to eegd"),
        ("waiting", "Waiting for data", "connected; the source has sent nothing yet"),
        ("source-lost", "Source lost", "eegd retries the cyton source in 3 s"),
        ("source-lost", "Source lost", "eegd gave up on the source"),
        ("streaming", "Live", "8 channels · 250 Hz"),  # data flows: that poll is old news
        ("streaming", "Live", "8 channels · 250 Hz"),
        ("source-lost", "Source lost", "eegd retries the cyton source in 1 s"),  # 2 s silent
    ]
    assert told[2]["retryIn"] == pytest.approx(2.5)


async def test_status_of_a_played_file_paused_and_playing(static_page: Page) -> None:
    paused = {"playing": True, "paused": True, "position_s": 3725.4, "name": "night.edf"}
    playing = {"playing": True, "paused": False, "position_s": 10, "name": "night.edf"}
    told = await _story(
        static_page,
        [
            ["opened", 0],
            ["hello", 10, ["s1", 250]],
            ["data", 20],
            ["playback", 30, paused],
            ["playback", 40, playing],
            ["playback", 50, {"playing": False}],
        ],
    )
    assert [(t["state"], t["headline"], t["detail"]) for t in told[3:]] == [
        ("playback-paused", "Playback paused", "at 1:02:05 of night.edf"),
        ("streaming", "Playing", "night.edf · 8 channels · 250 Hz"),
        ("streaming", "Live", "8 channels · 250 Hz"),
    ]


_RATES = """async ({ wanted, tidy, next }) => {
  const { nextMaxRate, tidyRate, wantedMaxRate } = await import("/kiosk/decimation.js");
  return {
    wanted: wanted.map(([rate, columnsPerSecond]) => wantedMaxRate(rate, columnsPerSecond)),
    tidy: tidy.map((rate) => tidyRate(rate)),
    next: next.map(([current, wanted]) => nextMaxRate(current, wanted)),
  };
}"""


async def test_display_rate_asks_for_two_pairs_per_column_and_keeps_close_ones(
    static_page: Page,
) -> None:
    cases = {
        # (sample rate, device columns per second) -> max_rate or None for every sample
        "wanted": [
            [16000, 800 / 5],  # 320 pairs/s, the tidy 400
            [16000, 1366 / 5],  # 546.4 -> 600
            [16000, 800 / 20],  # 80 -> 80
            [1000, 800 / 5],  # 1000 samples/s > 2 x 400: an envelope
            [800, 800 / 5],  # 800 is not more than 2 x 400: every sample
            [250, 1366 / 5],  # every sample
            [16000, 0],  # no canvas yet: every sample
        ],
        "tidy": [320, 400, 546.4, 1001, 0.7, 99_999],
        # (the rate asked for now, the one wanted) -> what to ask for
        "next": [[None, 400], [400, 600], [400, 500], [400, 250], [400, 300], [400, None]],
    }
    rates = await static_page.evaluate(_RATES, cases)
    assert rates["wanted"] == [400, 600, 80, 400, None, None, None]
    assert rates["tidy"] == [400, 400, 600, 1200, 0.8, 100_000]
    assert rates["next"] == [400, 600, 400, 250, 400, None]
