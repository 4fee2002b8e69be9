"""The source registry: kinds by entry point, errors that name them, and ``eegd sources``."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from eegd.cli import main
from eegd.config import load_config
from eegd.errors import ConfigError, SourceError
from eegd.sources.base import SharedSourceOptions
from eegd.sources.registry import available_kinds, describe_kinds, load_source_class
from eegd.sources.synthetic import SyntheticSource


def install_sources(root: Path, module: str, source: str, entries: dict[str, str]) -> None:
    """A minimal installed distribution on ``root`` whose module registers ``entries``."""
    (root / f"{module}.py").write_text(textwrap.dedent(source))
    info = root / f"{module}-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {module}\nVersion: 0.1\n")
    lines = "".join(f"{kind} = {target}\n" for kind, target in entries.items())
    (info / "entry_points.txt").write_text(f"[eegd.sources]\n{lines}")


HARDWARE = """
    from eegd.sources.base import OptionalDependency, Source

    class Hardware(Source):
        kind = "hardware"
        requires = OptionalDependency(extra="hardware", module="eegd_no_such_driver_module")

    class NotASource:
        pass
"""


@pytest.fixture
def extra_kinds(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Three more kinds: one that needs a missing driver, one broken, one not a source."""
    install_sources(
        tmp_path,
        "eegd_hardware",
        HARDWARE,
        {
            "hardware": "eegd_hardware:Hardware",
            "broken": "eegd_missing_module:Source",
            "thing": "eegd_hardware:NotASource",
        },
    )
    monkeypatch.syspath_prepend(str(tmp_path))


def test_the_synthetic_source_is_registered_like_any_other() -> None:
    assert "synthetic" in available_kinds()
    assert load_source_class("synthetic") is SyntheticSource


def test_an_unknown_kind_names_it_and_lists_the_available_ones() -> None:
    with pytest.raises(ConfigError, match=r"'nope' is not a source \(available: .*synthetic"):
        load_source_class("nope")
    with pytest.raises(ConfigError, match=r"^source\.kind: 'nope' is not allowed .*'synthetic'"):
        load_config(overrides={"source.kind": ("", "nope")})
    with pytest.raises(ConfigError, match=r"^--source \(source\.kind: 'nope'"):
        load_config(overrides={"source.kind": ("--source", "nope")})


@pytest.mark.usefixtures("extra_kinds")
def test_a_broken_entry_point_is_named() -> None:
    with pytest.raises(SourceError, match=r"^source 'broken': failed to load .*No module named"):
        load_source_class("broken")
    with pytest.raises(SourceError, match=r"^source 'thing': .* is not a Source class"):
        load_source_class("thing")
    with pytest.raises(SourceError, match=r"^source 'broken'"):
        load_config(overrides={"source.kind": ("", "broken")})


@pytest.mark.usefixtures("extra_kinds")
def test_describe_kinds_says_what_each_needs() -> None:
    kinds = {entry.kind: entry for entry in describe_kinds()}
    assert kinds["synthetic"].installed
    assert kinds["synthetic"].install_command is None
    assert not kinds["hardware"].installed
    assert kinds["hardware"].install_command == "pip install 'eegd[hardware]'"
    assert kinds["broken"].error is not None


@pytest.mark.usefixtures("extra_kinds")
def test_eegd_sources_lists_every_kind_and_how_to_install_it(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["sources"]) == 0
    lines = {line.split()[0]: line for line in capsys.readouterr().out.splitlines()}
    assert set(lines) >= {"synthetic", "hardware", "broken", "thing"}
    assert "ready" in lines["synthetic"]
    assert "needs nothing more" in lines["synthetic"]
    assert "missing" in lines["hardware"]
    assert "pip install 'eegd[hardware]'" in lines["hardware"]
    assert "broken" in lines["broken"].split()[1]
    assert "eegd_missing_module" in lines["broken"]


def test_synthetic_options_name_the_dotted_key() -> None:
    shared = SharedSourceOptions(kind="synthetic")
    for options, expected in [
        ({"line_noise_hz": 40}, r"^source\.synthetic\.line_noise_hz: 40 is not allowed"),
        ({"seed": "x"}, r"^source\.synthetic\.seed: expected `int`, got `str`"),
        ({"blinks": 1}, r"^source\.synthetic\.blinks: expected `bool`"),
        ({"sed": 1}, r"^source\.synthetic\.sed: unknown key \(allowed: seed, line_noise_hz"),
    ]:
        with pytest.raises(ConfigError, match=expected):
            SyntheticSource.from_options(shared, options)
    with pytest.raises(ConfigError, match=r"^source\.channels: 33 is out of range"):
        SyntheticSource.from_options(SharedSourceOptions(kind="synthetic", channels=33), {})
