"""Where the time goes from the acquisition thread's stamp to the socket write, at N = 1.

The real daemon runs in this process (synthetic source, paced), one WebSocket client reads
``/ws/filtered_eeg`` from another process (``_ws_clients.py``), and the handful of methods each
packet passes through are wrapped to note the CLOCK_MONOTONIC time they see each frame: the
thread-to-loop hand-off (``AcquisitionLoop._publish``), the voltage filter's ``process``
(start and end), the connection manager's dispatch (``_deliver``) and the hand-over to the
client's transport. Each stage's p50 and p99 in µs, over ``--seconds`` of frames after a
second of warm-up, for 8 × 16 kHz and 8 × 250 Hz. JSON on stdout.

    python bench/hops.py [--seconds 20]
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

# bench/_processes.py, beside this file (the script's directory is first on sys.path)
from _processes import children

from eegd.acquisition.loop import AcquisitionLoop
from eegd.config import load_config
from eegd.daemon import Daemon
from eegd.net.stream.clients import ClientConnection
from eegd.net.stream.connections import ConnectionManager
from eegd.plugins.voltage_filter import VoltageFilter

__all__ = ["main"]

BENCH_DIR = Path(__file__).resolve().parent
#: The stages in order, each timed from the previous one.
STAGES = ("handoff", "filter_wait", "filter", "dispatch_wait", "write")
SHAPES = ((8, 16000, 512), (8, 250, 32))

#: frame id → stage name → CLOCK_MONOTONIC ns, filled by the wrappers.
SEEN: dict[int, dict[str, int]] = defaultdict(dict)


def noting(
    stage: str, frame_id: Callable[..., int | None], *, after: bool = False
) -> Callable[[Any], Any]:
    """Wrap a method so it notes ``stage`` for the frame ``frame_id(*args)`` names."""

    def wrap(method: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(method)
        def wrapper(*args: Any) -> Any:
            frame = frame_id(*args)
            if frame is not None and not after:
                SEEN[frame].setdefault(stage, time.monotonic_ns())
            result = method(*args)
            if frame is not None and after:
                SEEN[frame].setdefault(stage, time.monotonic_ns())
            return result

        return wrapper

    return wrap


def next_frame_id(acquisition: AcquisitionLoop) -> int | None:
    """The frame id the next packet published gets (its session's count of frames)."""
    account = acquisition._placement.account
    return None if account is None else account.frames


def instrument() -> None:
    """Wrap the methods every packet passes through."""
    publish = noting("loop", lambda self, *_: next_frame_id(self))(AcquisitionLoop._publish)

    def stamped(self: AcquisitionLoop, *args: Any) -> None:
        frame_id = next_frame_id(self)
        if frame_id is not None:
            SEEN[frame_id]["stamp"] = args[-1]  # read_ns, the acquisition stamp
        publish(self, *args)

    AcquisitionLoop._publish = stamped  # type: ignore[method-assign]
    filtered_id = lambda self, event: getattr(event, "frame_id", None)  # noqa: E731
    VoltageFilter.process = noting("filter_end", filtered_id, after=True)(  # type: ignore[method-assign]
        noting("filter_start", filtered_id)(VoltageFilter.process)
    )
    ConnectionManager._deliver = noting(  # type: ignore[method-assign]
        "deliver",
        lambda self, event: (
            getattr(event, "frame_id", None) if event.topic.label == "filtered_eeg" else None
        ),
    )(ConnectionManager._deliver)
    ClientConnection._hand_over = noting("write", lambda self, transport, item: item.frame_id)(  # type: ignore[method-assign]
        ClientConnection._hand_over
    )


def stages(seen: dict[int, dict[str, int]], first: int) -> dict[str, Any]:
    """p50 and p99 µs of each stage over the frames from ``first`` that passed every point."""
    order = ("stamp", "loop", "filter_start", "filter_end", "deliver", "write")
    rows = [
        [points[name] for name in order]
        for frame, points in seen.items()
        if frame >= first and all(name in points for name in order)
    ]
    if not rows:
        return {}
    times = np.asarray(rows, dtype=np.int64)
    deltas = np.diff(times, axis=1) / 1e3
    out = {
        stage: {
            "p50_us": round(float(np.percentile(deltas[:, index], 50)), 1),
            "p99_us": round(float(np.percentile(deltas[:, index], 99)), 1),
        }
        for index, stage in enumerate(STAGES)
    }
    total = (times[:, -1] - times[:, 0]) / 1e3
    out["total"] = {
        "p50_us": round(float(np.percentile(total, 50)), 1),
        "p99_us": round(float(np.percentile(total, 99)), 1),
    }
    out["frames"] = {"count": len(rows)}
    return out


async def measure(channels: int, rate: int, batch: int, seconds: float) -> dict[str, Any]:
    """One shape: the daemon here, one client there, ``seconds`` of frames."""
    SEEN.clear()
    config = load_config(
        None,
        {
            "source.channels": ("", channels),
            "source.sample_rate": ("", rate),
            "source.batch_size": ("", batch),
            "server.port": ("", 0),
        },
    )
    daemon = Daemon(config)
    url = await daemon.serve()
    daemon.start()
    try:
        with tempfile.TemporaryDirectory(prefix="eegd-hops-") as directory:
            async with children(Path(directory)) as group:
                ws_url = "ws" + url.removeprefix("http").rstrip("/") + "/ws/filtered_eeg"
                client = await group.start(
                    "client",
                    str(BENCH_DIR / "_ws_clients.py"),
                    *("--url", ws_url, "--clients", "1", "--deadline-s", str(seconds + 90)),
                )
                await client.read_json("ready", 60.0)
                start_ns = time.monotonic_ns() + 1_000_000_000
                end_ns = start_ns + int(seconds * 1e9)
                client.send_json({"start_ns": start_ns, "end_ns": end_ns})
                result = await client.read_json("result", seconds + 60)
    finally:
        await daemon.stop()
    received = np.asarray(result["latency_ns"]) / 1e3
    return {
        "shape": f"{channels}x{rate}",
        "stages": stages(SEEN, min(result["frame_ids"], default=0)),
        "end_to_end_us": {
            "p50": round(float(np.percentile(received, 50)), 1),
            "p99": round(float(np.percentile(received, 99)), 1),
        },
    }


def main() -> None:
    """Parse the flags, measure both shapes, print the JSON report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="seconds of frames per shape")
    args = parser.parse_args()
    instrument()
    report = [asyncio.run(measure(*shape, args.seconds)) for shape in SHAPES]
    json.dump({"benchmark": "hops", "shapes": report}, sys.stdout, indent=2)
    print()


if __name__ == "__main__":
    main()
