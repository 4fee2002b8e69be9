"""Loading plugins by name: built-ins, third-party entry points, and errors that name them."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from eegd.config import load_config
from eegd.daemon import Daemon
from eegd.errors import ConfigError, PluginError
from eegd.plugin import BUILTIN_PLUGINS, load_plugin_class
from eegd.plugins.brain_waves import BrainWaves
from eegd.plugins.voltage_filter import VoltageFilter
from tests.support.waiting import wait_until


def install_distribution(root: Path, module: str, source: str, entry: str) -> None:
    """A minimal installed distribution on ``root``: a module and its entry point."""
    (root / f"{module}.py").write_text(textwrap.dedent(source))
    info = root / f"{module}-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {module}\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(f"[eegd.plugins]\n{entry}\n")


def test_builtins_load_by_name() -> None:
    assert load_plugin_class("voltage_filter") is VoltageFilter
    assert load_plugin_class("brain_waves") is BrainWaves
    assert set(BUILTIN_PLUGINS) == {"voltage_filter", "brain_waves"}


def test_a_third_party_plugin_loads_through_its_entry_point(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    install_distribution(
        tmp_path,
        "eegd_counter",
        """
        from eegd.events import Topic

        class Counter:
            name = "counter"
            consumes = (Topic.RAW_EEG,)
            produces = ()

            @classmethod
            def from_options(cls, options):
                return cls()

            async def run(self, ctx):
                pass
        """,
        "counter = eegd_counter:Counter",
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    plugin_class = load_plugin_class("counter")
    assert plugin_class.__name__ == "Counter"
    assert plugin_class.name == "counter"


def test_unknown_plugin_names_the_plugin_and_the_available_ones() -> None:
    with pytest.raises(PluginError, match=r"plugin 'nope': not found \(available: .*brain_waves"):
        load_plugin_class("nope")


def test_a_plugin_that_fails_to_import_is_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    install_distribution(tmp_path, "eegd_broken", "import not_a_module\n", "broken = eegd_broken:X")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(PluginError, match=r"plugin 'broken': failed to load: No module named"):
        load_plugin_class("broken")


def test_something_that_is_not_a_plugin_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    install_distribution(
        tmp_path, "eegd_thing", "class Thing:\n    pass\n", "thing = eegd_thing:Thing"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(PluginError, match=r"plugin 'thing': .* has no 'name'"):
        load_plugin_class("thing")


async def test_the_daemon_runs_a_third_party_plugin_with_its_options(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    install_distribution(
        tmp_path,
        "eegd_tally",
        """
        from eegd.errors import ConfigError
        from eegd.events import Topic

        class Tally:
            name = "tally"
            consumes = (Topic.RAW_EEG,)
            produces = ()

            def __init__(self, every):
                self.every = every
                self.seen = 0

            @classmethod
            def from_options(cls, options):
                if set(options) - {"every"}:
                    raise ConfigError(f"plugin.tally: unknown options {sorted(options)}")
                return cls(options.get("every", 1))

            async def run(self, ctx):
                with ctx.bus.subscribe(self.consumes) as subscription:
                    async for _ in subscription:
                        self.seen += 1
        """,
        "tally = eegd_tally:Tally",
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    config_file = tmp_path / "eegd.toml"
    config_file.write_text(
        'plugins = ["voltage_filter", "tally"]\n'
        "[plugin.tally]\nevery = 3\n"
        "[synthetic]\npaced = false\n"
    )
    daemon = Daemon(load_config(config_file))
    daemon.start()
    try:
        await wait_until(lambda: getattr(daemon.plugins.get("tally"), "seen", 0) > 5)
        assert getattr(daemon.plugins["tally"], "every", None) == 3
        assert getattr(daemon.plugins["tally"], "seen", 0) > 5
    finally:
        await daemon.stop()

    config_file.write_text('plugins = ["tally"]\n[plugin.tally]\nevry = 3\n')
    with pytest.raises(ConfigError, match="plugin.tally: unknown options"):
        Daemon(load_config(config_file))
