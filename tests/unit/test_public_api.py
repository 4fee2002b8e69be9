"""The package exports what the README and docs promise, and nothing private leaks.

Each public module's ``__all__`` is exactly its public names, as httpx's
``tests/test_exported_members.py`` checks: what the module defines (classes, functions,
constants, aliases) without a leading underscore. Names it imports are not its own, except
that a package's ``__init__`` re-exports what its own submodules define; a module's
``logger`` is plumbing, not API.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import logging
import types
from collections.abc import Iterator

import pytest

import eegd

MODULES = [
    "eegd.errors",
    "eegd.validation",
    "eegd.events",
    "eegd.bus",
    "eegd.plugin",
    "eegd.extensions",
    "eegd.supervisor",
    "eegd.clock",
    "eegd.acquisition.loop",
    "eegd.acquisition.ledger",
    "eegd.acquisition.reader",
    "eegd.systemd",
    "eegd.sources.faulty",
    "eegd.config",
    "eegd.daemon",
    "eegd.selftest",
    "eegd.client",
    "eegd.net.protocol",
    "eegd.net.stream.clients",
    "eegd.net.stream.connections",
    "eegd.net.control",
    "eegd.net.stream.decimation",
    "eegd.net.stream.fanout",
    "eegd.net.stream.hello",
    "eegd.net.security.ratelimit",
    "eegd.net.rest",
    "eegd.net.stream.routing",
    "eegd.net.security.access",
    "eegd.net.security.audit",
    "eegd.net.legacy",
    "eegd.net.security.hosts",
    "eegd.net.security.roles",
    "eegd.net.security.sessions",
    "eegd.net.security.tokens",
    "eegd.net.security.webgate",
    "eegd.net.server",
    "eegd.net.settings",
    "eegd.dsp.decimate",
    "eegd.dsp.filters",
    "eegd.dsp.spectrum",
    "eegd.sources.base",
    "eegd.sources.registry",
    "eegd.sources.synthetic",
    "eegd.sources.brainflow",
    "eegd.sources.brainflow.boards",
    "eegd.sources.brainflow.log_bridge",
    "eegd.sources.brainflow.source",
    "eegd.sources.edf",
    "eegd.sources.playback",
    "eegd.sources.lsl",
    "eegd.sources.lsl_markers",
]


def test_top_level_exports() -> None:
    assert set(eegd.__all__) >= {
        "EegPacket",
        "FilteredEegPacket",
        "FftPacket",
        "SystemEvent",
        "Topic",
        "EegdError",
        "ConfigError",
        "SourceError",
        "ProtocolError",
        "PluginError",
    }
    for name in eegd.__all__:
        assert hasattr(eegd, name), name


@pytest.mark.parametrize("module_name", MODULES)
def test_every_module_declares_what_it_exports(module_name: str) -> None:
    module = importlib.import_module(module_name)
    exported = getattr(module, "__all__", None)
    assert exported, f"{module_name} has no __all__"
    for name in exported:
        assert not name.startswith("_") or name == "__version__", name
        assert hasattr(module, name), f"{module_name}.{name}"


def top_level_statements(body: list[ast.stmt]) -> Iterator[ast.stmt]:
    """The module's own statements, including those under ``if``/``try``, not in functions."""
    for node in body:
        yield node
        if isinstance(node, ast.If | ast.Try | ast.With):
            for block in ("body", "orelse", "finalbody"):
                yield from top_level_statements(getattr(node, block, []))
            for handler in getattr(node, "handlers", []):
                yield from top_level_statements(handler.body)


def imported_names(module: types.ModuleType) -> dict[str, str]:
    """Each name an import statement of ``module`` binds, and the module it comes from."""
    tree = ast.parse(inspect.getsource(module))
    package = module.__name__ if hasattr(module, "__path__") else module.__name__.rpartition(".")[0]
    imported: dict[str, str] = {}
    for node in top_level_statements(tree.body):
        if isinstance(node, ast.ImportFrom):
            source = node.module or ""
            if node.level:
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                source = f"{base}.{source}" if source else base
            for alias in node.names:
                imported[alias.asname or alias.name] = source
        elif isinstance(node, ast.Import):
            for alias in node.names:
                imported[alias.asname or alias.name.partition(".")[0]] = alias.name
    return imported


def public_names(module: types.ModuleType) -> set[str]:
    """The names ``module`` defines (a package: and its submodules define), minus private ones."""
    imported = imported_names(module)
    inside = module.__name__ + "."

    def own(name: str, value: object) -> bool:
        if isinstance(value, types.ModuleType | logging.Logger):
            return False
        if name not in imported:
            return True  # a class, function or assignment of this module
        return hasattr(module, "__path__") and imported[name].startswith(inside)

    return {
        name
        for name, value in vars(module).items()
        if not name.startswith("_") and own(name, value)
    }


@pytest.mark.parametrize("module_name", ["eegd", *MODULES])
def test_all_is_exactly_the_public_names(module_name: str) -> None:
    module = importlib.import_module(module_name)
    exported = list(getattr(module, "__all__", ()))
    assert len(exported) == len(set(exported)), f"{module_name}.__all__ repeats a name"
    declared = {name for name in exported if not (name.startswith("__") and name.endswith("__"))}
    public = public_names(module)
    assert sorted(public - declared) == [], f"{module_name}: public but not in __all__"
    assert sorted(declared - public) == [], f"{module_name}: in __all__ but not its own"


def test_error_tree_has_one_root_and_builtin_meanings() -> None:
    assert issubclass(eegd.ConfigError, ValueError)
    assert issubclass(eegd.ProtocolError, ValueError)
    assert issubclass(eegd.SourceError, OSError)
    for error in (eegd.ConfigError, eegd.SourceError, eegd.ProtocolError, eegd.PluginError):
        assert issubclass(error, eegd.EegdError)
