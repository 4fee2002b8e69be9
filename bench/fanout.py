"""Fan-out of ``filtered_eeg`` to N WebSocket clients, against Lab Streaming Layer on loopback.

For each case a fresh daemon (synthetic source, paced) runs as its own process and N clients
on ``/ws/filtered_eeg`` run in separate processes (``_ws_clients.py``, at most
``--clients-per-process`` each). After a warm-up, one window of ``--duration`` seconds is
measured: frames/s per client, lost frames (gaps in frame ids, the server's drop counters),
latency from the acquisition loop's publish (``monotonic_ns`` in the frame header) to receipt,
and the CPU of every process from /proc. The reference is the same stream shape through
pylsl (``_lsl_peer.py``: one outlet process, N inlet processes, latency from push). The
``eegd-lsl`` cases measure eegd's own LSL outlet (the ``lsl_outlet`` plugin) against that
reference: latency from the acquisition's stamp of a packet to an external pylsl inlet.
The ``eegd-legacy`` cases are the ``eegd`` ones on the old daemon's ``/ws/data`` (its own
encoding, docs/protocol.md section 9.1, which the daemon builds once per event for all of
them) instead of eegd's ``/ws/filtered_eeg``, and are given as ratios to those: the server's
CPU per client per frame and the fan-out spread (that format carries no acquisition stamp,
so no latency). Their daemon runs without the brain-waves plugin, so that both routes carry
the same frames (``/ws/data`` would also carry spectra, which are computed only while a
client takes them).

The machine's limit is the ``bare`` system (``_bare_writer.py``): a minimal aiohttp server that
writes one pre-built frame of the same size to every client's transport at the same rate,
measured with the same receivers. Each eegd figure is also given as a ratio to it: p50, p99,
the spread between the first and the last client's receipt of each frame (the server's
fan-out time, reported apart from end-to-end latency) and the server's CPU per client per
frame (the CPU added from N = 1 to N, over the (N − 1) × frames/s extra writes).

One JSON document on stdout (with the ratios), progress and a summary table on stderr.

    python bench/fanout.py [--duration 15] [--warmup 2] [--systems eegd,bare,lsl,eegd-lsl]
                           [--cases "8x16000 N=1"] [--clients 10,100,250] [--shapes 8x250]
    python bench/fanout.py --systems eegd,eegd-legacy   # /ws/data beside /ws/filtered_eeg
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import numpy as np

# bench/_processes.py and bench/_fanout_report.py, beside this file (the script's directory
# is first on sys.path)
from _fanout_report import (
    machine,
    per_client_frame_us,
    ratios,
    ratios_between,
    ratios_to_bare,
    receiver_summary,
    table,
)
from _processes import Child, Children, children, measure_window

__all__ = ["Case", "Shape", "main"]

BENCH_DIR = Path(__file__).resolve().parent
#: Seconds a child may take to print its ready line (daemon URL, clients connected).
READY_TIMEOUT_S = 60.0
#: Extra seconds, past the window's end, a child may take to report.
REPORT_GRACE_S = 30.0
#: Keeps LSL's discovery on this machine: UDP queries to 127.0.0.1 only, IPv4 only.
LSL_LOOPBACK_CONFIG = """\
[ports]
IPv6 = disable
[multicast]
ResolveScope = machine
AddressesOverride = {127.0.0.1}
ListenAddress = 127.0.0.1
[lab]
KnownPeers = {127.0.0.1}
[log]
level = -2
"""


@dataclass(frozen=True)
class Shape:
    """A stream shape: channels × sample rate, in packets (chunks) of ``batch_size``."""

    channels: int
    sample_rate: int
    batch_size: int

    @property
    def label(self) -> str:
        """``8x16000``: how the shape is named in the report."""
        return f"{self.channels}x{self.sample_rate}"

    @property
    def frames_per_s(self) -> float:
        """Packets per second the source produces."""
        return self.sample_rate / self.batch_size


@dataclass(frozen=True)
class Case:
    """One measurement: a system (``eegd`` or ``lsl``), a stream shape, N receivers."""

    system: str
    shape: Shape
    clients: int

    @property
    def key(self) -> str:
        """``8x16000 N=10``: matches eegd cases with LSL cases of the same shape and N."""
        return f"{self.shape.label} N={self.clients}"


FAST = Shape(8, 16000, 512)
KIOSK = Shape(8, 250, 32)
SHAPES = {shape.label: shape for shape in (FAST, KIOSK)}
CASES = (
    Case("eegd", FAST, 1),
    Case("eegd", FAST, 10),
    Case("eegd", FAST, 100),
    Case("eegd", KIOSK, 1),
    Case("eegd", KIOSK, 100),
    Case("bare", FAST, 1),
    Case("bare", FAST, 10),
    Case("bare", FAST, 100),
    Case("bare", KIOSK, 1),
    Case("bare", KIOSK, 100),
    Case("lsl", FAST, 1),
    Case("lsl", FAST, 10),
    Case("lsl", KIOSK, 1),
    Case("eegd-lsl", FAST, 1),
    Case("eegd-lsl", KIOSK, 1),
    Case("eegd-legacy", FAST, 1),
    Case("eegd-legacy", FAST, 10),
    Case("eegd-legacy", FAST, 100),
    Case("eegd-legacy", KIOSK, 1),
    Case("eegd-legacy", KIOSK, 100),
)
#: Where each WebSocket system's clients connect.
ROUTES = {"eegd": "ws/filtered_eeg", "eegd-legacy": "ws/data", "bare": "ws/filtered_eeg"}


# --------------------------------------------------------------------------- eegd


def split(total: int, per_process: int) -> list[int]:
    """``total`` clients spread evenly over as few processes as ``per_process`` allows."""
    processes = math.ceil(total / per_process)
    return [total // processes + (index < total % processes) for index in range(processes)]


async def daemon_status(session: aiohttp.ClientSession, url: str) -> dict[str, Any]:
    """The daemon's /api/status."""
    async with session.get(url + "api/status") as response:
        response.raise_for_status()
        status: dict[str, Any] = await response.json()
        return status


def status_drops(status: dict[str, Any]) -> tuple[int, int]:
    """(frames dropped from client queues, filtered_eeg events dropped on the bus)."""
    return int(status["clients"]["dropped"]), int(status["bus"]["filtered_eeg"]["dropped"])


async def start_daemon(group: Children, config: Path, shape: Shape) -> tuple[Child, str]:
    """A daemon configured by ``config`` streaming ``shape``, and its base URL (ending in /)."""
    daemon = await group.start(
        "eegd",
        *("-m", "eegd.cli", "run", "--config", str(config), "--host", "127.0.0.1"),
        *("--port", "0", "--log-level", "warning", "--channels", str(shape.channels)),
        *("--sample-rate", str(shape.sample_rate), "--batch-size", str(shape.batch_size)),
    )
    url = (await daemon.read_line(READY_TIMEOUT_S)).strip()
    return daemon, url if url.endswith("/") else url + "/"


async def start_receivers(
    group: Children, ws_url: str, case: Case, args: argparse.Namespace
) -> tuple[list[Child], int]:
    """``case.clients`` WebSocket receivers of ``ws_url`` over processes; once all are greeted."""
    deadline = args.warmup + args.duration + READY_TIMEOUT_S + REPORT_GRACE_S
    shape = case.shape
    legacy = (
        ("--legacy-frame-us", str(shape.batch_size * 1e6 / shape.sample_rate))
        if case.system == "eegd-legacy"
        else ()
    )
    receivers = [
        await group.start(
            f"clients{index}",
            str(BENCH_DIR / "_ws_clients.py"),
            *("--url", ws_url, "--clients", str(count), "--deadline-s", str(deadline)),
            *legacy,
        )
        for index, count in enumerate(split(case.clients, args.clients_per_process))
    ]
    connected = 0
    for child in receivers:
        ready = await child.read_json("ready", READY_TIMEOUT_S)
        connected += int(ready["connected"])
    return receivers, connected


async def measure_receivers(
    server: Child, receivers: Sequence[Child], args: argparse.Namespace
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The window over ``server`` and its receivers: their results and the CPU % of each."""
    pids = {
        "server": [server.pid],
        "clients": [child.pid for child in receivers],
        "harness": [os.getpid()],
    }
    _, _, cpu = await measure_window(receivers, pids, args.warmup, args.duration)
    results = [await child.read_json("result", REPORT_GRACE_S) for child in receivers]
    percent = {
        "daemon": round(cpu["server"][0], 1),
        "clients_total": round(sum(cpu["clients"]), 1),
        "clients_per_process": [round(value, 1) for value in cpu["clients"]],
        "harness": round(cpu["harness"][0], 1),
        "others": round(cpu["others"][0], 1),
    }
    return results, percent


def receivers_report(
    case: Case, results: Sequence[dict[str, Any]], connected: int, args: argparse.Namespace
) -> dict[str, Any]:
    """The fields every WebSocket case reports, from its receivers."""
    summary = receiver_summary(results, args.duration)
    return {
        "system": case.system,
        "key": case.key,
        **shape_fields(case.shape),
        "clients": case.clients,
        "connected": connected,
        "client_processes": len(results),
        **summary,
        "drop_notices": sum(result["drop_notices"] for result in results),
        "closed_early": sum(result["closed_early"] for result in results),
    }


async def run_eegd(case: Case, args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    """One daemon, ``case.clients`` clients of the system's route; the window's numbers."""
    config = workdir / "eegd.toml"
    # Raised for the run: every client may connect at once (the guard's pending-connection
    # cap would otherwise cut off all but 64 of them) and be served.
    room = max(128, case.clients + 16)
    plugins = 'plugins = ["voltage_filter", "recorder"]\n' if case.system == "eegd-legacy" else ""
    config.write_text(
        f"{plugins}[server]\nmax_clients = {room}\nmax_pending_connections = {room}\n"
    )
    async with children(workdir) as group, aiohttp.ClientSession() as session:
        daemon, url = await start_daemon(group, config, case.shape)
        ws_url = "ws" + url.removeprefix("http") + ROUTES[case.system]
        receivers, connected = await start_receivers(group, ws_url, case, args)
        before = await daemon_status(session, url)
        results, cpu = await measure_receivers(daemon, receivers, args)
        status = await daemon_status(session, url)
    report = receivers_report(case, results, connected, args)
    server_dropped, bus_dropped = (
        after - earlier
        for after, earlier in zip(status_drops(status), status_drops(before), strict=True)
    )
    clients_before, clients_after = before["clients"], status["clients"]
    return {
        **report,
        "server_dropped": server_dropped,
        "bus_dropped": bus_dropped,
        "drops": report["gaps"] + server_dropped + bus_dropped,
        "samples_lost": status["ledger"]["samples_lost"],
        **{
            # 0 from a daemon older than the direct writes, so older builds can be compared
            key: clients_after.get(key, 0) - clients_before.get(key, 0)
            for key in ("written_direct", "written_queued")
        },
        "cpu_percent": cpu,
    }


async def run_bare(case: Case, args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    """The bare writer (``_bare_writer.py``) and the same receivers: the machine's limit."""
    shape = case.shape
    async with children(workdir) as group:
        writer = await group.start(
            "bare-writer",
            str(BENCH_DIR / "_bare_writer.py"),
            *("--channels", str(shape.channels), "--rate", str(shape.sample_rate)),
            *("--batch", str(shape.batch_size)),
        )
        url = (await writer.read_line(READY_TIMEOUT_S)).strip()
        ws_url = "ws" + url.removeprefix("http") + ROUTES["bare"]
        receivers, connected = await start_receivers(group, ws_url, case, args)
        results, cpu = await measure_receivers(writer, receivers, args)
    report = receivers_report(case, results, connected, args)
    return {**report, "drops": report["gaps"], "cpu_percent": cpu}


# --------------------------------------------------------------------------- LSL


async def run_lsl(case: Case, args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    """One pylsl outlet process, ``case.clients`` inlet processes; the window's numbers."""
    shape = case.shape
    lsl_config = workdir / "lsl_api.cfg"
    lsl_config.write_text(LSL_LOOPBACK_CONFIG)
    env = {**os.environ, "LSLAPICFG": str(lsl_config)}
    name = f"eegd-fanout-{os.getpid()}-{shape.label}-{case.clients}"
    peer = str(BENCH_DIR / "_lsl_peer.py")
    stream = ("--name", name, "--channels", str(shape.channels), "--batch", str(shape.batch_size))
    deadline = args.warmup + args.duration + READY_TIMEOUT_S + REPORT_GRACE_S
    async with children(workdir, env) as group:
        outlet = await group.start(
            "lsl-outlet",
            *(peer, "outlet", *stream, "--rate", str(shape.sample_rate)),
            *("--seconds", str(deadline)),
        )
        await outlet.read_json("ready", READY_TIMEOUT_S)
        inlets = [
            await group.start(
                f"lsl-inlet{index}", peer, "inlet", *stream, "--deadline-s", str(deadline)
            )
            for index in range(case.clients)
        ]
        for inlet in inlets:
            await inlet.read_json("ready", READY_TIMEOUT_S)
        pids = {
            "outlet": [outlet.pid],
            "inlets": [inlet.pid for inlet in inlets],
            "harness": [os.getpid()],
        }
        _, _, cpu = await measure_window(inlets, pids, args.warmup, args.duration)
        results = [await inlet.read_json("result", REPORT_GRACE_S) for inlet in inlets]
    summary = receiver_summary(results, args.duration)
    return {
        "system": "lsl",
        "key": case.key,
        **shape_fields(shape),
        "clients": case.clients,
        "client_processes": len(inlets),
        **summary,
        "drops": summary["gaps"],
        "cpu_percent": {
            "outlet": round(cpu["outlet"][0], 1),
            "inlets_total": round(sum(cpu["inlets"]), 1),
            "inlet_mean": round(float(np.mean(cpu["inlets"])), 1),
            "harness": round(cpu["harness"][0], 1),
            "others": round(cpu["others"][0], 1),
        },
    }


async def run_eegd_lsl(case: Case, args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    """A daemon with its ``lsl_outlet``, one pylsl inlet process on it; the window's numbers.

    Latency runs from the acquisition's stamp of a packet (the LSL time eegd gives its last
    sample) to the inlet's receipt: filter, bus, the outlet's thread and LSL itself. Lost
    packets are the bus's ``filtered_eeg`` drops over the window (the outlet's subscription
    among them); the inlet's ``stamp_jumps`` are shown beside them.
    """
    shape = case.shape
    lsl_config = workdir / "lsl_api.cfg"
    lsl_config.write_text(LSL_LOOPBACK_CONFIG)
    env = {**os.environ, "LSLAPICFG": str(lsl_config)}
    name = f"eegd-fanout-{os.getpid()}-outlet-{shape.label}"
    config = workdir / "eegd.toml"
    config.write_text(
        'plugins = ["voltage_filter", "brain_waves", "recorder", "lsl_outlet"]\n'
        f'[plugin.lsl_outlet]\nname = "{name}"\n'
    )
    deadline = args.warmup + args.duration + READY_TIMEOUT_S + REPORT_GRACE_S
    async with children(workdir, env) as group, aiohttp.ClientSession() as session:
        daemon, url = await start_daemon(group, config, shape)
        inlet = await group.start(
            "lsl-inlet",
            *(str(BENCH_DIR / "_lsl_peer.py"), "inlet", "--eegd", "--name", name),
            *("--channels", str(shape.channels), "--batch", str(shape.batch_size)),
            *("--deadline-s", str(deadline)),
        )
        await inlet.read_json("ready", READY_TIMEOUT_S)
        before = status_drops(await daemon_status(session, url))
        pids = {"daemon": [daemon.pid], "inlets": [inlet.pid], "harness": [os.getpid()]}
        _, _, cpu = await measure_window([inlet], pids, args.warmup, args.duration)
        status = await daemon_status(session, url)
        result = await inlet.read_json("result", REPORT_GRACE_S)
    summary = receiver_summary([result], args.duration)
    stamp_jumps = summary.pop("gaps")
    bus_dropped = status_drops(status)[1] - before[1]
    return {
        "system": "eegd-lsl",
        "key": case.key,
        **shape_fields(shape),
        "clients": case.clients,
        "client_processes": 1,
        **summary,
        "stamp_jumps": stamp_jumps,
        "bus_dropped": bus_dropped,
        "drops": bus_dropped,
        "samples_lost": status["ledger"]["samples_lost"],
        "outlet": status["plugins"].get("lsl_outlet", {}),
        "cpu_percent": {
            "daemon": round(cpu["daemon"][0], 1),
            "inlets_total": round(cpu["inlets"][0], 1),
            "harness": round(cpu["harness"][0], 1),
            "others": round(cpu["others"][0], 1),
        },
    }


#: What runs each system's cases.
RUNNERS = {
    "eegd": run_eegd,
    "eegd-legacy": run_eegd,
    "bare": run_bare,
    "lsl": run_lsl,
    "eegd-lsl": run_eegd_lsl,
}


# --------------------------------------------------------------------------- report


def shape_fields(shape: Shape) -> dict[str, Any]:
    """The shape as report fields."""
    return {
        "channels": shape.channels,
        "sample_rate": shape.sample_rate,
        "batch_size": shape.batch_size,
        "frames_per_s_expected": shape.frames_per_s,
    }


def selected_cases(args: argparse.Namespace) -> Sequence[Case]:
    """``CASES``, or with ``--clients`` the grid of every system × shape × N given."""
    if not args.clients:
        return CASES
    counts = [int(count) for count in args.clients.split(",")]
    shapes = [SHAPES[label] for label in args.shapes.split(",")]
    return [
        Case(system, shape, count) for system in RUNNERS for shape in shapes for count in counts
    ]


async def run(args: argparse.Namespace) -> dict[str, Any]:
    """Every selected case in order, each in a fresh temporary directory."""
    systems = set(args.systems.split(","))
    results = []
    skipped = {}
    if machine()["pylsl"].startswith("unavailable"):
        for system in {"lsl", "eegd-lsl"} & systems:
            skipped[system] = "pylsl is not importable; install it with: pip install 'eegd[lsl]'"
            systems.discard(system)
    keys = {key.strip() for key in args.cases.split(",") if key.strip()}
    for case in selected_cases(args):
        if case.system not in systems or (keys and case.key not in keys):
            continue
        print(f"fanout: {case.system} {case.key} ...", file=sys.stderr, flush=True)
        runner = RUNNERS[case.system]
        with tempfile.TemporaryDirectory(prefix="eegd-fanout-") as workdir:
            result = await runner(case, args, Path(workdir))
        latency = result["latency_ms"]
        print(
            f"fanout:   {result['frames_per_s']:.2f} frames/s, drops {result['drops']}, "
            f"p50 {latency['p50']} ms, p99 {latency['p99']} ms, cpu {result['cpu_percent']}",
            file=sys.stderr,
            flush=True,
        )
        results.append(result)
    return {
        "benchmark": "fanout",
        "machine": machine(),
        "settings": {
            "duration_s": args.duration,
            "warmup_s": args.warmup,
            "clients_per_process": args.clients_per_process,
            "cases": sorted(keys),
            "clients": args.clients,
            "shapes": args.shapes,
        },
        "skipped": skipped,
        "cases": results,
        "ratios_eegd_over_bare": ratios_to_bare(results),
        "ratios_legacy_over_eegd": ratios_between(results, "eegd-legacy", "eegd"),
        "cpu_us_per_client_frame": per_client_frame_us(results),
        "p99_ratio_eegd_over_lsl": ratios(results),
        "p99_ratio_eegd_outlet_over_lsl": ratios(results, "eegd-lsl"),
        "p50_ratio_eegd_outlet_over_lsl": ratios(results, "eegd-lsl", "p50"),
    }


def main() -> None:
    """Parse the flags, run the cases, print the JSON report (and a table on stderr)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=15.0, help="seconds measured per case")
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds before measuring")
    parser.add_argument(
        "--clients-per-process", type=int, default=25, help="most WebSocket clients per process"
    )
    parser.add_argument(
        "--systems",
        default="eegd,bare,lsl,eegd-lsl,eegd-legacy",
        help="comma-separated: eegd, bare (the bare writer), lsl, eegd-lsl (eegd's LSL "
        "outlet), eegd-legacy (the old daemon's /ws/data)",
    )
    parser.add_argument(
        "--clients", default="", help="a grid instead of the default cases: N, e.g. 10,100,250"
    )
    parser.add_argument(
        "--shapes", default="8x16000,8x250", help="the grid's shapes (with --clients)"
    )
    parser.add_argument(
        "--cases", default="", help='only these keys, comma-separated, e.g. "8x16000 N=1"'
    )
    args = parser.parse_args()
    if args.duration <= 0 or args.warmup < 0 or args.clients_per_process < 1:
        parser.error(
            "--duration must be positive, --warmup not negative, --clients-per-process ≥ 1"
        )
    report = asyncio.run(run(args))
    json.dump(report, sys.stdout, indent=2)
    print()
    print(table(report["cases"]), file=sys.stderr)
    print(f"eegd / bare writer: {report['ratios_eegd_over_bare']}", file=sys.stderr)
    print(f"/ws/data / eegd's route: {report['ratios_legacy_over_eegd']}", file=sys.stderr)
    print(
        f"server CPU µs per client per frame: {report['cpu_us_per_client_frame']}", file=sys.stderr
    )
    print(f"p99 eegd / LSL: {report['p99_ratio_eegd_over_lsl']}", file=sys.stderr)
    print(
        f"eegd's LSL outlet / LSL: p99 {report['p99_ratio_eegd_outlet_over_lsl']}, "
        f"p50 {report['p50_ratio_eegd_outlet_over_lsl']}",
        file=sys.stderr,
    )


if __name__ == "__main__":
    main()
