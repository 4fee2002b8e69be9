"""The package exports what the README and docs promise, and nothing private leaks.

Each module's ``__all__`` is exactly its public names, as httpx's
``tests/test_exported_members.py`` checks: what the module defines (classes, functions,
constants, aliases) without a leading underscore. Names it imports are not its own, except
that a package's ``__init__`` re-exports what its own submodules define; a module's
``logger`` is plumbing, not API. A package that only groups modules defines nothing and
needs no ``__all__``. The stable client surface of design §12 keeps its names and shapes.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import logging
import pkgutil
import struct
import types
from collections.abc import Iterator
from pathlib import Path

import pytest

import eegd

#: Every module of the package, found by walking it: a new module is checked without a list
#: to keep.
MODULES = sorted(module.name for module in pkgutil.walk_packages(eegd.__path__, "eegd."))


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


def test_the_walk_finds_every_module() -> None:
    """The list is the package's tree: subpackages and their modules, not only the top."""
    assert len(MODULES) > 100
    assert {"eegd.net.protocol", "eegd.net.stream.fanout", "eegd.plugins.recorder.recorder"} <= set(
        MODULES
    )


@pytest.mark.parametrize("module_name", MODULES)
def test_every_module_declares_what_it_exports(module_name: str) -> None:
    module = importlib.import_module(module_name)
    exported = getattr(module, "__all__", None)
    assert exported or not public_names(module), f"{module_name} has no __all__"
    for name in exported or ():
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
    tree = ast.parse(Path(str(module.__file__)).read_text())  # an empty __init__ too
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


#: docs/protocol.md §3's example hello, as a client receives it.
HELLO_TEXT = """{"type":"hello","protocol":1,"session":"3f2a9c","sample_rate":250.0,
 "channels":["C3","C4"],"time_anchor_us":1700000000000000,
 "units":{"raw_eeg":"µV","filtered_eeg":"µV","psd":"µV²/Hz","band_power":"µV²","freqs":"Hz",
          "sample_rate":"Hz","timestamp":"µs"},"spectrum":null}"""


def filtered_frame(samples_uv: list[list[float]], monotonic_ns: int) -> bytes:
    """A filtered_eeg frame laid out by hand from docs/protocol.md §2.1's offset table."""
    channels, count = len(samples_uv), len(samples_uv[0])
    frame = bytearray(56 + 4 * channels * count)
    struct.pack_into("<B", frame, 0, 1)  # version
    struct.pack_into("<B", frame, 1, 2)  # topic: filtered_eeg
    struct.pack_into("<H", frame, 4, channels)  # channel_count
    struct.pack_into("<I", frame, 8, count)  # sample_count
    struct.pack_into("<Q", frame, 16, 7)  # frame_id
    struct.pack_into("<Q", frame, 24, 7 * count)  # first_sample
    struct.pack_into("<Q", frame, 32, 1_700_000_000_112_000)  # timestamp_us
    struct.pack_into("<Q", frame, 40, monotonic_ns)
    struct.pack_into("<d", frame, 48, 250.0)  # sample_rate
    values = [value for row in samples_uv for value in row]
    struct.pack_into(f"<{len(values)}f", frame, 56, *values)
    return bytes(frame)


def test_the_stable_client_surface_keeps_its_names() -> None:
    """design §12: ``decode_text``, ``Hello.channels``, ``decode_frame(data, hello)`` and
    ``parse_header(...).monotonic_ns`` are the client's API, extended only by new fields."""
    from eegd.net import protocol

    assert {"decode_text", "Hello", "decode_frame", "parse_header"} <= set(protocol.__all__)
    hello = protocol.decode_text(HELLO_TEXT)
    assert isinstance(hello, protocol.Hello)
    assert hello.channels == ("C3", "C4")

    frame = filtered_frame([[1.5, -2.0, 3.25], [0.0, 10.0, -0.5]], monotonic_ns=123_456_789)
    assert protocol.parse_header(frame).monotonic_ns == 123_456_789
    assert list(inspect.signature(protocol.decode_frame).parameters)[:2] == ["data", "hello"]
    decoded = protocol.decode_frame(data=frame, hello=hello)
    assert decoded.channel_names == ("C3", "C4")
    assert decoded.samples_uv.tolist() == [[1.5, -2.0, 3.25], [0.0, 10.0, -0.5]]
