"""Installed extensions: the entry points of a group, scanned once per import path, and the
one loader that turns a name into what it registers.

Scanning every installed distribution's metadata costs milliseconds, and the daemon looks
up its source and each plugin by name whenever it is built or reconfigured. What is
installed changes only with ``sys.path`` (a new directory, as a test or a virtual
environment adds one), so the scan is kept per group and per ``sys.path``; a package
installed into a directory already on the path is seen after a restart.

Sources (``eegd.sources``) and plugins (``eegd.plugins``) both load through ``load``; each
registry words its own errors (which exception, which key), the lookup is this one.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from importlib.metadata import EntryPoint, entry_points

__all__ = ["load", "names", "registered"]


def registered(group: str) -> dict[str, EntryPoint]:
    """The entry points of ``group`` by name (the first one found wins, as import does)."""
    return dict(_scan(group, tuple(sys.path)))


def names(group: str) -> list[str]:
    """The names registered in ``group``, sorted."""
    return sorted(registered(group))


def load(
    group: str,
    name: str,
    *,
    unknown: Callable[[str], Exception],
    failed: Callable[[str], Exception],
) -> object:
    """The object entry point ``name`` of ``group`` refers to, imported.

    Nothing registered as ``name`` raises ``unknown(available)``, ``available`` being the
    registered names (comma-separated, or "none installed"); an import that raises becomes
    ``failed(reason)``, ``reason`` naming the entry point's target and the error.
    """
    entry = registered(group).get(name)
    if entry is None:
        raise unknown(", ".join(names(group)) or "none installed")
    try:
        return entry.load()
    except Exception as exc:
        raise failed(f"failed to load {entry.value}: {exc}") from exc


@functools.lru_cache(maxsize=16)
def _scan(group: str, path: tuple[str, ...]) -> tuple[tuple[str, EntryPoint], ...]:
    """Every entry point of ``group`` on ``path``; ``path`` is the cache key only."""
    found: dict[str, EntryPoint] = {}
    for entry in entry_points(group=group):
        found.setdefault(entry.name, entry)
    return tuple(found.items())
