"""Child processes and CPU metering for the benchmarks: started, metered, always stopped.

A ``Child`` talks JSON lines on stdin/stdout (its stderr goes to a log file); ``children``
stops every one it started however the block ends, and each gets SIGTERM if the benchmark
dies. ``Meter`` reads the CPU of given processes and of the whole machine over a window.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import json
import os
import signal
import sys
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = [
    "Child",
    "Children",
    "Meter",
    "children",
    "cpu_seconds",
    "die_with_parent",
    "machine_busy_seconds",
    "measure_window",
    "sleep_until",
]

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
#: Linux prctl option: the signal a process gets when its parent dies.
PR_SET_PDEATHSIG = 1


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
