"""What the kiosk page costs the browser: frames/s, frame gaps and renderer CPU; JSON on stdout.

For each case a daemon runs as its own process (synthetic source, paced in real time, the
default plugins) and Debian's Chromium (headless, through Playwright; never a downloaded
browser) shows its kiosk at the case's viewport. After a warm-up the page's
``requestAnimationFrame`` times are recorded for a window, and the CPU time of Chromium's
renderer processes (``--type=renderer``, utime + stime from ``/proc/<pid>/stat``) over the same
window gives the renderer's share of one core. The GPU process (software compositing here) and
the daemon are reported beside it. The reference measured in the same run is a blank page at
the same viewport running an empty ``requestAnimationFrame`` loop: the browser's own floor.
While the kiosk is shown a marker is put every ``--marker-every`` seconds (``POST
/api/markers``), so its flags are drawn and scroll through the measured window.

    python bench/kiosk.py [--duration 10] [--warmup 3] [--marker-every 1] [--cases 8x250@800x480]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
from playwright import async_api as playwright_api

__all__ = ["main"]

CHROMIUM = "/usr/bin/chromium"
#: Software rendering as in the browser tests: the figures are the CPU's, not a GPU's.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
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
    """``renderer``, ``gpu-process``, ``browser`` … for a Chromium process, else None."""
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return None
    if not argv or b"chrom" not in argv[0]:
        return None
    # Chromium rewrites its children's title, so their flags may be one space-joined string.
    found = re.search(rb"--type=([\w-]+)", b" ".join(argv))
    return found.group(1).decode() if found else "browser"


def _cpu_by_kind() -> dict[str, float]:
    totals: dict[str, float] = {}
    for pid in _descendants(os.getpid()):
        kind = _chromium_kind(pid)
        if kind is not None:
            totals[kind] = totals.get(kind, 0.0) + _cpu_seconds(pid)
    return totals


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


async def _measure_page(
    page: playwright_api.Page, duration: float, daemon: int | None
) -> dict[str, Any]:
    cpu_before = _cpu_by_kind()
    daemon_before = _cpu_seconds(daemon) if daemon else 0.0
    started = time.monotonic()
    times: list[float] = await page.evaluate(_RECORD_FRAMES, duration)
    wall = time.monotonic() - started
    cpu_after = _cpu_by_kind()
    gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
    share = {
        kind: round(100 * (cpu_after[kind] - cpu_before.get(kind, 0.0)) / wall, 1)
        for kind in cpu_after
    }
    result: dict[str, Any] = {
        "frames_per_s": round((len(times) - 1) / ((times[-1] - times[0]) / 1000), 1),
        "max_frame_gap_ms": round(max(gaps), 1),
        "frame_gaps_over_50_ms": sum(gap > 50 for gap in gaps),
        "renderer_cpu_pct": share.get("renderer", 0.0),
        "gpu_process_cpu_pct": share.get("gpu-process", 0.0),
        "browser_cpu_pct": share.get("browser", 0.0),
    }
    if daemon:
        result["daemon_cpu_pct"] = round(100 * (_cpu_seconds(daemon) - daemon_before) / wall, 1)
    return result


async def _mark_every(url: str, seconds: float) -> None:
    """Put a marker every ``seconds`` until cancelled (the kiosk draws a flag for each)."""
    async with aiohttp.ClientSession() as session:
        for number in range(1_000_000):
            async with session.post(url + "api/markers", json={"label": f"m{number}"}) as reply:
                reply.raise_for_status()
            await asyncio.sleep(seconds)


async def _case(
    browser: playwright_api.Browser,
    case: Case,
    duration: float,
    warmup: float,
    marker_every: float,
) -> dict[str, Any]:
    context = await browser.new_context(viewport={"width": case.width, "height": case.height})
    page = await context.new_page()
    try:
        await page.goto("about:blank")
        await page.wait_for_timeout(1000 * warmup)
        reference = await _measure_page(page, duration, None)
        process, url = _start_daemon(case)
        marking: asyncio.Task[None] | None = None
        try:
            await page.goto(url)
            await page.wait_for_function(
                "document.body.dataset.state === 'streaming'", timeout=30_000
            )
            if marker_every > 0:
                marking = asyncio.create_task(_mark_every(url, marker_every))
            await page.wait_for_timeout(1000 * warmup)
            kiosk = await _measure_page(page, duration, process.pid)
            kiosk["page"] = await page.evaluate("({...document.body.dataset})")
            kiosk["flags_on_screen"] = await page.locator("#trace-strip .marker-flag").count()
        finally:
            if marking is not None:
                marking.cancel()
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=10)
    finally:
        await context.close()
    ratio = kiosk["renderer_cpu_pct"] / max(reference["renderer_cpu_pct"], 0.1)
    return {
        "case": case.name,
        "kiosk": kiosk,
        "blank_page": reference,
        "renderer_cpu_vs_blank": round(ratio, 1),
    }


async def measure(
    cases: list[Case], duration: float, warmup: float, marker_every: float
) -> dict[str, Any]:
    """Every case in one browser; returns the JSON document."""
    async with playwright_api.async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            results = [await _case(browser, case, duration, warmup, marker_every) for case in cases]
            version = browser.version
        finally:
            await browser.close()
    return {
        "benchmark": "kiosk",
        "chromium": version,
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
        "load_average_at_end": os.getloadavg(),
        "duration_s": duration,
        "marker_every_s": marker_every,
        "cases": results,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=10.0, help="measured window, s")
    parser.add_argument("--warmup", type=float, default=3.0, help="seconds before measuring")
    parser.add_argument("--cases", default=DEFAULT_CASES, help="CHANNELSxRATE@WxH, comma-separated")
    parser.add_argument(
        "--marker-every", type=float, default=1.0, help="seconds between markers, 0 for none"
    )
    options = parser.parse_args()
    cases = [Case.parse(text) for text in options.cases.split(",")]
    document = measure(cases, options.duration, options.warmup, options.marker_every)
    print(json.dumps(asyncio.run(document), indent=2))


if __name__ == "__main__":
    main()
