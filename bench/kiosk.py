"""What the kiosk page costs the browser: frames/s, frame gaps and renderer CPU; JSON on stdout.

For each case a daemon runs as its own process (synthetic source, paced in real time, the
default plugins) and Debian's Chromium (headless, through Playwright; never a downloaded
browser) shows its kiosk at the case's viewport. After a warm-up, the CPU time of Chromium's
renderer processes (``--type=renderer``, not the browser's own WebUI ones; utime + stime from
``/proc/<pid>/stat``) over a window
of ``--duration`` seconds gives the renderer's share of one core, with nothing but the page
running in it. Then, for ``--frame-window`` seconds, the page's ``requestAnimationFrame`` times
are recorded (frames/s, gaps), with the CPU over that window beside them: that probe makes
the browser run the main thread's frame at every display frame, which a page that draws only
when something is due (the kiosk) does not, so its CPU is reported apart
(``while_counting_frames``), and its frame rate is the lower bound of what the screen shows
(the compositor scrolls the traces without the main thread). The GPU process (software
compositing here) and the daemon are reported beside it. The reference measured in the same
run is a blank page at the same viewport, the same way: idle, then running the probe.
While the kiosk is shown a marker is put every ``--marker-every`` seconds (``POST
/api/markers``), so its flags are drawn and scroll through the measured window.

    python bench/kiosk.py [--duration 10] [--frame-window 5] [--warmup 3] [--marker-every 1]
                          [--cases 8x250@800x480]

A/B: ``--variant DIR`` measures a second kiosk (a directory of its files, served in place of
the daemon's own through Playwright's request routing) against the reference (``--reference
DIR``, or the daemon's own) on the same daemon, ``--rounds`` times each, alternating A B B A …
so that the machine's drift falls on both; each round's B/A ratios (renderer, GPU process)
and their median are reported. On a shared machine the ratios mean more than the absolute
figures.

    git archive main src/eegd/kiosk | tar -x -C /tmp/main-kiosk
    python bench/kiosk.py --reference /tmp/main-kiosk/src/eegd/kiosk --variant src/eegd/kiosk
"""

from __future__ import annotations

import argparse
import asyncio
import json
import mimetypes
import os
import platform
import re
import signal
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from playwright import async_api as playwright_api

__all__ = ["main"]

CHROMIUM = "/usr/bin/chromium"
#: Software rendering as in the browser tests: the figures are the CPU's, not a GPU's. A page
#: served through request routing (A/B) counts as public, so Chromium's local-network checks
#: would block its WebSocket to the loopback daemon: they are off.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-features=LocalNetworkAccessChecks",
]
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
DEFAULT_CASES = "8x250@800x480,32x250@1366x768,32x250@800x480,32x16000@1366x768,32x16000@800x480"

_RECORD_FRAMES = """(seconds) => new Promise((resolve) => {
  const times = [];
  const end = performance.now() + seconds * 1000;
  function tick(now) {
    times.push(now);
    if (now < end) requestAnimationFrame(tick);
    else resolve(times);
  }
  requestAnimationFrame(tick);
})"""


@dataclass(frozen=True)
class Case:
    """A stream shape and a screen: ``32x16000@800x480``."""

    channels: int
    sample_rate: int
    width: int
    height: int

    @classmethod
    def parse(cls, text: str) -> Case:
        shape, _, screen = text.partition("@")
        channels, _, rate = shape.partition("x")
        width, _, height = screen.partition("x")
        return cls(int(channels), int(rate), int(width), int(height))

    @property
    def batch_size(self) -> int:
        """Samples per packet: the daemon's default 32, 512 at high rates (about 30 packets/s)."""
        return 512 if self.sample_rate >= 4000 else 32

    @property
    def name(self) -> str:
        return f"{self.channels}x{self.sample_rate}@{self.width}x{self.height}"


def _descendants(root: int) -> list[int]:
    """Every process below ``root`` (Playwright's driver, then Chromium and its children)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(parent, []).append(int(entry.name))
    found: list[int] = []
    pending = [root]
    while pending:
        for child in children.get(pending.pop(), []):
            found.append(child)
            pending.append(child)
    return found


def _cpu_seconds(pid: int) -> float:
    """utime + stime of ``pid`` in seconds (0 once it has gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def _chromium_kind(pid: int) -> str | None:
    """``renderer``, ``gpu-process``, ``browser`` … for a Chromium process, else None.

    The browser's own WebUI (the omnibox popups every window preloads, which a kiosk never
    shows) renders in processes of ``--type=renderer`` too: they are ``webui-renderer``, so
    that ``renderer`` is the page's alone.
    """
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return None
    if not argv or b"chrom" not in argv[0]:
        return None
    # Chromium rewrites its children's title, so their flags may be one space-joined string.
    flags = b" ".join(argv)
    found = re.search(rb"--type=([\w-]+)", flags)
    if found is None:
        return "browser"
    kind = found.group(1).decode()
    return f"webui-{kind}" if b"--top-chrome-webui" in flags else kind


def _cpu_by_kind() -> dict[str, float]:
    totals: dict[str, float] = {}
    for pid in _descendants(os.getpid()):
        kind = _chromium_kind(pid)
        if kind is not None:
            totals[kind] = totals.get(kind, 0.0) + _cpu_seconds(pid)
    return totals


def _stop(process: subprocess.Popen[str]) -> None:
    """SIGTERM, then SIGKILL if the daemon has not stopped within 30 s (a loaded machine)."""
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _start_daemon(case: Case) -> tuple[subprocess.Popen[str], str]:
    args = ["--channels", str(case.channels), "--sample-rate", str(case.sample_rate)]
    args += ["--batch-size", str(case.batch_size)]
    process = subprocess.Popen(
        [sys.executable, "-m", "eegd.cli", "run", "--port", "0", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    if process.stdout is None:
        raise RuntimeError("eegd started without a stdout pipe")
    url = process.stdout.readline().strip()
    if not url.startswith("http"):
        process.kill()
        raise RuntimeError(f"eegd did not print its URL: {url!r}")
    return process, url


def _shares(before: dict[str, float], after: dict[str, float], wall: float) -> dict[str, float]:
    """Each Chromium process kind's CPU between two readings, in % of one core."""
    return {kind: round(100 * (after[kind] - before.get(kind, 0.0)) / wall, 1) for kind in after}


@dataclass(frozen=True)
class Windows:
    """How long (s): the warm-up, the CPU window, the frame-counting window after it."""

    warmup: float
    duration: float
    frames: float


async def _measure_page(
    page: playwright_api.Page, windows: Windows, daemon: int | None
) -> dict[str, Any]:
    cpu_before = _cpu_by_kind()
    daemon_before = _cpu_seconds(daemon) if daemon else 0.0
    started = time.monotonic()
    await asyncio.sleep(windows.duration)
    wall = time.monotonic() - started
    share = _shares(cpu_before, _cpu_by_kind(), wall)
    daemon_share = 100 * (_cpu_seconds(daemon) - daemon_before) / wall if daemon else None
    counting = _cpu_by_kind()
    started = time.monotonic()
    times: list[float] = await page.evaluate(_RECORD_FRAMES, windows.frames)
    probed = _shares(counting, _cpu_by_kind(), time.monotonic() - started)
    gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
    result: dict[str, Any] = {
        "renderer_cpu_pct": share.get("renderer", 0.0),
        "gpu_process_cpu_pct": share.get("gpu-process", 0.0),
        "browser_cpu_pct": share.get("browser", 0.0),
        "webui_renderer_cpu_pct": share.get("webui-renderer", 0.0),
        "frames_per_s": round((len(times) - 1) / ((times[-1] - times[0]) / 1000), 1),
        "max_frame_gap_ms": round(max(gaps), 1),
        "frame_gaps_over_50_ms": sum(gap > 50 for gap in gaps),
        "while_counting_frames": {
            "renderer_cpu_pct": probed.get("renderer", 0.0),
            "gpu_process_cpu_pct": probed.get("gpu-process", 0.0),
        },
    }
    if daemon_share is not None:
        result["daemon_cpu_pct"] = round(daemon_share, 1)
    return result


async def _mark_every(url: str, seconds: float) -> None:
    """Put a marker every ``seconds`` until cancelled (the kiosk draws a flag for each)."""
    async with aiohttp.ClientSession() as session:
        for number in range(1_000_000):
            async with session.post(url + "api/markers", json={"label": f"m{number}"}) as reply:
                reply.raise_for_status()
            await asyncio.sleep(seconds)


async def _open_kiosk(page: playwright_api.Page, url: str, windows: Windows) -> None:
    await page.goto(url)
    await page.wait_for_function("document.body.dataset.state === 'streaming'", timeout=90_000)
    await asyncio.sleep(windows.warmup)


async def _measure_kiosk(
    page: playwright_api.Page, windows: Windows, daemon: int
) -> dict[str, Any]:
    kiosk = await _measure_page(page, windows, daemon)
    kiosk["page"] = await page.evaluate("({...document.body.dataset})")
    kiosk["flags_on_screen"] = await page.locator("#trace-strip .marker-flag").count()
    return kiosk


async def _serve_from(page: playwright_api.Page, url: str, directory: Path | None) -> None:
    """Serve the kiosk's page and files from ``directory`` (None: the daemon's own)."""
    await page.unroute_all()
    if directory is None:
        return

    async def serve(route: playwright_api.Route) -> None:
        path = urlsplit(route.request.url).path
        name = "index.html" if path == "/" else path.removeprefix("/kiosk/")
        file = directory / name
        if (path == "/" or name != path) and "/" not in name and file.is_file():
            kind = mimetypes.guess_type(name)[0] or "application/octet-stream"
            await route.fulfill(status=200, content_type=kind, body=file.read_bytes())
        else:
            await route.continue_()

    await page.route(url + "**", serve)


@dataclass(frozen=True)
class Variants:
    """The kiosks compared: a reference (None: the daemon's own) and a variant, ``rounds`` each."""

    reference: Path | None
    variant: Path
    rounds: int


async def _case(
    browser: playwright_api.Browser,
    case: Case,
    windows: Windows,
    marker_every: float,
    variants: Variants | None = None,
) -> dict[str, Any]:
    context = await browser.new_context(viewport={"width": case.width, "height": case.height})
    page = await context.new_page()
    try:
        await page.goto("about:blank")
        await asyncio.sleep(windows.warmup)
        reference = await _measure_page(page, windows, None)
        process, url = _start_daemon(case)
        marking: asyncio.Task[None] | None = None
        try:
            if marker_every > 0:
                marking = asyncio.create_task(_mark_every(url, marker_every))
            if variants is None:
                await _open_kiosk(page, url, windows)
                kiosk = await _measure_kiosk(page, windows, process.pid)
            else:
                compared = await _compare(page, url, windows, process.pid, variants)
        finally:
            if marking is not None:
                marking.cancel()
            _stop(process)
    finally:
        await context.close()
    if variants is not None:
        return {"case": case.name, **compared, "blank_page": reference}
    return {"case": case.name, "kiosk": kiosk, "blank_page": reference}


#: The figures an A/B run compares, as paths into a measurement.
_COMPARED = {
    "renderer_cpu_pct": ("renderer_cpu_pct",),
    "gpu_process_cpu_pct": ("gpu_process_cpu_pct",),
    "renderer_cpu_pct_while_counting_frames": ("while_counting_frames", "renderer_cpu_pct"),
}


async def _compare(
    page: playwright_api.Page, url: str, windows: Windows, daemon: int, variants: Variants
) -> dict[str, Any]:
    """Reference (A) and variant (B) alternately on one daemon: A B, B A, A B, …"""
    runs: dict[str, list[dict[str, Any]]] = {"a": [], "b": []}
    for number in range(variants.rounds):
        for which in "ab" if number % 2 == 0 else "ba":
            await _serve_from(page, url, variants.variant if which == "b" else variants.reference)
            await _open_kiosk(page, url, windows)
            runs[which].append(await _measure_kiosk(page, windows, daemon))

    def figure(run: dict[str, Any], path: tuple[str, ...]) -> float:
        value: Any = run
        for key in path:
            value = value[key]
        return max(float(value), 0.1)

    ratios: dict[str, Any] = {}
    for name, path in _COMPARED.items():
        each = [
            figure(b, path) / figure(a, path) for a, b in zip(runs["a"], runs["b"], strict=True)
        ]
        ratios[name] = {
            "rounds": [round(r, 3) for r in each],
            "median": round(statistics.median(each), 3),
        }
    return {"reference": runs["a"], "variant": runs["b"], "ratio_variant_over_reference": ratios}


async def measure(
    cases: list[Case], windows: Windows, marker_every: float, variants: Variants | None = None
) -> dict[str, Any]:
    """Every case in one browser; returns the JSON document."""
    async with playwright_api.async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            results = [
                await _case(browser, case, windows, marker_every, variants) for case in cases
            ]
            version = browser.version
        finally:
            await browser.close()
    return {
        "benchmark": "kiosk",
        "chromium": version,
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
        "load_average_at_end": os.getloadavg(),
        "duration_s": windows.duration,
        "frame_window_s": windows.frames,
        "marker_every_s": marker_every,
        "variants": None
        if variants is None
        else {
            "reference": str(variants.reference or "the daemon's own"),
            "variant": str(variants.variant),
            "rounds": variants.rounds,
        },
        "cases": results,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=10.0, help="CPU window, s")
    parser.add_argument("--frame-window", type=float, default=5.0, help="frame counting, s")
    parser.add_argument("--warmup", type=float, default=3.0, help="seconds before measuring")
    parser.add_argument("--cases", default=DEFAULT_CASES, help="CHANNELSxRATE@WxH, comma-separated")
    parser.add_argument(
        "--marker-every", type=float, default=1.0, help="seconds between markers, 0 for none"
    )
    parser.add_argument("--variant", type=Path, help="a kiosk directory to compare (B)")
    parser.add_argument("--reference", type=Path, help="the kiosk directory it is compared to (A)")
    parser.add_argument("--rounds", type=int, default=3, help="measurements of each, A/B only")
    options = parser.parse_args()
    cases = [Case.parse(text) for text in options.cases.split(",")]
    windows = Windows(options.warmup, options.duration, options.frame_window)
    variants = None
    if options.variant is not None:
        variants = Variants(options.reference, options.variant, options.rounds)
    print(
        json.dumps(asyncio.run(measure(cases, windows, options.marker_every, variants)), indent=2)
    )


if __name__ == "__main__":
    main()
