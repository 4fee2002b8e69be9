"""The ``eegd`` command line: ``eegd run`` starts the daemon, ``eegd config`` shows the config.

Errors are one line on stderr. Exit code 2: the daemon could not start (a bad flag or
configuration, a plugin that does not load, a port in use); 1: it failed after starting
(``run_daemon`` returns that code itself, it does not raise it).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

import msgspec

from eegd import __version__
from eegd.config import Config, load_config
from eegd.daemon import run_daemon
from eegd.errors import EegdError

__all__ = ["main"]

DEFAULT_CONFIG = Path("eegd.toml")

#: Flags that override a config key: (flag, dest, dotted key, type, help).
_OVERRIDES: tuple[tuple[str, str, str, type, str], ...] = (
    ("--source", "source", "source.kind", str, "sample source (synthetic)"),
    ("--channels", "channels", "source.channels", int, "number of channels, 1..32 (8)"),
    ("--sample-rate", "sample_rate", "source.sample_rate", int, "samples/s per channel (250)"),
    ("--batch-size", "batch_size", "source.batch_size", int, "samples per packet (32)"),
    ("--seed", "seed", "synthetic.seed", int, "seed of the synthetic source (0)"),
    ("--line-noise", "line_noise", "synthetic.line_noise_hz", int, "add 50 or 60 Hz hum (0)"),
    ("--notch", "notch", "filter.notch_hz", int, "powerline notch: 50, 60 or 0 for off (50)"),
    ("--host", "host", "server.host", str, "address to listen on (127.0.0.1)"),
    ("--port", "port", "server.port", int, "port to listen on, 0 for any free one (8080)"),
    ("--log-level", "log_level", "log.level", str, "debug, info, warning or error (info)"),
)


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line, as every eegd error is."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="eegd",
        description="Event-driven EEG acquisition and streaming daemon.",
        epilog="Configuration: eegd.toml in the current directory, or --config PATH; "
        "flags override the file. See README.md for every key.",
    )
    parser.add_argument("--version", action="version", version=f"eegd {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    commands.required = True
    run = commands.add_parser(
        "run", help="run the daemon", description="Acquire, process and stream EEG."
    )
    show = commands.add_parser(
        "config",
        help="print the effective configuration as JSON and exit",
        description="Validate the configuration (file and flags) and print it.",
    )
    for command in (run, show):
        command.add_argument(
            "--config", type=Path, metavar="PATH", help="TOML config file (default: ./eegd.toml)"
        )
        for flag, dest, _key, kind, help_text in _OVERRIDES:
            command.add_argument(flag, dest=dest, type=kind, help=help_text)
        command.add_argument(
            "--unpaced",
            action="store_true",
            help="deliver synthetic samples as fast as possible (benchmarks)",
        )
    return parser


def _load(args: argparse.Namespace) -> Config:
    overrides: dict[str, tuple[str, Any]] = {}
    for flag, dest, key, _kind, _help in _OVERRIDES:
        value = getattr(args, dest)
        if value is not None:
            overrides[key] = (flag, value)
    if args.unpaced:
        overrides["synthetic.paced"] = ("--unpaced", False)
    path = args.config
    if path is None and DEFAULT_CONFIG.is_file():
        path = DEFAULT_CONFIG
    return load_config(path, overrides)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``eegd`` console script; returns the exit code."""
    args = _parser().parse_args(argv)
    try:
        config = _load(args)
    except EegdError as exc:
        print(f"eegd: error: {exc}", file=sys.stderr)
        return 2
    if args.command == "config":
        print(msgspec.json.format(msgspec.json.encode(config).decode()))
        return 0
    logging.basicConfig(
        level=config.log.level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    try:
        return asyncio.run(run_daemon(config, reload=lambda: _load(args)))
    except EegdError as exc:  # raised while starting: failures once serving are a return code
        print(f"eegd: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 0


if __name__ == "__main__":
    sys.exit(main())
