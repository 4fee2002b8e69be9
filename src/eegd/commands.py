"""The commands control messages stand for, each served by the route that declares it.

A WebSocket ``record`` or ``marker`` message, and the old daemon's ``/command`` and
``/config`` messages, ask for what a REST route does. The server finds that route by the
command it declares (``eegd.routes.Route.command``), not by its URL, so the network layer
names no plugin's path: a plugin may move or rename a route and its messages follow.
"""

from __future__ import annotations

import enum

__all__ = ["Command"]


class Command(enum.StrEnum):
    """What a control message asks for; one route at most declares each."""

    RECORDER_LIST = "recorder.list"
    """The recordings and the one being written (``recording``: its name, or null)."""
    RECORDER_START = "recorder.start"
    """Start a recording (``name``, ``notes``); the reply names it."""
    RECORDER_STOP = "recorder.stop"
    """Stop the recording being written; the reply names it."""
    RECORDER_MARKER = "recorder.marker"
    """Mark a moment (``label``, ``duration_s``, ``timestamp_us``)."""
    FILTER_STATE = "filter.state"
    """The voltage filter's settings."""
    FILTER_CHANGE = "filter.change"
    """Change some of the voltage filter's settings."""
    SOURCE_STATE = "source.state"
    """The source's kind, channels, rate and settings."""
    SOURCE_CHANGE = "source.change"
    """Change the source's settings (a new session)."""
