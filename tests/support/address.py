"""What every daemon a test starts has in common: the base URL it serves, and its ws form."""

from __future__ import annotations

__all__ = ["DaemonAddress"]


class DaemonAddress:
    """Base of a started daemon, in-process (``LiveDaemon``) or a subprocess (``DaemonProcess``).

    ``url`` is the base URL with its trailing slash, as ``eegd run`` prints it.
    """

    url: str

    @property
    def ws_url(self) -> str:
        """The base URL with the ws scheme."""
        return "ws" + self.url.removeprefix("http")

    @property
    def port(self) -> int:
        """The port the daemon listens on."""
        return int(self.url.rstrip("/").rsplit(":", 1)[1])
