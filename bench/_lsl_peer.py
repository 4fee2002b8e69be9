"""One Lab Streaming Layer peer for fanout.py's reference: the outlet or one inlet.

The outlet pushes float32 chunks paced by the monotonic clock, each stamped with
``pylsl.local_clock()`` at push; that stamp is the timestamp of the chunk's last sample
(pylsl's ``push_chunk`` contract). Channel 0 of every sample carries the chunk number and
channel 1 the sample's index in its chunk, so an inlet finds each chunk's last sample, its
latency (receipt ``local_clock()`` minus that stamp) and lost chunks without trusting
timing. ``local_clock()`` is CLOCK_MONOTONIC on Linux, the clock the window is given in.

Line protocol with the parent (one JSON object a line): both roles print ``{"ready": ...}``
once set up; an inlet then reads ``{"start_ns", "end_ns"}``, measures and prints its result;
the outlet pushes until ``--seconds`` have passed. Set ``LSLAPICFG`` to keep LSL's discovery
on loopback (fanout.py does).

``inlet --eegd`` reads eegd's own outlet (the ``lsl_outlet`` plugin) instead: its samples are
EEG, not chunk numbers, so a chunk's end is where the samples received reach a multiple of
``--batch`` (eegd pushes one packet per chunk), its last sample carries the acquisition's
stamp of the packet. Its ``gaps`` count jumps of more than half a packet between
consecutive stamps: a lost packet makes one, but so does the acquisition thread reading a
packet late on a busy machine (each packet's stamps end at its read time), so fanout.py
reports them as ``stamp_jumps`` and takes eegd's lost packets from the daemon's counters.

    python bench/_lsl_peer.py outlet --name S --channels 8 --rate 16000 --batch 512 --seconds 60
    python bench/_lsl_peer.py inlet --name S --channels 8 --batch 512
    python bench/_lsl_peer.py inlet --eegd --name eegd-bench --channels 8 --batch 512
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any

import numpy as np
import pylsl

__all__ = ["main", "run_eegd_inlet", "run_inlet", "run_outlet"]

#: How long an inlet waits for the outlet to be found and to open its stream.
RESOLVE_TIMEOUT_S = 15.0
#: How long one pull may block before the inlet checks its deadline again.
PULL_TIMEOUT_S = 0.2


def emit(value: dict[str, Any]) -> None:
    """Send one JSON line to the parent."""
    sys.stdout.write(json.dumps(value) + "\n")
    sys.stdout.flush()


def chunk_template(channels: int, batch: int, seed: int = 0) -> np.ndarray[Any, Any]:
    """A ``batch × channels`` float32 chunk of noise with the sample index in channel 1."""
    if channels < 2:
        raise ValueError("the LSL reference needs at least 2 channels (chunk id, sample index)")
    chunk = np.random.default_rng(seed).normal(0.0, 20.0, (batch, channels)).astype(np.float32)
    chunk[:, 1] = np.arange(batch, dtype=np.float32)
    return chunk


def run_outlet(name: str, channels: int, rate: float, batch: int, seconds: float) -> None:
    """Push ``batch``-sample chunks at ``rate / batch`` per second for ``seconds``."""
    info = pylsl.StreamInfo(name, "EEG", channels, rate, pylsl.cf_float32, name)
    outlet = pylsl.StreamOutlet(info)
    chunk = chunk_template(channels, batch)
    period_ns = round(batch / rate * 1e9)
    emit({"ready": {}})
    start_ns = time.monotonic_ns()
    total = int(seconds * 1e9) // period_ns
    for number in range(total):
        due_ns = start_ns + (number + 1) * period_ns
        delay_ns = due_ns - time.monotonic_ns()
        if delay_ns > 0:
            time.sleep(delay_ns / 1e9)
        chunk[:, 0] = number
        outlet.push_chunk(chunk, timestamp=pylsl.local_clock())
    emit({"result": {"chunks_pushed": total}})


def read_window(window: dict[str, int]) -> None:
    """Fill ``window`` from the parent's line on stdin (EOF leaves it empty)."""
    line = sys.stdin.readline()
    if line:
        span = json.loads(line)
        window["end_ns"] = int(span["end_ns"])
        window["start_ns"] = int(span["start_ns"])


def open_inlet(predicate: str) -> tuple[pylsl.StreamInlet, dict[str, int]]:
    """The inlet of the stream matching ``predicate``, and the window the parent will send;
    prints the ready line."""
    found = pylsl.resolve_bypred(predicate, 1, RESOLVE_TIMEOUT_S)
    if not found:
        raise SystemExit(f"no LSL stream with {predicate} within {RESOLVE_TIMEOUT_S} s")
    inlet = pylsl.StreamInlet(found[0], max_buflen=10)
    inlet.open_stream(timeout=RESOLVE_TIMEOUT_S)
    window: dict[str, int] = {}
    threading.Thread(target=read_window, args=(window,), daemon=True).start()
    emit({"ready": {}})
    return inlet, window


def pulls(
    inlet: pylsl.StreamInlet, window: dict[str, int], channels: int, batch: int, deadline: float
) -> Iterator[tuple[np.ndarray[Any, Any], np.ndarray[Any, Any], float, bool]]:
    """Each non-empty pull until the window is over: samples, stamps, receipt time (LSL),
    and whether it was received inside the window."""
    buffer = np.empty((4 * batch, channels), dtype=np.float32)
    while time.monotonic() < deadline:
        samples, stamps = inlet.pull_chunk(
            timeout=PULL_TIMEOUT_S,
            max_samples=buffer.shape[0],
            dest_obj=buffer,
            min_samples=1,
            as_numpy=True,
        )
        now = pylsl.local_clock()
        now_ns = int(now * 1e9)
        if "start_ns" in window and now_ns > window["end_ns"]:
            break
        if len(stamps):
            yield samples, stamps, now, "start_ns" in window and now_ns >= window["start_ns"]
    inlet.close_stream()


def inlet_result(frames: int, gaps: int, reordered: int, latencies: list[float]) -> dict[str, Any]:
    """An inlet's report, in the shape of the WebSocket clients' (one receiver)."""
    return {
        "frames": [frames],
        "gaps": [gaps],
        "reordered": reordered,
        "latency_ns": [round(value * 1e9) for value in latencies],
    }


def run_inlet(name: str, channels: int, batch: int, deadline_s: float) -> dict[str, Any]:
    """Pull chunks until the parent's window is over; latency of each chunk's last sample."""
    deadline = time.monotonic() + deadline_s
    inlet, window = open_inlet(f"name='{name}'")
    last_index = float(batch - 1)
    frames = gaps = reordered = 0
    last_id = -1
    latencies: list[float] = []
    for samples, stamps, now, measured in pulls(inlet, window, channels, batch, deadline):
        if not measured:
            continue
        for row in np.flatnonzero(samples[:, 1] == last_index):
            chunk_id = int(samples[row, 0])
            if last_id >= 0 and chunk_id > last_id + 1:
                gaps += chunk_id - last_id - 1
            elif chunk_id <= last_id:
                reordered += 1
            last_id = max(last_id, chunk_id)
            frames += 1
            latencies.append(now - float(stamps[row]))
    return inlet_result(frames, gaps, reordered, latencies)


def run_eegd_inlet(name: str, batch: int, deadline_s: float) -> dict[str, Any]:
    """Pull eegd's EEG outlet until the parent's window is over; latency of packet ends."""
    deadline = time.monotonic() + deadline_s
    inlet, window = open_inlet(f"name='{name}' and type='EEG'")
    packet_s = batch / inlet.info(timeout=RESOLVE_TIMEOUT_S).nominal_srate()
    received = frames = gaps = 0
    previous: float | None = None
    latencies: list[float] = []
    for _, stamps, now, measured in pulls(inlet, window, inlet.channel_count, batch, deadline):
        steps = np.diff(stamps, prepend=stamps[0] if previous is None else previous)
        previous = float(stamps[-1])
        ended = (received + len(stamps)) // batch - received // batch
        received += len(stamps)
        if not measured:
            continue
        gaps += int(np.rint(steps[steps > packet_s / 2] / packet_s).sum())
        frames += ended
        if received % batch == 0:
            latencies.append(now - previous)
    return inlet_result(frames, gaps, 0, latencies)


def main() -> None:
    """Parse the role and its flags, run it, print the result as one JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    roles = parser.add_subparsers(dest="role", required=True)
    outlet = roles.add_parser("outlet", help="push the stream")
    inlet = roles.add_parser("inlet", help="receive the stream and measure")
    for role in (outlet, inlet):
        role.add_argument("--name", required=True, help="LSL stream name (unique per run)")
        role.add_argument("--channels", type=int, required=True)
        role.add_argument("--batch", type=int, required=True, help="samples per chunk")
    outlet.add_argument("--rate", type=float, required=True, help="samples/s per channel")
    outlet.add_argument("--seconds", type=float, required=True, help="how long to push")
    inlet.add_argument("--deadline-s", type=float, default=300.0, help="hard cap on run time")
    inlet.add_argument("--eegd", action="store_true", help="read eegd's own EEG outlet")
    args = parser.parse_args()
    if args.role == "outlet":
        run_outlet(args.name, args.channels, args.rate, args.batch, args.seconds)
    elif args.eegd:
        emit({"result": run_eegd_inlet(args.name, args.batch, args.deadline_s)})
    else:
        emit({"result": run_inlet(args.name, args.channels, args.batch, args.deadline_s)})


if __name__ == "__main__":
    main()
