"""The ``eegd`` command line: ``eegd run`` starts the daemon, ``eegd config`` shows the config,
``eegd sources`` lists the source kinds and what each needs, ``eegd selftest`` tests an
ADS1299 chain (exit 0 only if every channel passes, 1 if one fails), ``eegd token new``
makes an access token (docs/security.md), ``eegd export --bids DIR RECORDING`` writes a
recording into a BIDS-EEG dataset (exit 1 if it cannot, saying why; docs/recording.md).

Token hashes may also come from the environment, ``EEGD_OPERATOR_TOKEN_HASHES`` and
``EEGD_VIEWER_TOKEN_HASHES`` (comma-separated), which replace the file's lists.

Errors are one line on stderr. Exit code 2: the daemon could not start (a bad flag or
configuration, a plugin that does not load, a port in use); 1: it failed after starting
(``run_daemon`` returns that code itself, it does not raise it).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

import msgspec

from eegd import __version__
from eegd.config import Config, load_config
from eegd.errors import ConfigError, EegdError
from eegd.net.security.tokens import hash_token, new_token
from eegd.service import run_daemon
from eegd.sources.registry import describe_kinds

__all__ = ["DEFAULT_CONFIG", "main"]

DEFAULT_CONFIG = Path("eegd.toml")

#: Flags that override a config key: (flag, dest, dotted key, type, help).
_OVERRIDES: tuple[tuple[str, str, str, type, str], ...] = (
    ("--source", "source", "source.kind", str, "source kind; eegd sources lists them (synthetic)"),
    ("--channels", "channels", "source.channels", int, "number of channels, 1..32 (8)"),
    ("--sample-rate", "sample_rate", "source.sample_rate", int, "samples/s per channel (250)"),
    ("--batch-size", "batch_size", "source.batch_size", int, "samples per packet (32)"),
    ("--seed", "seed", "source.synthetic.seed", int, "seed of the synthetic source (0)"),
    (
        "--line-noise",
        "line_noise",
        "source.synthetic.line_noise_hz",
        int,
        "add 50 or 60 Hz hum (0)",
    ),
    ("--board", "board", "source.brainflow.board", str, "BrainFlow board: cyton, ... (synthetic)"),
    ("--serial-port", "serial_port", "source.brainflow.serial_port", str, "the board's port"),
    ("--file", "file", "source.playback.path", str, "EDF/BDF file to play back"),
    ("--notch", "notch", "filter.notch_hz", int, "powerline notch: 50, 60 or 0 for off (50)"),
    ("--host", "host", "server.host", str, "address to listen on (127.0.0.1)"),
    ("--port", "port", "server.port", int, "port to listen on, 0 for any free one (8080)"),
    ("--log-level", "log_level", "log.level", str, "debug, info, warning or error (info)"),
)


#: Flags that choose their source kind unless ``--source`` says otherwise: (dest, kind).
_IMPLIED_KINDS: tuple[tuple[str, str], ...] = (("board", "brainflow"), ("file", "playback"))
_FLAG_NAMES = {dest: flag for flag, dest, _key, _kind, _help in _OVERRIDES}
#: Environment variables that override a config key: (variable, dotted key); comma-separated.
_ENVIRONMENT: tuple[tuple[str, str], ...] = (
    ("EEGD_OPERATOR_TOKEN_HASHES", "auth.operator_token_hashes"),
    ("EEGD_VIEWER_TOKEN_HASHES", "auth.viewer_token_hashes"),
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
    selftest = commands.add_parser(
        "selftest",
        help="test the ADS1299 chain: shorted-input noise, the test signal, lead-off",
        description="Open the configured ADS1299 source (the emulator with emulate = true), "
        "measure every channel against the limits in docs/hardware.md and print a table; "
        "exit 0 only if every channel passes. No daemon may hold the chip meanwhile.",
    )
    selftest.add_argument("--json", action="store_true", help="print the result as JSON")
    selftest.add_argument(
        "--check-electrodes",
        action="store_true",
        help="an electrode whose lead-off detection trips fails its channel",
    )
    for command in (run, show, selftest):
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
        command.add_argument(
            "--insecure-no-auth",
            action="store_true",
            help="listen on a non-loopback address with no operator token: anyone who can "
            "reach the port may change everything (a warning at every start)",
        )
    token = commands.add_parser(
        "token",
        help="make an access token",
        description="Print a new random token on the first line, then the [auth] lines to "
        "put in eegd.toml: only the token's hash is stored. Give the token to the clients "
        "(Authorization: Bearer TOKEN, or the kiosk's sign-in).",
    )
    token.add_argument("action", choices=["new"], help="new: make one")
    token.add_argument(
        "--role", choices=["operator", "viewer"], default="operator", help="its role (operator)"
    )
    export = commands.add_parser(
        "export",
        help="write a recording into a BIDS-EEG dataset (needs eegd[bids])",
        description="Export a finished recording part (EDF or BDF) with mne-bids: the file, "
        "_channels.tsv, _events.tsv from its markers and annotations, _eeg.json with its "
        "provenance, and the electrode positions of 10-20 channel names. Prints the data "
        "file written. Labels are letters and digits only, as BIDS requires.",
    )
    export.add_argument(
        "--bids", metavar="DIR", type=Path, required=True, help="the dataset's root folder"
    )
    export.add_argument(
        "recording",
        metavar="RECORDING",
        help="a recording part's name in [recording] directory, or the path of its file",
    )
    export.add_argument("--subject", default="01", help="BIDS subject label (01)")
    export.add_argument("--session", help="BIDS session label (none)")
    export.add_argument("--task", default="rest", help="BIDS task label (rest)")
    export.add_argument("--run", type=int, help="BIDS run index (none)")
    export.add_argument(
        "--overwrite", action="store_true", help="replace the files an earlier export wrote"
    )
    export.add_argument(
        "--config", type=Path, metavar="PATH", help="TOML config file (default: ./eegd.toml)"
    )
    commands.add_parser(
        "sources",
        help="list the source kinds, whether what each needs is installed, and how to install it",
        description="List every source kind source.kind accepts.",
    )
    return parser


def _list_sources() -> int:
    """Print one line per source kind: its name, whether it can run, and what is missing."""
    entries = describe_kinds()
    width = max((len(entry.kind) for entry in entries), default=0)
    for entry in entries:
        if entry.error is not None:
            state, note = "broken", entry.error
        elif entry.requires is None:
            state, note = "ready", "needs nothing more"
        elif entry.installed:
            state, note = "ready", f"uses {entry.requires.module} (installed)"
        else:
            state, note = "missing", f"needs {entry.requires.module}: {entry.install_command}"
        print(f"{entry.kind:<{width}}  {state:<7}  {note}")
    return 0


def _selftest(config: Config, as_json: bool, check_electrodes: bool) -> int:
    """Run the source's self-test; 0 if every channel passes, 1 if one fails, 2 if it cannot run."""
    from eegd.selftest import kinds_offering
    from eegd.sources.registry import load_source_class

    source = config.source
    try:
        test = load_source_class(source.kind).selftest
        if test is None:
            offering = kinds_offering(lambda source_class: source_class.selftest)
            allowed = ", ".join(repr(kind) for kind in offering) or "none installed"
            hint = f"; set it, or --source {offering[0]}" if offering else ""
            print(
                f"eegd: error: source.kind: {source.kind!r} has no self-test "
                f"(allowed: {allowed}{hint})",
                file=sys.stderr,
            )
            return 2
        result = test(source.shared(), source.options.get(source.kind, {}), check_electrodes)
    except EegdError as exc:
        print(f"eegd: error: {exc}", file=sys.stderr)
        return 2
    if as_json:
        print(json.dumps(result.as_dict(), indent=2))
    else:
        print(result.table())
    return 0 if result.passed else 1


def _export(args: argparse.Namespace) -> int:
    """Export a recording part into a BIDS dataset; 0 once written, 1 if refused, 2 for a
    bad label or configuration."""
    from eegd.plugins.recorder.bids import BidsRequest, export_bids

    try:
        request = BidsRequest(
            subject=args.subject,
            session=args.session,
            task=args.task,
            run=args.run,
            overwrite=args.overwrite,
        )
        path = args.config
        if path is None and DEFAULT_CONFIG.is_file():
            path = DEFAULT_CONFIG
        directory, name = _recording_at(args.recording, load_config(path, {}))
    except ConfigError as exc:
        print(f"eegd: error: {exc}", file=sys.stderr)
        return 2
    try:
        result = export_bids(directory, name, args.bids, request)
    except EegdError as exc:
        print(f"eegd: error: {exc}", file=sys.stderr)
        return 1
    print(result["file"])
    print(
        f"eegd: recording {name} ({result['status']}) exported to the BIDS dataset "
        f"{args.bids} with {result['events']} events",
        file=sys.stderr,
    )
    return 0


def _recording_at(recording: str, config: Config) -> tuple[Path, str]:
    """(directory, part name) of ``recording``: the path of its data file or sidecar, or a
    name in the configured recordings directory."""
    path = Path(recording)
    if path.suffix in (".bdf", ".edf", ".csv", ".json") and path.is_file():
        return path.parent, path.name.removesuffix(path.suffix)
    return Path(config.recording.directory), recording


def _new_token(role: str) -> int:
    """Print a fresh token, then the TOML lines that configure its hash."""
    token = new_token()
    print(token)
    print("[auth]")
    print(f'{role}_token_hashes = ["{hash_token(token)}"]')
    print(
        f"eegd: the first line is the {role} token; keep it, it is not stored anywhere. Put "
        "the other lines in eegd.toml (add the hash to any list already there).",
        file=sys.stderr,
    )
    return 0


def _as_written(config: Config) -> Any:
    """The configuration as TOML would hold it: each ``[source.<kind>]`` under ``source``."""
    data = msgspec.to_builtins(config)
    source = data["source"]
    source.update(source.pop("options"))
    del source["explicit"]
    return data


def _load(args: argparse.Namespace) -> Config:
    overrides: dict[str, tuple[str, Any]] = {}
    for flag, dest, key, _kind, _help in _OVERRIDES:
        value = getattr(args, dest)
        if value is not None:
            overrides[key] = (flag, value)
    if args.unpaced:
        overrides["source.synthetic.paced"] = ("--unpaced", False)
    if args.insecure_no_auth:
        overrides["auth.insecure_no_auth"] = ("--insecure-no-auth", True)
    for variable, key in _ENVIRONMENT:
        value = os.environ.get(variable)
        if value is not None:
            overrides[key] = (variable, [part.strip() for part in value.split(",") if part.strip()])
    implied = {kind: flag for flag, kind in _IMPLIED_KINDS if getattr(args, flag) is not None}
    if len(implied) > 1:
        raise ConfigError(
            f"{' and '.join(_FLAG_NAMES[f] for f in implied.values())} choose "
            f"different sources ({', '.join(implied)}); give one of them"
        )
    if implied and args.source is None:
        ((kind, flag),) = implied.items()
        overrides["source.kind"] = (_FLAG_NAMES[flag], kind)
    path = args.config
    if path is None and DEFAULT_CONFIG.is_file():
        path = DEFAULT_CONFIG
    return load_config(path, overrides)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``eegd`` console script; returns the exit code."""
    args = _parser().parse_args(argv)
    if args.command == "sources":
        return _list_sources()
    if args.command == "token":
        return _new_token(args.role)
    if args.command == "export":
        return _export(args)
    try:
        config = _load(args)
    except EegdError as exc:
        print(f"eegd: error: {exc}", file=sys.stderr)
        return 2
    if args.command == "config":
        print(msgspec.json.format(msgspec.json.encode(_as_written(config)).decode()))
        return 0
    if args.command == "selftest":
        return _selftest(config, as_json=args.json, check_electrodes=args.check_electrodes)
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
