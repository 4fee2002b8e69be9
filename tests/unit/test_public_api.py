"""The package exports what the README and docs promise, and nothing private leaks."""

from __future__ import annotations

import importlib

import pytest

import eegd

MODULES = [
    "eegd.errors",
    "eegd.events",
    "eegd.bus",
    "eegd.plugin",
    "eegd.supervisor",
    "eegd.clock",
    "eegd.acquisition",
    "eegd.config",
    "eegd.daemon",
    "eegd.client",
    "eegd.net.protocol",
    "eegd.net.connections",
    "eegd.net.server",
    "eegd.dsp.filters",
    "eegd.dsp.spectrum",
    "eegd.sources.base",
    "eegd.sources.synthetic",
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


def test_error_tree_has_one_root_and_builtin_meanings() -> None:
    assert issubclass(eegd.ConfigError, ValueError)
    assert issubclass(eegd.ProtocolError, ValueError)
    assert issubclass(eegd.SourceError, OSError)
    for error in (eegd.ConfigError, eegd.SourceError, eegd.ProtocolError, eegd.PluginError):
        assert issubclass(error, eegd.EegdError)
