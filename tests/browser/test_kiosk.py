"""The kiosk page in a real chromium: it streams, draws, reconnects, fits the screen.

Most tests run against the real daemon (synthetic source: 8 channels at 250 Hz; one at
16 kHz, where the kiosk asks for a min/max envelope); the alpha peak is checked in
test_researcher_kiosk.py. Two
replace the WebSocket with a fake server that speaks the protocol through the reference encoder,
to reach states and faults the daemon does not produce on demand; two feed the page's decoder
module frames from the reference encoder. Tests read the page's data- attributes and pixels,
never its wording.
"""

from __future__ import annotations

import asyncio
import json
import statistics
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import numpy as np
import pytest
from playwright.async_api import Locator, Page, WebSocketRoute

from eegd.events import FftPacket, FilteredEegPacket, Topic, frozen_array
from eegd.net.protocol import (
    HEADER,
    Band,
    Hello,
    Spectrum,
    Subscribe,
    decode_frame,
    encode_decimated,
    encode_event,
    encode_server_message,
    parse_client_message,
)
from eegd.timestamps import sample_timestamps
from tests.support.live import LiveDaemons
from tests.support.waiting import wait_until

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="session")]

SYNTHETIC_CHANNELS = ["Fp1", "Fp2", "C3", "C4", "P3", "P4", "O1", "O2"]
#: Generous functional deadline for a busy 2-core machine (the issue's own 5 s is kept as is).
DEADLINE_MS = 10_000

STATE = "document.body.dataset.state"


async def wait_for_state(page: Page, state: str, timeout_ms: float = DEADLINE_MS) -> None:
    """Wait until the page's data-state is ``state``."""
    await page.wait_for_function(f"{STATE} === {json.dumps(state)}", timeout=timeout_ms)


async def body_data(page: Page) -> dict[str, str]:
    """The data- attributes of <body>, by their dataset names."""
    data: dict[str, str] = await page.evaluate("({...document.body.dataset})")
    return data


async def peak_hz(page: Page) -> str | None:
    """The spectrum panel's data-peak-hz, or None before the first spectrum."""
    value: str | None = await page.evaluate("document.getElementById('spectrum').dataset.peakHz")
    return value


#: Keeps every (data-state, data-retry-in) the page shows from now on in ``window.shownStates``:
#: a state that lasts less than a wait's round trip (the 0.5 s before a reconnect) is still seen.
_KEEP_STATES = """() => {
  window.shownStates = [];
  const keep = () => {
    const { state, retryIn } = document.body.dataset;
    window.shownStates.push({ state, retryIn: retryIn ?? null });
  };
  new MutationObserver(keep).observe(document.body, {
    attributes: true,
    attributeFilter: ["data-state", "data-retry-in"],
  });
}"""


async def first_shown(page: Page, condition: str) -> dict[str, str | None]:
    """The first ``{state, retryIn}`` kept by ``_KEEP_STATES`` for which the JavaScript
    ``condition`` on ``s`` holds, waiting for it; later ones are cleared, so a next call
    sees only what the page shows after this one."""
    find = f"window.shownStates.find((s) => {condition})"
    await page.wait_for_function(f"{find} !== undefined")
    shown: dict[str, str | None] = await page.evaluate(
        f"(() => {{ const s = {find}; window.shownStates = []; return s; }})()"
    )
    return shown


async def eventually(check: Callable[[], bool], timeout_s: float = DEADLINE_MS / 1000) -> None:
    """Wait until ``check()`` holds (for conditions on the Python side of a fake server)."""
    try:
        await wait_until(check, timeout_s)
    except TimeoutError:
        pytest.fail("condition not reached in time")


# --------------------------------------------------------------------------- the real daemon


async def test_streams_within_5_s_of_loading(daemons: LiveDaemons, page: Page) -> None:
    daemon = await daemons.start()
    await page.goto(daemon.url)

    await wait_for_state(page, "streaming", timeout_ms=5_000)

    data = await body_data(page)
    assert data["channels"] == "8"
    assert int(data["frames"]) > 0
    assert data["errors"] == "0"


async def test_traces_move(daemons: LiveDaemons, page: Page) -> None:
    daemon = await daemons.start()
    await page.goto(daemon.url)
    await wait_for_state(page, "streaming")
    await page.wait_for_function("Number(document.body.dataset.frames) >= 8", timeout=DEADLINE_MS)
    canvas = page.locator("#trace-strip")

    before = await canvas.screenshot()
    await redrawn(page, canvas, before)


async def redrawn(page: Page, canvas: Locator, before: bytes) -> None:
    """Wait until ``canvas`` shows other pixels than ``before`` (a screenshot of it), after
    more frames came: on a loaded machine half a second may pass without a frame drawn."""
    frames = int((await body_data(page))["frames"])
    await page.wait_for_function(f"Number(document.body.dataset.frames) >= {frames + 4}")
    async with asyncio.timeout(DEADLINE_MS / 1000):
        while await canvas.screenshot() == before:
            pass


async def test_reconnects_when_the_daemon_comes_back(daemons: LiveDaemons, page: Page) -> None:
    daemon = await daemons.start()
    port = urlsplit(daemon.url).port
    await page.goto(daemon.url)
    await wait_for_state(page, "streaming")
    first_session = (await body_data(page))["session"]

    await daemons.stop(daemon)
    await wait_for_state(page, "reconnecting")
    assert 0 <= float((await body_data(page))["retryIn"]) <= 5

    await daemons.start(overrides={"server.port": port})
    await wait_for_state(page, "streaming", timeout_ms=15_000)
    assert (await body_data(page))["session"] != first_session


_OVERFLOW = """() => {
  const width = document.documentElement.clientWidth;
  // Inside a box that clips its overflow (the scrolling strip of trace tiles), an element
  // shows no further than that box, which is checked itself.
  const clipped = (element) => {
    for (let node = element.parentElement; node && node !== document.body;) {
      if (getComputedStyle(node).overflowX !== "visible") return true;
      node = node.parentElement;
    }
    return false;
  };
  const outside = [...document.querySelectorAll("body *")].filter((element) => {
    const box = element.getBoundingClientRect();
    const off = box.left < -0.5 || box.right > width + 0.5;
    return box.width > 0 && box.height > 0 && off && !clipped(element);
  });
  return {
    scrollWidth: document.documentElement.scrollWidth,
    width,
    outside: outside.map((element) => element.id || element.className || element.tagName),
  };
}"""

_UNCOVERED = """(element) => {
  const box = element.getBoundingClientRect();
  const hit = document.elementFromPoint(box.left + box.width / 2, box.top + box.height / 2);
  return element.contains(hit);
}"""


async def test_fits_the_kiosk_screen_and_a_laptop(daemons: LiveDaemons, page: Page) -> None:
    daemon = await daemons.start()
    await page.goto(daemon.url)
    await wait_for_state(page, "streaming")

    for width, height in [(800, 480), (1366, 768)]:
        await page.set_viewport_size({"width": width, "height": height})
        await page.wait_for_function(f"document.documentElement.clientWidth === {width}")

        layout = await page.evaluate(_OVERFLOW)
        assert layout["scrollWidth"] <= layout["width"]
        assert layout["outside"] == []

        labels = page.locator("#lane-labels button")
        assert await labels.all_inner_texts() == SYNTHETIC_CHANNELS
        for label in await labels.all():
            box = await label.bounding_box()
            assert box is not None
            assert box["y"] >= 0
            assert box["y"] + box["height"] <= height
            assert await label.evaluate(_UNCOVERED), await label.inner_text()

        for control in await page.locator("button:visible").all():
            box = await control.bounding_box()
            assert box is not None
            assert box["height"] >= 40, await control.evaluate("(el) => el.outerHTML")


async def api_status(url: str) -> dict[str, Any]:
    """The daemon's ``GET /api/status``."""
    async with (
        aiohttp.ClientSession() as session,
        session.get(url.rstrip("/") + "/api/status") as response,
    ):
        response.raise_for_status()
        status: dict[str, Any] = await response.json()
        return status


async def test_draws_an_envelope_of_a_16_khz_stream(daemons: LiveDaemons, page: Page) -> None:
    daemon = await daemons.start(overrides={"source.sample_rate": 16000, "source.batch_size": 512})
    await page.goto(daemon.url)
    await wait_for_state(page, "streaming")
    await page.wait_for_function("document.body.dataset.decimated === 'true'")
    await page.wait_for_function("Number(document.body.dataset.frames) >= 8")
    canvas = page.locator("#trace-strip")

    before = await canvas.screenshot()
    await redrawn(page, canvas, before)
    first = (await api_status(daemon.url))["clients"]
    await page.wait_for_timeout(1_000)
    second = (await api_status(daemon.url))["clients"]

    columns_per_s = await page.evaluate(
        "document.getElementById('trace-strip').getBoundingClientRect().width"
        " * devicePixelRatio / 5"
    )
    pair_rate = float((await body_data(page))["pairRate"])
    assert 1.8 * columns_per_s <= pair_rate <= 16_000 / 4
    assert second["clients_per_topic"]["filtered_eeg"] == 1
    assert second["encoded"]["filtered_eeg"] == first["encoded"]["filtered_eeg"]
    assert second["encoded_envelopes"]["filtered_eeg"] > first["encoded_envelopes"]["filtered_eeg"]
    assert (await body_data(page))["errors"] == "0"


# --------------------------------------------------------------------------- a fake server

_RATE = 250.0
_ANCHOR_US = 1_700_000_000_000_000
_BANDS = (
    Band("delta", 1.0, 4.0),
    Band("theta", 4.0, 8.0),
    Band("alpha", 8.0, 13.0),
    Band("beta", 13.0, 30.0),
    Band("gamma", 30.0, 45.0),
)
_FREQS = tuple(0.5 * k for k in range(101))


def _hello(session: str, channels: tuple[str, ...], sample_rate: float = _RATE) -> Hello:
    spectrum = Spectrum(freqs=_FREQS, fft_size=500, window="hann", sample_rate=_RATE, bands=_BANDS)
    return Hello(
        session=session,
        sample_rate=sample_rate,
        channels=channels,
        time_anchor_us=_ANCHOR_US,
        spectrum=spectrum,
    )


def _eeg_frame(frame_id: int, channels: int, amplitude_uv: float = 300.0, n: int = 32) -> bytes:
    first = frame_id * n
    t = np.arange(first, first + n) / _RATE
    volts = np.tile(amplitude_uv * 1e-6 * np.sin(2 * np.pi * 7 * t), (channels, 1))
    packet = FilteredEegPacket(
        frame_id=frame_id,
        first_sample=first,
        timestamps=sample_timestamps(_ANCHOR_US, first, n, _RATE),
        samples=frozen_array(volts, np.float32),
        sample_rate=_RATE,
        channel_names=tuple(f"E{c}" for c in range(channels)),
        monotonic_ns=123,
    )
    return encode_event(packet)


def _fft_frame(channels: tuple[str, ...], peak_bin: int, band_power: list[float]) -> bytes:
    psd = np.ones((len(channels), len(_FREQS)), np.float32)
    psd[:, peak_bin] = 100.0
    packet = FftPacket(
        source_frame_id=9,
        timestamp=_ANCHOR_US,
        freqs=frozen_array(_FREQS, np.float32),
        psd=frozen_array(psd, np.float32),
        band_power=frozen_array(np.tile(band_power, (len(channels), 1)), np.float32),
        fft_size=500,
        window="hann",
        sample_rate=_RATE,
        channel_names=channels,
        monotonic_ns=123,
    )
    return encode_event(packet)


class FakeServer:
    """Stands in for eegd's /ws: every page WebSocket lands here; page messages are kept."""

    def __init__(self) -> None:
        self.routes: asyncio.Queue[WebSocketRoute] = asyncio.Queue()
        self.received: list[str | bytes] = []

    def accept(self, route: WebSocketRoute) -> None:
        route.on_message(self.keep)
        self.routes.put_nowait(route)

    def keep(self, message: str | bytes) -> None:
        self.received.append(message)

    async def next_connection(self) -> WebSocketRoute:
        return await asyncio.wait_for(self.routes.get(), DEADLINE_MS / 1000)


async def open_faked(page: Page, url: str) -> tuple[FakeServer, WebSocketRoute]:
    """Open the kiosk at ``url`` with its ``/ws`` landing on a ``FakeServer``: the server,
    and the page's first connection to it."""
    fake_server = FakeServer()
    await page.route_web_socket(lambda ws_url: urlsplit(ws_url).path == "/ws", fake_server.accept)
    await page.goto(url)
    return fake_server, await fake_server.next_connection()


async def test_follows_the_protocol_and_survives_bad_messages(
    daemons: LiveDaemons, page: Page
) -> None:
    daemon = await daemons.start()
    fake_server, server = await open_faked(page, daemon.url)

    await wait_for_state(page, "waiting")
    await eventually(lambda: bool(fake_server.received))
    subscribe = parse_client_message(fake_server.received[0])
    assert isinstance(subscribe, Subscribe)
    # The filtered view shows: the raw stream is not asked for (it would be decoded for nothing).
    assert set(subscribe.topic_ids) == {Topic.FILTERED_EEG, Topic.FFT, Topic.MARKER}

    channels = ("Fz", "Cz")
    server.send(encode_server_message(_hello("a", channels)))
    await page.wait_for_function("document.body.dataset.channels === '2'")
    assert await page.locator("#lane-labels button").all_inner_texts() == list(channels)
    assert (await body_data(page))["state"] == "waiting"

    for frame_id in range(3):
        server.send(_eeg_frame(frame_id, len(channels)))
    await wait_for_state(page, "streaming")
    await page.wait_for_function("document.body.dataset.scaleUv === '500'")

    bad: list[str | bytes] = [
        "not json",
        '{"no": "type"}',
        b"\x01\x02\x00",
        bytes([2]) + _eeg_frame(3, len(channels))[1:],
        _eeg_frame(3, 3),
    ]
    for message in bad:
        server.send(message)
    server.send(_eeg_frame(3, len(channels)))
    server.send(_eeg_frame(6, len(channels)))
    await page.wait_for_function("document.body.dataset.frames === '5'")
    data = await body_data(page)
    assert (data["errors"], data["gaps"], data["state"]) == ("5", "1", "streaming")

    server.send(_fft_frame(channels, peak_bin=20, band_power=[1, 2, 3, 4, 10]))
    await page.wait_for_function("document.getElementById('spectrum').dataset.peakHz === '10.0'")
    gamma = page.locator('#bands [data-band="gamma"]')
    assert await gamma.get_attribute("data-share") == "50.0"

    lost = {
        "type": "system",
        "kind": "source_lost",
        "detail": {"error": "unplugged"},
        "timestamp": 1,
    }
    server.send(json.dumps(lost))
    await wait_for_state(page, "source-lost")
    # The countdown is read from what the page kept: the page's next poll of the real
    # daemon's /api/status (nothing degraded) ends it within a second.
    await page.evaluate(_KEEP_STATES)
    failed = {
        "type": "system",
        "kind": "task_failed",
        "detail": {"task": "acquisition", "error": "SourceError: unplugged", "retry_in": 4.0},
        "timestamp": 2,
    }
    server.send(json.dumps(failed))
    counting = await first_shown(page, "s.retryIn !== null")
    assert counting["state"] == "source-lost"
    assert 2 < float(counting["retryIn"] or "nan") <= 4.0
    server.send(_eeg_frame(7, len(channels)))
    await wait_for_state(page, "streaming")

    server.send(encode_server_message(_hello("b", ("Fz", "Cz", "Pz"))))
    await page.wait_for_function("document.body.dataset.session === 'b'")
    assert await page.locator("#lane-labels button").all_inner_texts() == ["Fz", "Cz", "Pz"]
    assert await peak_hz(page) is None

    await server.close(code=1001, reason="going away")
    # Reconnecting lasts the 0.5 s before the next attempt: read from what the page kept.
    reconnecting = await first_shown(page, "s.state === 'reconnecting'")
    assert 0 <= float(reconnecting["retryIn"] or "nan") <= 0.5
    await fake_server.next_connection()
    await wait_for_state(page, "waiting")


_DECODE = """async ({ frames, hello }) => {
  const { decodeFrame } = await import("/kiosk/protocol.js");
  return frames.map((bytes) => {
    try {
      const frame = decodeFrame(new Uint8Array(bytes).buffer, hello);
      const arrays = frame.samples ? [frame.samples] : [frame.psd, frame.bandPower];
      return {
        topic: frame.topic,
        frameId: frame.frameId,
        firstSample: frame.firstSample,
        timestampUs: frame.timestampUs,
        sampleRate: frame.sampleRate,
        arrays: arrays.map((array) => Array.from(array)),
      };
    } catch (error) {
      return { error: error.code ?? String(error) };
    }
  });
}"""


async def test_decoder_reads_what_the_reference_encoder_writes(static_page: Page) -> None:
    channels = ("Fz", "Cz")
    hello = _hello("a", channels)
    eeg = _eeg_frame(5, len(channels), amplitude_uv=37.5, n=3)
    fft = _fft_frame(channels, peak_bin=20, band_power=[1.5, 2, 3, 4, 5])

    decoded = await static_page.evaluate(
        _DECODE,
        {"frames": [list(eeg), list(fft)], "hello": json.loads(encode_server_message(hello))},
    )

    reference = decode_frame(eeg, hello)
    assert decoded[0] == {
        "topic": Topic.FILTERED_EEG,
        "frameId": 5,
        "firstSample": 15,
        "timestampUs": _ANCHOR_US + 60_000,
        "sampleRate": _RATE,
        "arrays": [reference.samples_uv.ravel().tolist()],
    }
    spectrum = decode_frame(fft, hello)
    assert isinstance(spectrum, FftPacket)
    psd, band_power = spectrum.psd.ravel().tolist(), spectrum.band_power.ravel().tolist()
    assert decoded[1]["arrays"] == [psd, band_power]


def _with_header(frame: bytes, **fields: int) -> bytes:
    names = ("version", "topic", "flags", "channels", "bands", "count")
    values = dict(zip(names, HEADER.unpack_from(frame)[:6], strict=True)) | fields
    header = bytearray(frame[: HEADER.size])
    HEADER.pack_into(header, 0, *values.values(), *HEADER.unpack_from(frame)[6:])
    return bytes(header) + frame[HEADER.size :]


async def test_decoder_refuses_what_the_protocol_says_to_refuse(static_page: Page) -> None:
    channels = ("Fz", "Cz")
    eeg = _eeg_frame(1, len(channels), n=4)
    fft = _fft_frame(channels, peak_bin=20, band_power=[1, 2, 3, 4, 5])
    refused = {
        "short": (eeg[:40], "bad_frame"),
        "version": (_with_header(eeg, version=2), "unsupported_version"),
        "topic": (_with_header(eeg, topic=9), "bad_frame"),
        "flag": (_with_header(eeg, flags=2), "bad_frame"),
        "decimated fft": (_with_header(fft, flags=1), "bad_frame"),
        "eeg bands": (_with_header(eeg, bands=1), "bad_frame"),
        "length": (eeg + b"\0\0\0\0", "bad_frame"),
        "channels": (_eeg_frame(1, 3, n=4), "bad_frame"),
        "bins": (_with_header(fft, count=100), "bad_frame"),
    }
    hello = json.loads(encode_server_message(_hello("a", channels)))
    no_spectrum = {**hello, "spectrum": None}

    frames = [list(frame) for frame, _ in refused.values()]
    results = await static_page.evaluate(_DECODE, {"frames": frames, "hello": hello})
    before_spectrum = await static_page.evaluate(
        _DECODE, {"frames": [list(fft)], "hello": no_spectrum}
    )

    codes = {name: result.get("error") for name, result in zip(refused, results, strict=True)}
    assert codes == {name: code for name, (_, code) in refused.items()}
    assert before_spectrum == [{"error": "bad_frame"}]


_HIGH_RATE = 16_000.0
_SAMPLES_PER_PAIR = 80
_PAIRS_PER_FRAME = 40
_ENVELOPE_UV = 200.0

#: Per device column of the top lane: the rows of the lowest and highest pixel in channel 0's
#: colour (#6ea8ff, blue well above red), or null for a column without any. The trace's tiles
#: are composed first, each where it is on screen.
_LANE_EXTENTS = """() => {
  const strip = document.getElementById("trace-strip");
  const box = strip.getBoundingClientRect();
  const canvas = document.createElement("canvas");
  canvas.width = Math.round(box.width * devicePixelRatio);
  canvas.height = Math.round(box.height * devicePixelRatio);
  const context = canvas.getContext("2d");
  for (const tile of strip.querySelectorAll("canvas")) {
    if (tile.hidden) continue;
    const left = (tile.getBoundingClientRect().left - box.left) * devicePixelRatio;
    context.drawImage(tile, Math.round(left), 0);
  }
  const lanes = canvas.height - Math.round(16 * devicePixelRatio);
  const rows = Math.floor(lanes / 2);
  const pixels = context.getImageData(0, 0, canvas.width, rows).data;
  const extents = [];
  for (let x = 0; x < canvas.width; x += 1) {
    let top = null;
    let bottom = null;
    for (let y = 0; y < rows; y += 1) {
      const i = 4 * (y * canvas.width + x);
      if (pixels[i + 2] > 150 && pixels[i + 2] - pixels[i] > 60) {
        top ??= y;
        bottom = y;
      }
    }
    extents.push(top === null ? null : [top, bottom]);
  }
  return { extents, laneHeight: lanes / 2 };
}"""


def _envelope_frame(index: int) -> bytes:
    """Frame ``index`` of an envelope whose every pair spans -200..+200 µV on both channels."""
    first = index * _PAIRS_PER_FRAME * _SAMPLES_PER_PAIR
    bound = np.full((2, _PAIRS_PER_FRAME), _ENVELOPE_UV * 1e-6, np.float32)
    return encode_decimated(
        Topic.FILTERED_EEG,
        -bound,
        bound,
        frame_id=(index + 1) * 7 - 1,
        first_sample=first,
        timestamp_us=_ANCHOR_US + round(first * 1e6 / _HIGH_RATE),
        monotonic_ns=123,
        pair_rate=_HIGH_RATE / _SAMPLES_PER_PAIR,
    )


def _longest_run(flags: list[bool]) -> int:
    longest = current = 0
    for flag in flags:
        current = current + 1 if flag else 0
        longest = max(longest, current)
    return longest


async def test_asks_for_an_envelope_and_draws_it_with_gaps(
    daemons: LiveDaemons, page: Page
) -> None:
    daemon = await daemons.start()
    fake_server, server = await open_faked(page, daemon.url)
    await eventually(lambda: bool(fake_server.received))

    server.send(encode_server_message(_hello("a", ("Fz", "Cz"), sample_rate=_HIGH_RATE)))
    await eventually(lambda: len(fake_server.received) >= 2)
    resubscribe = parse_client_message(fake_server.received[1])
    assert isinstance(resubscribe, Subscribe)
    assert resubscribe.topic_ids == (Topic.FILTERED_EEG,)
    assert resubscribe.max_rate == float((await body_data(page))["maxRate"])

    sent = [index for index in range(25) if index not in (15, 16, 17)]
    for index in sent:
        server.send(_envelope_frame(index))
    await page.wait_for_function(f"document.body.dataset.frames === '{len(sent)}'")
    data = await body_data(page)
    assert (data["decimated"], data["pairRate"], data["gaps"]) == ("true", "200", "1")
    await page.wait_for_timeout(1_000)

    drawn = await page.evaluate(_LANE_EXTENTS)
    extents = drawn["extents"]
    right = extents[len(extents) // 4 :]
    heights = [bottom - top for top, bottom in filter(None, right)]
    band = 2 * _ENVELOPE_UV / 500 * drawn["laneHeight"] / 2
    assert statistics.median(heights) == pytest.approx(band, abs=3)
    gap_columns = 3 / 25 * len(extents)
    assert _longest_run([extent is None for extent in right]) == pytest.approx(
        gap_columns, rel=0.25
    )
