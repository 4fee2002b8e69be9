"""A Lab Streaming Layer peer in its own process, for the LSL tests: an inlet or an outlet.

Line protocol with the parent (one JSON object a line on stdout): both roles print
``{"ready": ...}`` once their stream is open. The inlet then pulls ``--samples`` samples
and prints them with their timestamps and the stream's description. The outlet is an
amplifier with a clock of its own: sample ``k`` is stamped ``t0 + k / rate`` (``t0`` its
``local_clock()`` at start), however fast it is asked to push. It reads commands from stdin,
one a line, and answers each: ``{"push": N}`` pushes the next ``N`` known samples, chunk by
chunk (``{"pushed": total}``); ``{"vanish": N}`` destroys the outlet and lets ``N`` samples'
time go by unsent (``{"gone": N}``); ``{"return": true}`` opens the same stream again (same
name and source_id; ``{"ready": ...}``). ``LSLAPICFG`` (set by tests/conftest.py) keeps LSL
on loopback.

    python tests/support/lsl_peer.py inlet --type EEG --name eegd-test --samples 320
    python tests/support/lsl_peer.py outlet --name amp --channels 8 --rate 500
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

import pylsl

#: How long the inlet waits for the outlet to be found, and for all its samples.
TIMEOUT_S = 20.0


def emit(value: dict[str, Any]) -> None:
    """Send one JSON line to the parent."""
    sys.stdout.write(json.dumps(value) + "\n")
    sys.stdout.flush()


def known_value(sample: int, channel: int) -> float:
    """The value the outlet pushes for ``sample`` on ``channel`` (exact in float32)."""
    return float(sample % 1000) + channel / 8


def run_inlet(stream_type: str, name: str, samples: int) -> None:
    """Resolve ``name`` among streams of ``stream_type``, pull ``samples`` samples, report."""
    found = pylsl.resolve_bypred(f"name='{name}' and type='{stream_type}'", 1, TIMEOUT_S)
    if not found:
        emit({"error": f"no {stream_type} stream named {name!r}"})
        return
    inlet = pylsl.StreamInlet(found[0], max_buflen=60)
    inlet.open_stream(timeout=TIMEOUT_S)
    info = inlet.info(timeout=TIMEOUT_S)
    channels = info.desc().child("channels").child("channel")
    labels, units, types = [], [], []
    while not channels.empty():
        labels.append(channels.child_value("label"))
        units.append(channels.child_value("unit"))
        types.append(channels.child_value("type"))
        channels = channels.next_sibling("channel")
    emit({"ready": {}})
    values: list[list[float]] = []
    stamps: list[float] = []
    deadline = pylsl.local_clock() + TIMEOUT_S
    while len(values) < samples and pylsl.local_clock() < deadline:
        chunk, times = inlet.pull_chunk(timeout=0.5, max_samples=samples - len(values))
        values.extend(chunk)
        stamps.extend(times)
    emit(
        {
            "result": {
                "type": info.type(),
                "channel_count": info.channel_count(),
                "nominal_srate": info.nominal_srate(),
                "source_id": info.source_id(),
                "manufacturer": info.desc().child("acquisition").child_value("manufacturer"),
                "labels": labels,
                "units": units,
                "types": types,
                "samples": values,
                "timestamps": stamps,
            }
        }
    )


def run_outlet(name: str, channels: int, rate: float, chunk: int) -> None:
    """Open an EEG outlet; carry out the parent's commands until stdin closes."""
    info = pylsl.StreamInfo(name, "EEG", channels, rate, pylsl.cf_float32, f"{name}-id")
    node = info.desc().append_child("channels")
    for index in range(channels):
        channel = node.append_child("channel")
        channel.append_child_value("label", f"L{index + 1}")
        channel.append_child_value("unit", "microvolts")
    outlet: pylsl.StreamOutlet | None = pylsl.StreamOutlet(info, chunk)
    emit({"ready": {}})
    start = pylsl.local_clock()
    pushed = 0
    for line in sys.stdin:
        request = json.loads(line)
        if "vanish" in request:
            outlet = None  # destroyed: its inlets see the stream lost
            pushed += int(request["vanish"])
            emit({"gone": int(request["vanish"])})
            continue
        if "return" in request:
            outlet = pylsl.StreamOutlet(info, chunk)
            emit({"ready": {}})
            continue
        if outlet is None:
            emit({"error": "push while the outlet is gone"})
            return
        total = int(request["push"])
        while total > 0:
            n = min(chunk, total)
            block = [[known_value(pushed + i, c) for c in range(channels)] for i in range(n)]
            outlet.push_chunk(block, [start + (pushed + i) / rate for i in range(n)])
            pushed += n
            total -= n
        emit({"pushed": pushed})


def main() -> None:
    """Parse the role and run it."""
    parser = argparse.ArgumentParser()
    parser.add_argument("role", choices=("inlet", "outlet"))
    parser.add_argument("--name", required=True)
    parser.add_argument("--type", default="EEG")
    parser.add_argument("--samples", type=int, default=0)
    parser.add_argument("--channels", type=int, default=8)
    parser.add_argument("--rate", type=float, default=500.0)
    parser.add_argument("--chunk", type=int, default=25)
    args = parser.parse_args()
    if args.role == "inlet":
        run_inlet(args.type, args.name, args.samples)
    else:
        run_outlet(args.name, args.channels, args.rate, args.chunk)


if __name__ == "__main__":
    main()
