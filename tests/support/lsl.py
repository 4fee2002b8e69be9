"""Lab Streaming Layer kept on loopback for the tests, and a peer process to talk to.

``use_loopback()`` writes an ``lsl_api.cfg`` and points ``LSLAPICFG`` at it: discovery on
127.0.0.1 only, IPv4, and timings for loopback instead of a LAN (clock-offset probes 4 ms
apart and answered within 50 ms, where the defaults are 64 and 128; resolve waves 50 ms
apart, where they are 0.5 and 0.75 s), so that ``time_correction`` answers in under 0.1 s
rather than over half a second and a stream that comes back is found within tens of
milliseconds. liblsl reads the file once, when it loads, so tests/conftest.py calls this
before anything imports pylsl. Child processes inherit it.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

LOOPBACK_CONFIG = """\
[ports]
IPv6 = disable
[multicast]
ResolveScope = machine
AddressesOverride = {127.0.0.1}
ListenAddress = 127.0.0.1
[lab]
KnownPeers = {127.0.0.1}
[tuning]
TimeProbeInterval = 0.004
TimeProbeMaxRTT = 0.05
MulticastMinRTT = 0.05
UnicastMinRTT = 0.05
[log]
level = -2
"""

PEER = Path(__file__).with_name("lsl_peer.py")
#: The longest line a peer may print: an inlet's report of 5 s of samples is several MB.
PEER_LINE_LIMIT = 64 * 1024 * 1024


def use_loopback() -> None:
    """Point this process (and its children) at a loopback-only LSL configuration."""
    if "pylsl" in sys.modules:
        raise RuntimeError("pylsl is already loaded: LSLAPICFG would be ignored")
    directory = Path(tempfile.mkdtemp(prefix="eegd-lsl-"))
    path = directory / "lsl_api.cfg"
    path.write_text(LOOPBACK_CONFIG)
    os.environ["LSLAPICFG"] = str(path)


class Peer:
    """A running ``lsl_peer.py`` process and its JSON lines."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process

    async def line(self, timeout: float = 30.0) -> dict[str, Any]:
        """The next JSON line the peer prints; fails if it exits first."""
        assert self.process.stdout is not None
        raw = await asyncio.wait_for(self.process.stdout.readline(), timeout)
        if not raw:
            raise AssertionError("the LSL peer exited without answering")
        value: dict[str, Any] = json.loads(raw)
        if "error" in value:
            raise AssertionError(f"the LSL peer failed: {value['error']}")
        return value

    async def send(self, value: dict[str, Any]) -> None:
        """One JSON line to the peer's stdin."""
        assert self.process.stdin is not None
        self.process.stdin.write((json.dumps(value) + "\n").encode())
        await self.process.stdin.drain()

    async def stop(self) -> None:
        """Close its stdin and end it."""
        if self.process.stdin is not None:
            self.process.stdin.close()
        if self.process.returncode is None:
            self.process.terminate()
        await self.process.wait()


async def start_peer(*args: str) -> Peer:
    """Start ``lsl_peer.py`` with ``args``."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        str(PEER),
        *args,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        limit=PEER_LINE_LIMIT,
    )
    return Peer(process)
