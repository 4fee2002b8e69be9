"""Fan-out of ``filtered_eeg`` to N WebSocket clients, against Lab Streaming Layer on loopback.

For each case a fresh daemon (synthetic source, paced) runs as its own process and N clients
on ``/ws/data`` run in separate processes (``_ws_clients.py``, at most
``--clients-per-process`` each). After a warm-up, one window of ``--duration`` seconds is
measured: frames/s per client, lost frames (gaps in frame ids, the server's drop counters),
latency from the acquisition loop's publish (``monotonic_ns`` in the frame header) to receipt,
and the CPU of every process from /proc. The reference is the same stream shape through
pylsl (``_lsl_peer.py``: one outlet process, N inlet processes, latency from push). The
``eegd-lsl`` cases measure eegd's own LSL outlet (the ``lsl_outlet`` plugin) against that
reference: latency from the acquisition's stamp of a packet to an external pylsl inlet. One
JSON document on stdout (with the p99 ratios to LSL), progress and a summary table on stderr.

    python bench/fanout.py [--duration 15] [--warmup 2] [--systems eegd,lsl,eegd-lsl]
                           [--cases "8x16000 N=1"]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ctypes
import json
import math
import os
import platform
import signal
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import numpy as np

__all__ = ["Case", "Shape", "main"]

BENCH_DIR = Path(__file__).resolve().parent
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
#: Linux prctl option: the signal a process gets when its parent dies.
PR_SET_PDEATHSIG = 1
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
CASES = (
    Case("eegd", FAST, 1),
    Case("eegd", FAST, 10),
    Case("eegd", FAST, 100),
    Case("eegd", KIOSK, 1),
    Case("eegd", KIOSK, 100),
    Case("lsl", FAST, 1),
    Case("lsl", FAST, 10),
    Case("lsl", KIOSK, 1),
    Case("eegd-lsl", FAST, 1),
    Case("eegd-lsl", KIOSK, 1),
)


# --------------------------------------------------------------------------- processes


def die_with_parent() -> None:
    """In a child before exec: get SIGTERM if the bench dies, so no daemon outlives it."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` (all its threads) from /proc."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


class Child:
    """A child process that talks JSON lines on stdin/stdout; stderr goes to a log file."""

    def __init__(self, name: str, process: asyncio.subprocess.Process, log: Path) -> None:
        self.name = name
        self.process = process
        self.log = log

    @property
    def pid(self) -> int:
        """The child's process id."""
        return self.process.pid

    async def read_line(self, timeout: float) -> str:
        """The next stdout line, or an error naming the child and its stderr."""
        stdout = self.process.stdout
        if stdout is None:
            raise RuntimeError(f"{self.name}: no stdout pipe")
        try:
            line = await asyncio.wait_for(stdout.readline(), timeout=timeout)
        except TimeoutError:
            raise RuntimeError(f"{self.name}: no answer within {timeout:.0f} s") from None
        if not line:
            tail = self.log.read_text(errors="replace")[-2000:]
            raise RuntimeError(f"{self.name} exited early; its stderr ends with:\n{tail}")
        return line.decode()

    async def read_json(self, key: str, timeout: float) -> Any:
        """The ``key`` field of the next JSON line."""
        line = await self.read_line(timeout)
        value = json.loads(line)
        if not isinstance(value, dict) or key not in value:
            raise RuntimeError(f"{self.name}: expected a {key!r} line, got {line[:200]!r}")
        return value[key]

    def send_json(self, value: dict[str, Any]) -> None:
        """Write one JSON line to the child's stdin."""
        stdin = self.process.stdin
        if stdin is None:
            raise RuntimeError(f"{self.name}: no stdin pipe")
        stdin.write((json.dumps(value) + "\n").encode())

    async def stop(self) -> None:
        """Terminate the child (kill it after 5 s) and reap it."""
        if self.process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.process.terminate()
            try:
                await asyncio.wait_for(self.process.wait(), timeout=5.0)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    self.process.kill()
                await self.process.wait()


class Children:
    """Every child of one case, all stopped when the case ends, however it ends."""

    def __init__(self, workdir: Path, env: dict[str, str] | None = None) -> None:
        self.workdir = workdir
        self.env = env
        self.started: list[Child] = []

    async def start(self, name: str, *args: str) -> Child:
        """Start ``python *args`` in the work directory."""
        log = self.workdir / f"{name}.stderr"
        with log.open("wb") as stderr:
            process = await asyncio.create_subprocess_exec(
                sys.executable,
                *args,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=stderr,
                cwd=self.workdir,
                env=self.env,
                limit=64 * 1024 * 1024,
                preexec_fn=die_with_parent,
            )
        child = Child(name, process, log)
        self.started.append(child)
        return child

    async def stop_all(self) -> None:
        """Stop every child started so far."""
        await asyncio.gather(*(child.stop() for child in self.started))


@contextlib.asynccontextmanager
async def children(workdir: Path, env: dict[str, str] | None = None) -> AsyncIterator[Children]:
    """A ``Children`` whose processes are all stopped on exit, error or not."""
    group = Children(workdir, env)
    try:
        yield group
    finally:
        await group.stop_all()


# --------------------------------------------------------------------------- measurement


def machine_busy_seconds() -> float:
    """CPU seconds all cores spent busy (neither idle nor waiting for I/O) since boot."""
    fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    ticks = [int(value) for value in fields[:8]]
    return (sum(ticks) - ticks[3] - ticks[4]) / CLOCK_TICKS


@dataclass
class Meter:
    """CPU seconds of some processes, and of the whole machine, at the start of the window."""

    pids: dict[str, list[int]]
    start: dict[int, float]
    machine_start: float
    started_at: float

    @classmethod
    def begin(cls, pids: dict[str, list[int]]) -> Meter:
        """Read every process's CPU now."""
        start = {pid: cpu_seconds(pid) for group in pids.values() for pid in group}
        return cls(pids, start, machine_busy_seconds(), time.monotonic())

    def end(self) -> dict[str, list[float]]:
        """CPU % of one core per process and group since ``begin``; ``others``: the rest.

        ``others`` is whatever else kept the machine busy (other programs, the kernel): a
        large value means the numbers of this window were measured on a noisy machine.
        """
        wall = time.monotonic() - self.started_at
        machine = 100 * (machine_busy_seconds() - self.machine_start) / wall
        cpu = {
            name: [100 * (cpu_seconds(pid) - self.start[pid]) / wall for pid in group]
            for name, group in self.pids.items()
        }
        ours = sum(value for values in cpu.values() for value in values)
        return {**cpu, "others": [max(0.0, machine - ours)]}


async def sleep_until(monotonic_ns: int) -> None:
    """Sleep until CLOCK_MONOTONIC reaches ``monotonic_ns``."""
    await asyncio.sleep(max(0.0, (monotonic_ns - time.monotonic_ns()) / 1e9))


async def measure_window(
    receivers: Sequence[Child], pids: dict[str, list[int]], warmup: float, duration: float
) -> tuple[int, int, dict[str, list[float]]]:
    """Announce the window to the receivers and read CPU over it: (start_ns, end_ns, cpu)."""
    start_ns = time.monotonic_ns() + int(warmup * 1e9)
    end_ns = start_ns + int(duration * 1e9)
    for receiver in receivers:
        receiver.send_json({"start_ns": start_ns, "end_ns": end_ns})
    await sleep_until(start_ns)
    meter = Meter.begin(pids)
    await sleep_until(end_ns)
    return start_ns, end_ns, meter.end()


def latency_summary(latency_ns: Sequence[int]) -> dict[str, float | int | None]:
    """p50, p99 and max in ms over every received frame."""
    if not latency_ns:
        return {"count": 0, "p50": None, "p99": None, "max": None}
    ms = np.asarray(latency_ns, dtype=np.float64) / 1e6
    return {
        "count": int(ms.size),
        "p50": round(float(np.percentile(ms, 50)), 3),
        "p99": round(float(np.percentile(ms, 99)), 3),
        "max": round(float(ms.max()), 3),
    }


def receiver_summary(results: Sequence[dict[str, Any]], duration: float) -> dict[str, Any]:
    """Frames/s per receiver and lost frames, merged over every receiver process."""
    frames = [count for result in results for count in result["frames"]]
    gaps = [count for result in results for count in result["gaps"]]
    rates = [count / duration for count in frames]
    return {
        "frames_per_s": round(float(np.mean(rates)), 3) if rates else 0.0,
        "frames_per_s_min": round(min(rates), 3) if rates else 0.0,
        "gaps": sum(gaps),
        "receivers_with_gaps": sum(1 for count in gaps if count),
        "reordered": sum(result["reordered"] for result in results),
        "latency_ms": latency_summary(
            [value for result in results for value in result["latency_ns"]]
        ),
    }


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


async def run_eegd(case: Case, args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    """One daemon, ``case.clients`` clients; the measured window's numbers."""
    shape = case.shape
    config = workdir / "eegd.toml"
    config.write_text(f"[server]\nmax_clients = {max(128, case.clients + 16)}\n")
    async with children(workdir) as group, aiohttp.ClientSession() as session:
        daemon, url = await start_daemon(group, config, shape)
        ws_url = "ws" + url.removeprefix("http") + "ws/data"
        deadline = args.warmup + args.duration + READY_TIMEOUT_S + REPORT_GRACE_S
        clients = [
            await group.start(
                f"clients{index}",
                str(BENCH_DIR / "_ws_clients.py"),
                *("--url", ws_url, "--clients", str(count), "--deadline-s", str(deadline)),
            )
            for index, count in enumerate(split(case.clients, args.clients_per_process))
        ]
        connected = 0
        for child in clients:
            ready = await child.read_json("ready", READY_TIMEOUT_S)
            connected += int(ready["connected"])
        before = status_drops(await daemon_status(session, url))
        pids = {
            "daemon": [daemon.pid],
            "clients": [child.pid for child in clients],
            "harness": [os.getpid()],
        }
        _, _, cpu = await measure_window(clients, pids, args.warmup, args.duration)
        status = await daemon_status(session, url)
        after = status_drops(status)
        results = [await child.read_json("result", REPORT_GRACE_S) for child in clients]
    summary = receiver_summary(results, args.duration)
    server_dropped, bus_dropped = after[0] - before[0], after[1] - before[1]
    closed = sum(result["closed_early"] for result in results)
    return {
        "system": "eegd",
        "key": case.key,
        **shape_fields(shape),
        "clients": case.clients,
        "connected": connected,
        "client_processes": len(clients),
        **summary,
        "server_dropped": server_dropped,
        "bus_dropped": bus_dropped,
        "drop_notices": sum(result["drop_notices"] for result in results),
        "closed_early": closed,
        "drops": summary["gaps"] + server_dropped + bus_dropped,
        "samples_lost": status["ledger"]["samples_lost"],
        "cpu_percent": {
            "daemon": round(cpu["daemon"][0], 1),
            "clients_total": round(sum(cpu["clients"]), 1),
            "clients_per_process": [round(value, 1) for value in cpu["clients"]],
            "harness": round(cpu["harness"][0], 1),
            "others": round(cpu["others"][0], 1),
        },
    }


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
    sample) to the inlet's receipt: filter, bus, the outlet's thread and LSL itself.
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
        pids = {"daemon": [daemon.pid], "inlets": [inlet.pid], "harness": [os.getpid()]}
        _, _, cpu = await measure_window([inlet], pids, args.warmup, args.duration)
        status = await daemon_status(session, url)
        result = await inlet.read_json("result", REPORT_GRACE_S)
    summary = receiver_summary([result], args.duration)
    return {
        "system": "eegd-lsl",
        "key": case.key,
        **shape_fields(shape),
        "clients": case.clients,
        "client_processes": 1,
        **summary,
        "drops": summary["gaps"],
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
RUNNERS = {"eegd": run_eegd, "lsl": run_lsl, "eegd-lsl": run_eegd_lsl}


# --------------------------------------------------------------------------- report


def shape_fields(shape: Shape) -> dict[str, Any]:
    """The shape as report fields."""
    return {
        "channels": shape.channels,
        "sample_rate": shape.sample_rate,
        "batch_size": shape.batch_size,
        "frames_per_s_expected": shape.frames_per_s,
    }


def machine() -> dict[str, Any]:
    """What the numbers were measured on."""
    model = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    info: dict[str, Any] = {
        "nproc": os.cpu_count(),
        "cpu": model,
        "kernel": platform.release(),
        "python": platform.python_version(),
        "aiohttp": aiohttp.__version__,
    }
    try:
        import pylsl

        info["pylsl"] = pylsl.__version__
        info["liblsl"] = pylsl.library_version()
    except (ImportError, RuntimeError) as exc:
        info["pylsl"] = f"unavailable: {exc}"
    return info


def ratios(results: Sequence[dict[str, Any]], system: str = "eegd") -> dict[str, float | None]:
    """``system``'s p99 over LSL's p99 for every key measured by both."""
    lsl = {result["key"]: result for result in results if result["system"] == "lsl"}
    out: dict[str, float | None] = {}
    for result in results:
        reference = lsl.get(result["key"])
        if result["system"] != system or reference is None:
            continue
        ours, theirs = result["latency_ms"]["p99"], reference["latency_ms"]["p99"]
        out[result["key"]] = round(ours / theirs, 2) if ours and theirs else None
    return out


def table(results: Sequence[dict[str, Any]]) -> str:
    """A Markdown table of the headline numbers."""
    rows = [
        "| system | shape | N | frames/s per client | drops | p50 ms | p99 ms | max ms "
        "| server CPU % | receivers CPU % | other load % |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for result in results:
        cpu = result["cpu_percent"]
        server = cpu.get("daemon", cpu.get("outlet"))
        receivers = cpu.get("clients_total", cpu.get("inlets_total"))
        latency = result["latency_ms"]
        rows.append(
            f"| {result['system']} | {result['channels']}×{result['sample_rate']} "
            f"(batch {result['batch_size']}) | {result['clients']} "
            f"| {result['frames_per_s']:.2f} | {result['drops']} | {latency['p50']} "
            f"| {latency['p99']} | {latency['max']} | {server} | {receivers} | {cpu['others']} |"
        )
    return "\n".join(rows)


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
    for case in CASES:
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
        },
        "skipped": skipped,
        "cases": results,
        "p99_ratio_eegd_over_lsl": ratios(results),
        "p99_ratio_eegd_outlet_over_lsl": ratios(results, "eegd-lsl"),
    }


def main() -> None:
    """Parse the flags, run the cases, print the JSON report (and a table on stderr)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=15.0, help="seconds measured per case")
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds before measuring")
    parser.add_argument(
        "--clients-per-process", type=int, default=100, help="most WebSocket clients per process"
    )
    parser.add_argument(
        "--systems",
        default="eegd,lsl,eegd-lsl",
        help="comma-separated: eegd, lsl, eegd-lsl (eegd's own LSL outlet)",
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
    print(f"p99 eegd / LSL: {report['p99_ratio_eegd_over_lsl']}", file=sys.stderr)
    print(
        f"p99 eegd's LSL outlet / LSL: {report['p99_ratio_eegd_outlet_over_lsl']}",
        file=sys.stderr,
    )


if __name__ == "__main__":
    main()
