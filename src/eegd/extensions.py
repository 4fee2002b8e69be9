"""Installed extensions: the entry points of a group, scanned once per import path.

Scanning every installed distribution's metadata costs milliseconds, and the daemon looks
up its source and each plugin by name whenever it is built or reconfigured. What is
installed changes only with ``sys.path`` (a new directory, as a test or a virtual
environment adds one), so the scan is kept per group and per ``sys.path``; a package
installed into a directory already on the path is seen after a restart.
"""

from __future__ import annotations

import functools
import sys
from importlib.metadata import EntryPoint, entry_points

__all__ = ["registered"]


def registered(group: str) -> dict[str, EntryPoint]:
    """The entry points of ``group`` by name (the first one found wins, as import does)."""
    return dict(_scan(group, tuple(sys.path)))


@functools.lru_cache(maxsize=16)
def _scan(group: str, path: tuple[str, ...]) -> tuple[tuple[str, EntryPoint], ...]:
    """Every entry point of ``group`` on ``path``; ``path`` is the cache key only."""
    found: dict[str, EntryPoint] = {}
    for entry in entry_points(group=group):
        found.setdefault(entry.name, entry)
    return tuple(found.items())
