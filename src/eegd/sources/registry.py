"""Sources by name: ``source.kind`` names an entry point of the ``eegd.sources`` group.

The built-in sources register there like any third-party one (eegd's own ``pyproject.toml``
declares ``synthetic``), so nothing here knows a concrete source. An unknown kind is a
``ConfigError`` listing the available ones; a source that fails to import is a
``SourceError`` naming its kind.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass

from eegd.errors import ConfigError, SourceError
from eegd.extensions import load, names
from eegd.sources.base import OptionalDependency, Source

__all__ = [
    "ENTRY_POINT_GROUP",
    "SourceKind",
    "available_kinds",
    "describe_kinds",
    "load_source_class",
]

#: The entry-point group sources register under.
ENTRY_POINT_GROUP = "eegd.sources"


def available_kinds() -> list[str]:
    """Every installed source kind, sorted, whether or not its dependency is installed."""
    return names(ENTRY_POINT_GROUP)


def load_source_class(kind: str) -> type[Source]:
    """The source class registered as ``kind``.

    An unknown ``kind`` raises ``ConfigError`` listing the available kinds; an import
    failure, or an object that is not a ``Source`` class, raises ``SourceError`` naming it.
    """
    loaded = load(
        ENTRY_POINT_GROUP,
        kind,
        unknown=lambda known: ConfigError(
            f"source.kind: {kind!r} is not a source (available: {known})"
        ),
        failed=lambda reason: SourceError(f"source {kind!r}: {reason}"),
    )
    if not (isinstance(loaded, type) and issubclass(loaded, Source)):
        raise SourceError(f"source {kind!r}: {loaded!r} is not a Source class")
    return loaded


@dataclass(frozen=True, slots=True)
class SourceKind:
    """One line of ``eegd sources``: a kind, what it needs, and whether that is there.

    ``error`` says why the class did not load (then nothing else is known about it).
    """

    kind: str
    requires: OptionalDependency | None
    installed: bool
    error: str | None = None

    @property
    def install_command(self) -> str | None:
        """The command that installs the missing dependency; None when nothing is missing."""
        if self.installed or self.requires is None:
            return None
        return self.requires.install_command


def describe_kinds() -> list[SourceKind]:
    """Every available kind with its optional dependency and whether it is installed."""
    kinds = []
    for kind in available_kinds():
        try:
            source_class = load_source_class(kind)
        except SourceError as exc:
            kinds.append(SourceKind(kind, None, installed=False, error=str(exc)))
            continue
        requires = source_class.requires
        installed = requires is None or importlib.util.find_spec(requires.module) is not None
        kinds.append(SourceKind(kind, requires, installed))
    return kinds
