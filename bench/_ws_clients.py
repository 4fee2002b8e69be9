"""N WebSocket clients of one eegd daemon in one asyncio loop: the client side of fanout.py.

Run by ``bench/fanout.py`` as a separate process, so that client work does not share the
daemon's interpreter. It speaks one JSON object per line with its parent: once every client
has its ``hello`` it prints ``{"ready": ...}``; it then reads ``{"start_ns", "end_ns"}``
(CLOCK_MONOTONIC, the clock the daemon stamps ``monotonic_ns`` with), records the data frames
received in that window and prints the result. The client side is kept cheap on purpose:
raw aiohttp WebSockets and only the 56-byte header is parsed.

With ``--legacy-frame-us SPAN`` the clients read the old daemon's ``/ws/data`` instead
(docs/protocol.md, section 9.1): there is no hello (a client is ready once connected), only
topic-0 messages count, and a frame's id is its first sample's timestamp over ``SPAN`` (one
packet's µs). That format carries no acquisition stamp, so no latency is recorded; the
spread of each frame's receipts over the clients (the fan-out time) still is.

    python bench/_ws_clients.py --url ws://127.0.0.1:PORT/ws/filtered_eeg --clients 50
    python bench/_ws_clients.py --url ws://127.0.0.1:PORT/ws/data --clients 50 \
        --legacy-frame-us 128000
"""

from __future__ import annotations

import argparse
import asyncio
import json
import struct
import sys
import time
from array import array
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from eegd.net.protocol import parse_header

__all__ = ["ClientLog", "Window", "main"]

#: How long one receive may wait before the client checks its deadline again.
RECEIVE_TIMEOUT_S = 1.0
#: How long all clients may take to connect and get their hello.
CONNECT_TIMEOUT_S = 60.0
#: A legacy topic-0 message: version, topic, value count, then the first timestamp.
_LEGACY_START = struct.Struct("<BBIQ")


@dataclass(slots=True)
class Window:
    """The measurement window in CLOCK_MONOTONIC ns; unknown (never) until the parent says."""

    start_ns: int = 2**63 - 1
    end_ns: int = 2**63 - 1


@dataclass(slots=True)
class ClientLog:
    """What one client saw inside the window: frames, lost frame ids, latencies."""

    frames: int = 0
    gaps: int = 0
    reordered: int = 0
    drop_notices: int = 0
    closed_early: bool = False
    last_id: int = -1
    latency_ns: array[int] = field(default_factory=lambda: array("q"))
    frame_ids: array[int] = field(default_factory=lambda: array("q"))
    received_ns: array[int] = field(default_factory=lambda: array("q"))
    """Per frame: its id and when it arrived, to find each frame's first and last receipt."""

    def record(self, frame_id: int, latency_ns: int | None, received_ns: int) -> None:
        """Count one in-window frame; a jump in frame ids counts the missing ids as lost."""
        if self.last_id >= 0:
            if frame_id > self.last_id + 1:
                self.gaps += frame_id - self.last_id - 1
            elif frame_id <= self.last_id:
                self.reordered += 1
        self.last_id = max(self.last_id, frame_id)
        self.frames += 1
        if latency_ns is not None:
            self.latency_ns.append(latency_ns)
        self.frame_ids.append(frame_id)
        self.received_ns.append(received_ns)


async def run_client(
    session: aiohttp.ClientSession,
    url: str,
    log: ClientLog,
    connected: asyncio.Queue[bool],
    window: Window,
    deadline_ns: int,
    legacy_frame_us: float | None = None,
) -> None:
    """Receive until the window (or the hard deadline) is over; log in-window frames."""
    try:
        ws = await session.ws_connect(url, compress=0, max_msg_size=0, autoping=True)
    except aiohttp.ClientError:
        log.closed_early = True
        connected.put_nowait(False)
        return
    async with ws:
        greeted = legacy_frame_us is not None
        if greeted:
            connected.put_nowait(True)
        while True:
            try:
                message = await ws.receive(timeout=RECEIVE_TIMEOUT_S)
            except TimeoutError:
                message = None
            now = time.monotonic_ns()
            if message is None:
                pass
            elif message.type is aiohttp.WSMsgType.BINARY:
                if not window.start_ns <= now <= window.end_ns:
                    pass
                elif legacy_frame_us is None:
                    header = parse_header(message.data)
                    log.record(header.frame_id, now - header.monotonic_ns, now)
                else:
                    record_legacy(log, message.data, legacy_frame_us, now)
            elif message.type is aiohttp.WSMsgType.TEXT:
                if not greeted:
                    greeted = True
                    connected.put_nowait(True)
                elif window.start_ns <= now <= window.end_ns and '"dropped"' in message.data:
                    log.drop_notices += 1
            else:
                log.closed_early = now < window.end_ns
                if not greeted:
                    connected.put_nowait(False)
                return
            if now > window.end_ns or now > deadline_ns:
                return


def record_legacy(log: ClientLog, data: bytes, frame_us: float, now: int) -> None:
    """Log a legacy message if it is filtered EEG (topic 0), by its first sample's time."""
    if len(data) < _LEGACY_START.size or data[1] != 0:
        if b'"dropped"' in data:
            log.drop_notices += 1  # told as a log line (topic 255)
        return
    _, _, count, first_us = _LEGACY_START.unpack_from(data)
    if count:
        log.record(round(first_us / frame_us), None, now)


def read_line_json() -> dict[str, Any]:
    """One JSON object from the parent on stdin; EOF means the parent is gone."""
    line = sys.stdin.readline()
    if not line:
        raise SystemExit("parent closed stdin before sending the window")
    value = json.loads(line)
    if not isinstance(value, dict):
        raise SystemExit(f"expected a JSON object from the parent, got {line!r}")
    return value


def emit(value: dict[str, Any]) -> None:
    """Send one JSON line to the parent."""
    sys.stdout.write(json.dumps(value) + "\n")
    sys.stdout.flush()


async def serve(
    url: str, count: int, deadline_s: float, legacy_frame_us: float | None = None
) -> dict[str, Any]:
    """Connect ``count`` clients, report ready, measure the window, return the results."""
    deadline_ns = time.monotonic_ns() + int(deadline_s * 1e9)
    window = Window()
    logs = [ClientLog() for _ in range(count)]
    connected: asyncio.Queue[bool] = asyncio.Queue()
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as session:
        tasks = [
            asyncio.create_task(
                run_client(session, url, log, connected, window, deadline_ns, legacy_frame_us)
            )
            for log in logs
        ]
        try:
            greeted = 0
            for _ in range(count):
                greeted += await asyncio.wait_for(connected.get(), timeout=CONNECT_TIMEOUT_S)
            emit({"ready": {"connected": greeted}})
            span = await asyncio.to_thread(read_line_json)
            window.start_ns, window.end_ns = int(span["start_ns"]), int(span["end_ns"])
            remaining_s = max(0.0, (min(window.end_ns, deadline_ns) - time.monotonic_ns()) / 1e9)
            await asyncio.wait_for(
                asyncio.gather(*tasks), timeout=remaining_s + 2 * RECEIVE_TIMEOUT_S + 5
            )
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
    return {
        "clients": count,
        "connected": greeted,
        "frames": [log.frames for log in logs],
        "gaps": [log.gaps for log in logs],
        "reordered": sum(log.reordered for log in logs),
        "drop_notices": sum(log.drop_notices for log in logs),
        "closed_early": sum(log.closed_early for log in logs),
        "latency_ns": [value for log in logs for value in log.latency_ns],
        "frame_ids": [value for log in logs for value in log.frame_ids],
        "received_ns": [value for log in logs for value in log.received_ns],
    }


def main() -> None:
    """Parse the flags, run the clients, print the result as one JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--url", required=True, help="WebSocket URL, e.g. ws://host:port/ws/filtered_eeg"
    )
    parser.add_argument("--clients", type=int, required=True, help="number of clients")
    parser.add_argument("--deadline-s", type=float, default=300.0, help="hard cap on run time")
    parser.add_argument(
        "--legacy-frame-us",
        type=float,
        default=None,
        help="read the old daemon's /ws/data, whose packets span this many µs",
    )
    args = parser.parse_args()
    if args.clients < 1:
        raise SystemExit("--clients must be at least 1")
    if args.legacy_frame_us is not None and args.legacy_frame_us <= 0:
        raise SystemExit("--legacy-frame-us must be positive")
    result = asyncio.run(serve(args.url, args.clients, args.deadline_s, args.legacy_frame_us))
    emit({"result": result})


if __name__ == "__main__":
    main()
