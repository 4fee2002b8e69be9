"""What bench/fanout.py reports: latency and spread summaries, ratios, the machine, a table.

Pure functions over the receivers' results and the cases' reports, so the numbers the JSON
and the table show are computed in one place.
"""

from __future__ import annotations

import contextlib
import os
import platform
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import aiohttp
import numpy as np

__all__ = [
    "latency_summary",
    "machine",
    "per_client_frame_us",
    "ratios",
    "ratios_between",
    "ratios_to_bare",
    "receiver_summary",
    "spread_summary",
    "table",
]


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


def spread_summary(results: Sequence[dict[str, Any]]) -> dict[str, float | int | None]:
    """Per frame, its last receipt minus its first over every client: p50, p99, max in ms.

    Only frames received by more than one client count; every receiver process reads the
    same CLOCK_MONOTONIC.
    """
    ids = np.asarray([value for result in results for value in result.get("frame_ids", [])])
    received = np.asarray(
        [value for result in results for value in result.get("received_ns", [])], dtype=np.int64
    )
    if ids.size == 0:
        return latency_summary([])
    order = np.lexsort((received, ids))
    ids, received = ids[order], received[order]
    starts = np.flatnonzero(np.r_[True, ids[1:] != ids[:-1]])
    ends = np.r_[starts[1:], ids.size] - 1
    shared = ends > starts
    return latency_summary((received[ends] - received[starts])[shared].tolist())


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
        "spread_ms": spread_summary(results),
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


def ratios(
    results: Sequence[dict[str, Any]], system: str = "eegd", percentile: str = "p99"
) -> dict[str, float | None]:
    """``system``'s latency over LSL's at ``percentile`` for every key measured by both."""
    lsl = {result["key"]: result for result in results if result["system"] == "lsl"}
    out: dict[str, float | None] = {}
    for result in results:
        reference = lsl.get(result["key"])
        if result["system"] != system or reference is None:
            continue
        ours, theirs = result["latency_ms"][percentile], reference["latency_ms"][percentile]
        out[result["key"]] = round(ours / theirs, 2) if ours and theirs else None
    return out


def per_client_frame_us(results: Sequence[dict[str, Any]]) -> dict[str, dict[str, float]]:
    """Server CPU µs per client per frame, per system and key: the CPU added from N = 1 to N
    over the (N − 1) × frames/s extra writes (cases with N > 1 and an N = 1 of the shape)."""
    single = {
        (result["system"], result["sample_rate"]): result
        for result in results
        if result["clients"] == 1 and "daemon" in result["cpu_percent"]
    }
    out: dict[str, dict[str, float]] = {}
    for result in results:
        base = single.get((result["system"], result["sample_rate"]))
        if base is None or result["clients"] < 2:
            continue
        added = (result["cpu_percent"]["daemon"] - base["cpu_percent"]["daemon"]) / 100
        writes = (result["clients"] - 1) * result["frames_per_s_expected"]
        out.setdefault(result["system"], {})[result["key"]] = round(added / writes * 1e6, 2)
    return out


def ratios_between(
    results: Sequence[dict[str, Any]], system: str, reference: str
) -> dict[str, dict[str, float | None]]:
    """``system`` over ``reference``, per key both measured: p50, p99, spread p99 and the
    server's CPU per client per frame."""
    theirs = {result["key"]: result for result in results if result["system"] == reference}
    cpu = per_client_frame_us(results)
    out: dict[str, dict[str, float | None]] = {}
    for result in results:
        other = theirs.get(result["key"])
        if result["system"] != system or other is None:
            continue

        def ratio(ours: float | None, base: float | None) -> float | None:
            return round(ours / base, 2) if ours and base else None

        key = result["key"]
        out[key] = {
            "p50": ratio(result["latency_ms"]["p50"], other["latency_ms"]["p50"]),
            "p99": ratio(result["latency_ms"]["p99"], other["latency_ms"]["p99"]),
            "spread_p99": ratio(result["spread_ms"]["p99"], other["spread_ms"]["p99"]),
            "cpu_per_client_frame": ratio(
                cpu.get(system, {}).get(key), cpu.get(reference, {}).get(key)
            ),
        }
    return out


def ratios_to_bare(results: Sequence[dict[str, Any]]) -> dict[str, dict[str, float | None]]:
    """eegd over the bare writer, per key both measured: p50, p99, spread p99, CPU/client/frame."""
    return ratios_between(results, "eegd", "bare")


def table(results: Sequence[dict[str, Any]]) -> str:
    """A Markdown table of the headline numbers."""
    rows = [
        "| system | shape | N | frames/s per client | drops | p50 ms | p99 ms | max ms "
        "| spread p50 ms | spread p99 ms | server CPU % | receivers CPU % | other load % |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: "
        "| ---: |",
    ]
    for result in results:
        cpu = result["cpu_percent"]
        server = cpu.get("daemon", cpu.get("outlet"))
        receivers = cpu.get("clients_total", cpu.get("inlets_total"))
        latency, spread = result["latency_ms"], result["spread_ms"]
        rows.append(
            f"| {result['system']} | {result['channels']}×{result['sample_rate']} "
            f"(batch {result['batch_size']}) | {result['clients']} "
            f"| {result['frames_per_s']:.2f} | {result['drops']} | {latency['p50']} "
            f"| {latency['p99']} | {latency['max']} | {spread['p50']} | {spread['p99']} "
            f"| {server} | {receivers} | {cpu['others']} |"
        )
    return "\n".join(rows)
