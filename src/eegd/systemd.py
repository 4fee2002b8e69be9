"""Telling systemd how the daemon is: ``READY=1``, ``WATCHDOG=1`` and ``STOPPING=1``.

Under a ``Type=notify`` unit systemd passes ``$NOTIFY_SOCKET``, a Unix datagram socket
(a path, or an abstract name written with a leading ``@``), and, with ``WatchdogSec=``,
``$WATCHDOG_USEC``: the daemon must say ``WATCHDOG=1`` at least that often or be restarted.
The pings come from a task on the event loop, at half the interval, so a loop that hangs
(a blocking call, a busy callback) stops them and systemd restarts the daemon. A few lines
over the socket, as ``sd_notify(3)`` describes, with no dependency; outside systemd (no
``$NOTIFY_SOCKET``) every call does nothing.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections.abc import Mapping
from dataclasses import dataclass

__all__ = ["Notifier"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Notifier:
    """Where to send notifications (None: not under systemd) and the watchdog interval."""

    address: str | None
    watchdog_s: float | None

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> Notifier:
        """The notifier systemd's variables describe; ``WATCHDOG_PID`` must be this process."""
        env = os.environ if environ is None else environ
        address = env.get("NOTIFY_SOCKET") or None
        watchdog_s = None
        usec, pid = env.get("WATCHDOG_USEC", ""), env.get("WATCHDOG_PID", "")
        ours = not pid or pid == str(os.getpid())
        if usec.isascii() and usec.isdigit() and int(usec) > 0 and ours:
            watchdog_s = int(usec) / 1e6
        return cls(address, watchdog_s)

    def notify(self, message: str) -> bool:
        """Send ``message`` (``READY=1``...); False if there is no socket or it failed."""
        if self.address is None:
            return False
        target = "\0" + self.address[1:] if self.address.startswith("@") else self.address
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
                sock.setblocking(False)  # a full queue is a lost ping, never a blocked loop
                sock.sendto(message.encode(), target)
        except OSError as exc:
            logger.warning("sd_notify %s to %s failed: %s", message, self.address, exc)
            return False
        return True

    async def watchdog(self) -> None:
        """Say ``WATCHDOG=1`` every half interval until cancelled (nothing without one)."""
        if self.watchdog_s is None or self.address is None:
            return
        while True:
            self.notify("WATCHDOG=1")
            await asyncio.sleep(self.watchdog_s / 2)
