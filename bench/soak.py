"""Soak: the daemon at 8 × 16 kHz with 20 clients and one more connecting and leaving each second.

A fresh daemon (synthetic source, paced) runs as its own process for ``--duration`` seconds
(default 10 minutes) with 20 WebSocket clients on ``/ws/filtered_eeg`` in another process
(``_ws_clients.py``), while this process connects one more client every second, waits for its
hello and closes it. Every ``--interval`` seconds it samples the daemon's resident memory and
open file descriptors (/proc) and its asyncio tasks (``/api/status``). It prints one JSON
document: the samples, the growth of each from the first minute's end to the last sample,
the churn's count, and what the 20 clients received (frames, gaps, drops).

    python bench/soak.py [--duration 600] [--interval 10]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp

# bench/_processes.py, beside this file (the script's directory is first on sys.path)
from _processes import Child, children

__all__ = ["main"]

BENCH_DIR = Path(__file__).resolve().parent
CLIENTS = 20
#: Seconds after the start from which growth is measured: warm-up (caches, first spectra).
SETTLED_S = 60.0
READY_TIMEOUT_S = 60.0


def resident_kib(pid: int) -> int:
    """Resident set size of process ``pid`` in KiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for process {pid}")


def open_fds(pid: int) -> int:
    """File descriptors process ``pid`` has open."""
    return len(os.listdir(f"/proc/{pid}/fd"))


async def sample(
    session: aiohttp.ClientSession, url: str, daemon: Child, t0: float
) -> dict[str, Any]:
    """One sample of the daemon: memory, descriptors, tasks, clients."""
    async with session.get(url + "api/status") as response:
        status = await response.json()
    return {
        "t_s": round(time.monotonic() - t0, 1),
        "rss_kib": resident_kib(daemon.pid),
        "fds": open_fds(daemon.pid),
        "asyncio_tasks": status["asyncio_tasks"],
        "client_tasks": status["clients"]["client_tasks"],
        "clients": status["clients"]["clients"],
        "dropped": status["clients"]["dropped"],
    }


async def churn(
    session: aiohttp.ClientSession, ws_url: str, until: float, counts: dict[str, int]
) -> None:
    """Connect a client, wait for its hello, close it; once a second until ``until``."""
    next_at = time.monotonic()
    while next_at < until:
        try:
            async with asyncio.timeout(5.0):
                async with session.ws_connect(ws_url, max_msg_size=0) as ws:
                    message = await ws.receive()
                    counts["greeted" if message.type is aiohttp.WSMsgType.TEXT else "refused"] += 1
        except (TimeoutError, aiohttp.ClientError):
            counts["failed"] += 1
        next_at += 1.0
        await asyncio.sleep(max(0.0, next_at - time.monotonic()))


def growth(samples: list[dict[str, Any]], key: str) -> int | None:
    """The last sample's ``key`` minus the first one at or after ``SETTLED_S``."""
    settled = [entry for entry in samples if entry["t_s"] >= SETTLED_S]
    return settled[-1][key] - settled[0][key] if len(settled) >= 2 else None


async def soak(duration: float, interval: float) -> dict[str, Any]:
    """Run the daemon, the clients and the churn for ``duration`` s; the report."""
    with tempfile.TemporaryDirectory(prefix="eegd-soak-") as directory:
        workdir = Path(directory)
        config = workdir / "eegd.toml"
        config.write_text("[server]\nmax_clients = 64\n")
        async with children(workdir) as group, aiohttp.ClientSession() as session:
            daemon = await group.start(
                "eegd",
                *("-m", "eegd.cli", "run", "--config", str(config), "--host", "127.0.0.1"),
                *("--port", "0", "--log-level", "warning", "--channels", "8"),
                *("--sample-rate", "16000", "--batch-size", "512"),
            )
            url = (await daemon.read_line(READY_TIMEOUT_S)).strip().rstrip("/") + "/"
            ws_url = "ws" + url.removeprefix("http") + "ws/filtered_eeg"
            receivers = await group.start(
                "clients",
                str(BENCH_DIR / "_ws_clients.py"),
                *("--url", ws_url, "--clients", str(CLIENTS)),
                *("--deadline-s", str(duration + 2 * interval + 120)),
            )
            await receivers.read_json("ready", READY_TIMEOUT_S)
            t0 = time.monotonic()
            start_ns = time.monotonic_ns()
            # The clients stay past the last sample, so that it still counts them.
            end_ns = start_ns + int((duration + 2 * interval) * 1e9)
            receivers.send_json({"start_ns": start_ns, "end_ns": end_ns})
            counts = {"greeted": 0, "refused": 0, "failed": 0}
            churning = asyncio.create_task(churn(session, ws_url, t0 + duration, counts))
            samples = []
            while True:
                samples.append(await sample(session, url, daemon, t0))
                print(f"soak: {samples[-1]}", file=sys.stderr, flush=True)
                if time.monotonic() - t0 >= duration:
                    break
                await asyncio.sleep(max(0.0, t0 + len(samples) * interval - time.monotonic()))
            await churning
            result = await receivers.read_json("result", 2 * interval + 120.0)
    frames = result["frames"]
    return {
        "benchmark": "soak",
        "settings": {"duration_s": duration, "interval_s": interval, "clients": CLIENTS},
        "samples": samples,
        "growth_after_first_minute": {
            key: growth(samples, key) for key in ("rss_kib", "fds", "asyncio_tasks", "client_tasks")
        },
        "churn": counts,
        "clients": {
            "frames_min": min(frames),
            "frames_max": max(frames),
            "gaps": sum(result["gaps"]),
            "drop_notices": result["drop_notices"],
            "closed_early": result["closed_early"],
        },
    }


def main() -> None:
    """Parse the flags, soak, print the JSON report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=600.0, help="seconds to run")
    parser.add_argument("--interval", type=float, default=10.0, help="seconds between samples")
    args = parser.parse_args()
    if args.duration <= 0 or args.interval <= 0:
        parser.error("--duration and --interval must be positive")
    json.dump(asyncio.run(soak(args.duration, args.interval)), sys.stdout, indent=2)
    print()


if __name__ == "__main__":
    main()
