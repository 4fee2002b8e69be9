"""A day of faults in minutes: the daemon under random faults, and whether it healed; JSON out.

The daemon runs as its own process (``eegd run``) on the ``faulty`` source (the synthetic
source with read failures that keep the "device" away for a while, silences, wrong-shaped
and NaN blocks, each on its own schedule of reads) and a plugin, ``chaos_crash``, that
raises on random packets (installed for the run as a distribution with an entry point,
exactly as a third-party plugin is). Meanwhile clients come and go at random: some stall
(never read), some flood (send control messages as fast as they can), some vanish (drop
the TCP connection mid-stream). A few fast clients stream ``raw_eeg`` and ``system`` the
whole time.

At the end it prints: the ledger (and whether every lost sample is in a gap the clients
were told of), restarts per task, the daemon's RSS and open-fd growth from the first
minute to the end, every fast client's verdict (its frames contiguous, and its samples
contiguous outside the gaps announced by ``samples_lost``), and the shutdown (SIGTERM:
exit code and seconds).

    python bench/chaos.py --minutes 10 --seed 1
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import signal
import sys
import tempfile
import textwrap
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from eegd.client import connect
from eegd.events import SystemEvent, SystemEventKind
from eegd.net.protocol import EegFrame

__all__ = ["main"]

RATE = 250
BATCH = 32
#: Seconds of run before the RSS and fd baseline is taken (imports, caches, first clients).
WARMUP_S = 30.0

CHAOS_PLUGIN = '''
import random

from eegd.events import Topic
from eegd.plugin import TransformPlugin


class ChaosCrash(TransformPlugin):
    """Raises on a random packet, about one in ``mean_packets``: a plugin with a bug."""

    name = "chaos_crash"
    consumes = (Topic.RAW_EEG,)
    produces = ()

    def __init__(self, mean_packets, seed):
        self._chance = 1.0 / mean_packets
        self._random = random.Random(seed)

    @classmethod
    def from_options(cls, options):
        return cls(int(options.get("mean_packets", 1000)), options.get("seed"))

    def process(self, event):
        if self._random.random() < self._chance:
            raise RuntimeError("chaos: an injected plugin crash")
        return ()
'''


def install_chaos_plugin(root: Path) -> None:
    """The ``eegd_chaos`` distribution on ``root``: the plugin and its entry point."""
    package = root / "eegd_chaos"
    package.mkdir()
    (package / "__init__.py").write_text(textwrap.dedent(CHAOS_PLUGIN))
    info = root / "eegd_chaos-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: eegd_chaos\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[eegd.plugins]\nchaos_crash = eegd_chaos:ChaosCrash\n")


def config_toml(seed: int) -> str:
    """The faults: every period is prime, so they fall on every mix of each other."""
    return textwrap.dedent(f"""
        plugins = ["voltage_filter", "brain_waves", "recorder", "chaos_crash"]
        [source]
        kind = "faulty"
        sample_rate = {RATE}
        batch_size = {BATCH}
        [source.faulty]
        fail_every = 401        # about every 51 s
        down_s = 3.0            # the device stays away 3 s
        silence_every = 773     # about every 99 s
        silence_s = 2.0         # longer than stall_timeout_s: a reopen
        wrong_shape_every = 997
        nan_every = 1213
        [source.faulty.options]
        seed = {seed}
        [supervisor]
        initial_backoff = 0.5
        max_backoff = 5.0
        [plugin.chaos_crash]
        mean_packets = 2000     # about every 4 min
        seed = {seed}
        [log]
        level = "warning"
        """)


def proc_figures(pid: int) -> dict[str, int]:
    """The process's resident set (KiB) and open file descriptors now."""
    rss = 0
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            rss = int(line.split()[1])
    return {"rss_kib": rss, "fds": len(os.listdir(f"/proc/{pid}/fd"))}


@dataclass
class FastClient:
    """Streams raw_eeg and system the whole run; judges its own stream."""

    index: int
    frames: int = 0
    samples: int = 0
    frame_id_breaks: int = 0
    unannounced_jumps: int = 0
    announced_gaps: int = 0
    announced_samples: int = 0
    dropped_notices: int = 0
    closed_early: str | None = None
    closed_at_shutdown: int | None = None
    shutting_down: bool = False
    _last_frame: int | None = None
    _next_sample: int | None = None
    _announced: dict[int, int] = field(default_factory=dict)
    _session: str | None = None

    def on_system(self, event: SystemEvent) -> None:
        if event.kind is SystemEventKind.SAMPLES_LOST:
            first, count = int(event.detail["first_sample"]), int(event.detail["count"])
            self._announced[first] = count
            self.announced_gaps += 1
            self.announced_samples += count

    def on_frame(self, frame: EegFrame, session: str | None) -> None:
        if session != self._session:  # a new session starts its own counts
            self._session, self._last_frame, self._next_sample = session, None, None
        if self._last_frame is not None and frame.frame_id != self._last_frame + 1:
            self.frame_id_breaks += 1
        expected = self._next_sample
        if expected is not None and frame.first_sample != expected:
            if self._announced.pop(expected, None) != frame.first_sample - expected:
                self.unannounced_jumps += 1
        self._last_frame = frame.frame_id
        self._next_sample = frame.first_sample + frame.n_samples
        self.frames += 1
        self.samples += frame.n_samples

    def verdict(self) -> dict[str, Any]:
        return {
            "frames": self.frames,
            "samples": self.samples,
            "frame_id_breaks": self.frame_id_breaks,
            "unannounced_jumps": self.unannounced_jumps,
            "announced_gaps": self.announced_gaps,
            "announced_samples": self.announced_samples,
            "dropped_notices": self.dropped_notices,
            "closed_early": self.closed_early,
            "closed_at_shutdown": self.closed_at_shutdown,
            "contiguous_outside_announced_gaps": self.frames > 0
            and self.frame_id_breaks == 0
            and self.unannounced_jumps == 0
            and self.dropped_notices == 0
            and self.closed_early is None,
        }

    async def run(self, ws_url: str) -> None:
        try:
            async with connect(ws_url + "ws", ["raw_eeg", "system"]) as stream:
                async for item in stream:
                    if isinstance(item, SystemEvent):
                        self.on_system(item)
                    elif isinstance(item, EegFrame):
                        self.on_frame(item, stream.hello.session if stream.hello else None)
                    self.dropped_notices = stream.frames_dropped
                if self.shutting_down:
                    self.closed_at_shutdown = stream.close_code
                else:
                    self.closed_early = f"closed by the server ({stream.close_code})"
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            if not self.shutting_down:
                self.closed_early = f"{type(exc).__name__}: {exc}"


@dataclass
class Mischief:
    """Counts of the misbehaving clients launched, and how each ended."""

    launched: dict[str, int] = field(default_factory=lambda: {"stall": 0, "flood": 0, "vanish": 0})
    closed_by_server: dict[str, int] = field(default_factory=dict)

    def closed(self, kind: str, how: object) -> None:
        key = f"{kind}: {how}"
        self.closed_by_server[key] = self.closed_by_server.get(key, 0) + 1


async def ending(ws: aiohttp.ClientWebSocketResponse) -> str:
    """How the server ended ``ws``: read what is left (10 s at most) until it ends."""
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(10):
            while True:
                message = await ws.receive()
                if message.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSING):
                    return f"close frame {message.data}"
                if message.type in (aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.ERROR):
                    return "dropped"
    return "still open"


async def stall(session: aiohttp.ClientSession, ws_url: str, mischief: Mischief) -> None:
    """Connect, then neither read nor answer pings for 20 to 60 s; then see how it ended.

    The server's heartbeat (a ping every ``[server] heartbeat_s``, unanswered) or its
    no-progress watchdog should have dropped it by then.
    """
    ws = await session.ws_connect(ws_url + "ws/filtered_eeg", max_msg_size=0, autoping=False)
    connection = ws._response.connection  # noqa: SLF001
    transport = connection.transport if connection is not None else None
    if transport is not None:
        transport.pause_reading()
    await asyncio.sleep(random.uniform(20.0, 60.0))
    if transport is not None:
        transport.resume_reading()
    mischief.closed("stall", await ending(ws))
    await ws.close()


async def flood(session: aiohttp.ClientSession, ws_url: str, mischief: Mischief) -> None:
    """Send subscribe messages as fast as possible; the server should close it."""
    ws = await session.ws_connect(ws_url + "ws", max_msg_size=0)
    message = json.dumps({"type": "subscribe", "topics": ["fft"]})
    with contextlib.suppress(Exception):
        for _ in range(5000):
            await ws.send_str(message)
            if ws.closed:
                break
    mischief.closed("flood", await ending(ws))
    await ws.close()


async def vanish(session: aiohttp.ClientSession, ws_url: str, mischief: Mischief) -> None:
    """Stream a little, then drop the TCP connection without a close frame."""
    ws = await session.ws_connect(ws_url + "ws/filtered_eeg", max_msg_size=0)
    with contextlib.suppress(Exception):
        async with asyncio.timeout(random.uniform(0.5, 5.0)):
            async for _ in ws:
                pass
    connection = ws._response.connection  # noqa: SLF001
    if connection is not None and connection.transport is not None:
        connection.transport.abort()
    mischief.closed("vanish", None)


async def mischief_loop(ws_url: str, mischief: Mischief, rng: random.Random) -> None:
    """Launch a misbehaving client every few seconds, at random."""
    kinds = {"stall": stall, "flood": flood, "vanish": vanish}
    tasks: set[asyncio.Task[None]] = set()
    async with aiohttp.ClientSession() as session:
        try:
            while True:
                await asyncio.sleep(rng.uniform(2.0, 8.0))
                kind = rng.choice(list(kinds))
                mischief.launched[kind] += 1
                task = asyncio.create_task(kinds[kind](session, ws_url, mischief))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
        finally:
            for task in list(tasks):
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)


async def status(session: aiohttp.ClientSession, url: str) -> dict[str, Any]:
    async with session.get(url + "api/status") as response:
        response.raise_for_status()
        body: dict[str, Any] = await response.json()
        return body


def ledger_summary(ledger: dict[str, Any]) -> dict[str, Any]:
    """The totals, and whether the gaps listed account for every lost sample."""
    gaps_by_cause: dict[str, dict[str, float]] = {}
    listed = 0
    for session in ledger["sessions"]:
        for gap in session["gaps"]:
            cause = gaps_by_cause.setdefault(gap["cause"], {"gaps": 0, "samples": 0, "seconds": 0})
            cause["gaps"] += 1
            cause["samples"] += gap["count"]
            cause["seconds"] = round(cause["seconds"] + gap["duration_s"], 3)
            listed += gap["count"]
    dropped = sum(session["gaps_dropped"] for session in ledger["sessions"])
    return {
        key: ledger[key]
        for key in (
            "samples_expected",
            "samples_acquired",
            "samples_lost",
            "blocks_rejected",
            "outages",
            "session_count",
            "consistent",
        )
    } | {
        "expected_minus_acquired_minus_lost": ledger["samples_expected"]
        - ledger["samples_acquired"]
        - ledger["samples_lost"],
        "gaps_by_cause": gaps_by_cause,
        "every_lost_sample_in_a_listed_gap": dropped == 0 and listed == ledger["samples_lost"],
    }


async def run(minutes: float, seed: int, fast_clients: int) -> dict[str, Any]:
    rng = random.Random(seed)
    random.seed(seed)  # the bad clients' own durations
    with tempfile.TemporaryDirectory() as directory:
        root = Path(directory)
        install_chaos_plugin(root)
        config = root / "eegd.toml"
        config.write_text(config_toml(seed))
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(root), *sys.path])}
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            *("-m", "eegd.cli", "run", "--config", str(config), "--port", "0"),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
            env=env,
            cwd=str(root),
        )
        assert process.stdout is not None
        url = (await asyncio.wait_for(process.stdout.readline(), 30)).decode().strip()
        url = url if url.endswith("/") else url + "/"
        ws_url = "ws" + url.removeprefix("http")
        clients = [FastClient(i) for i in range(fast_clients)]
        streams = [asyncio.create_task(client.run(ws_url)) for client in clients]
        mischief = Mischief()
        chaos = asyncio.create_task(mischief_loop(ws_url, mischief, rng))
        started = time.monotonic()
        await asyncio.sleep(min(WARMUP_S, minutes * 60 / 4))
        baseline = proc_figures(process.pid)
        await asyncio.sleep(max(0.0, minutes * 60 - (time.monotonic() - started)))
        end = proc_figures(process.pid)
        chaos.cancel()
        await asyncio.gather(chaos, return_exceptions=True)
        async with aiohttp.ClientSession() as session:
            final = await status(session, url)
        for client in clients:
            client.shutting_down = True
        stopping = time.monotonic()
        process.send_signal(signal.SIGTERM)
        try:
            code: int | None = await asyncio.wait_for(process.wait(), 10)
        except TimeoutError:
            process.kill()
            code = None
        shutdown_s = time.monotonic() - stopping
        await asyncio.gather(*streams, return_exceptions=True)
    return {
        "minutes": minutes,
        "seed": seed,
        "faults_seen": {
            "source_outages": final["ledger"]["outages"],
            "blocks_rejected": final["ledger"]["blocks_rejected"],
            "clients": mischief.launched,
            "client_endings": mischief.closed_by_server,
            "clients_connected_at_end": final["clients"]["clients"],
            "clients_closed_by_reason": {
                "stalled": final["clients"]["closed_stalled"],
                "flooding": final["clients"]["closed_flooding"],
                "unread": final["clients"]["closed_unread"],
            },
        },
        "ledger": ledger_summary(final["ledger"]),
        "restarts": {task["name"]: task["restarts"] for task in final["tasks"]},
        "task_states": {task["name"]: task["state"] for task in final["tasks"]},
        "process": {
            "baseline_after_s": round(min(WARMUP_S, minutes * 60 / 4), 1),
            "rss_kib": {**{k: v["rss_kib"] for k, v in (("start", baseline), ("end", end))}},
            "rss_growth_kib": end["rss_kib"] - baseline["rss_kib"],
            "fds": {"start": baseline["fds"], "end": end["fds"]},
            "fd_growth": end["fds"] - baseline["fds"],
        },
        "fast_clients": [client.verdict() for client in clients],
        "every_fast_client_contiguous": all(
            client.verdict()["contiguous_outside_announced_gaps"] for client in clients
        ),
        "shutdown": {"exit_code": code, "seconds": round(shutdown_s, 3)},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--fast-clients", type=int, default=3)
    args = parser.parse_args()
    result = asyncio.run(run(args.minutes, args.seed, args.fast_clients))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
