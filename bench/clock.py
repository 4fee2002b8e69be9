"""Stamp jitter against the ideal clock, with CPU burners running: the clock model's stamps
and, as the reference measured in the same run, stamps taken from each block's read time.

The acquisition loop runs in this process on the synthetic source, which paces itself by
CLOCK_MONOTONIC from its opening: its sample ``i`` is due at ``open + (i + 1) / rate``, so
the ideal stamps are a line of slope ``1 / rate`` on that clock. ``--burners`` processes spin
on the CPU meanwhile (``os.cpu_count()`` of them by default: every core is busy). For every
sample after ``--warmup`` seconds the bench takes its stamp on the monotonic clock (the
model's stamp less the session's UTC offset, exactly what the LSL outlet pushes) and, for
the reference, its block's read time less the period times the samples after it (what the
outlet pushed before the clock model); each set's residual against the ideal line (its
offset being the median, as a constant latency is no jitter) gives p50, p99 and the largest,
in µs, and the backward steps. JSON on stdout, with the ratio reference / model of the p99s.

    python bench/clock.py [--seconds 60] [--burners N] [--rate 250] [--batch 32]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import multiprocessing
import os
import sys
import time
from collections.abc import Iterator
from typing import Any

import numpy as np
import numpy.typing as npt

from eegd.acquisition.loop import AcquisitionLoop
from eegd.bus import DropPolicy, EventBus
from eegd.events import EegPacket, Topic
from eegd.sources.synthetic import SyntheticSettings, SyntheticSource

__all__ = ["main"]


def _burn(stop: Any) -> None:
    """Spin on the CPU until ``stop`` is set."""
    count = 0
    while not stop.is_set():
        for _ in range(100_000):
            count += 1


@contextlib.contextmanager
def burners(count: int) -> Iterator[None]:
    """``count`` processes that spin on the CPU for the duration of the block."""
    context = multiprocessing.get_context("spawn")
    stop = context.Event()
    processes = [context.Process(target=_burn, args=(stop,), daemon=True) for _ in range(count)]
    for process in processes:
        process.start()
    try:
        yield
    finally:
        stop.set()
        for process in processes:
            process.join(timeout=5)
            if process.is_alive():
                process.terminate()


async def collect(rate: float, batch: int, seconds: float) -> tuple[list[EegPacket], int]:
    """``seconds`` of packets of the paced synthetic source, and the session's UTC offset."""
    bus = EventBus()
    source = SyntheticSource(SyntheticSettings(channels=8, sample_rate=rate))
    loop = AcquisitionLoop(bus, lambda: source, batch_size=batch, kind="synthetic")
    packets: list[EegPacket] = []
    wanted = int(seconds * rate / batch)
    with bus.subscribe([Topic.RAW_EEG], maxsize=wanted + 16, policy=DropPolicy.DROP_NEWEST) as sub:
        task = asyncio.create_task(loop.run())
        while len(packets) < wanted:
            event = await sub.get()
            if isinstance(event, EegPacket):
                packets.append(event)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    session = loop.session
    if session is None:
        raise RuntimeError("no session started")
    return packets, session.utc_offset_us


def jitter(
    times_s: npt.NDArray[np.float64], index: npt.NDArray[np.int64], rate: float
) -> dict[str, Any]:
    """Residuals of ``times_s`` (seconds) against the line of slope 1 / rate, in µs."""
    residual = (times_s - index / rate) * 1e6
    residual -= np.median(residual)
    size = np.abs(residual)
    steps = np.diff(times_s)
    return {
        "p50_us": round(float(np.percentile(size, 50)), 1),
        "p99_us": round(float(np.percentile(size, 99)), 1),
        "max_us": round(float(size.max()), 1),
        "backward_steps": int(np.count_nonzero(steps < 0)),
        "worst_step_us": round(float(steps.min()) * 1e6, 1),
    }


def measure(
    rate: float, batch: int, seconds: float, warmup: float, burner_count: int
) -> dict[str, Any]:
    """One run: the model's and the reference's jitter over the same samples."""
    started = time.monotonic()
    with burners(burner_count):
        packets, offset = asyncio.run(collect(rate, batch, seconds + warmup))
    stamps = np.concatenate([packet.timestamps for packet in packets]).astype(np.int64)
    index = np.concatenate(
        [np.arange(p.first_sample, p.first_sample + p.n_samples) for p in packets]
    )
    read = np.concatenate(
        [p.monotonic_ns / 1e9 - (p.n_samples - 1 - np.arange(p.n_samples)) / rate for p in packets]
    )
    keep = index >= warmup * rate
    model = (stamps - offset) / 1e6
    result_model = jitter(model[keep], index[keep], rate)
    result_read = jitter(read[keep], index[keep], rate)
    return {
        "rate_hz": rate,
        "batch": batch,
        "seconds": seconds,
        "warmup_s": warmup,
        "burners": burner_count,
        "cpus": os.cpu_count(),
        "samples": int(keep.sum()),
        "wall_s": round(time.monotonic() - started, 1),
        "model": result_model,
        "read_time": result_read,
        "p99_ratio_read_over_model": round(
            result_read["p99_us"] / max(result_model["p99_us"], 0.1), 1
        ),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--burners", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--rate", type=float, default=250.0)
    parser.add_argument("--batch", type=int, default=32)
    args = parser.parse_args(argv)
    result = measure(args.rate, args.batch, args.seconds, args.warmup, args.burners)
    json.dump(result, sys.stdout, indent=1)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
