"""BrainFlow's own log, passed on to eegd's logger ``eegd.sources.brainflow.board``.

BrainFlow's board logger is one per process and writes to a file; a pipe turns that file
into a stream of lines that a daemon thread passes on, at the level each line names.
"""

from __future__ import annotations

import logging
import os
import re
import threading
from collections.abc import Iterator
from typing import Final

from eegd.sources.brainflow.boards import board_shim

__all__ = ["install_log_bridge"]

board_logger = logging.getLogger("eegd.sources.brainflow.board")
"""Where BrainFlow's own log lines go."""

_LINE = re.compile(r"^\[[^\]]*\] \[[^\]]*\] \[(?P<level>\w+)\] (?P<message>.*)$")
"""A BrainFlow log line: ``[time] [logger] [level] message``."""
_LEVELS: Final = {
    "trace": logging.DEBUG,
    "debug": logging.DEBUG,
    "info": logging.DEBUG,  # BrainFlow's info is chatty (it prints its parameters as JSON)
    "warning": logging.WARNING,
    "warn": logging.WARNING,
    "error": logging.ERROR,
    "critical": logging.CRITICAL,
}
_bridge_lock = threading.Lock()
_bridge_installed = False


def install_log_bridge() -> None:
    """Send BrainFlow's board log to ``board_logger`` (once per process).

    BrainFlow's verbosity follows the logger's: everything when it logs debug, warnings
    and errors otherwise.
    """
    global _bridge_installed
    shim = board_shim()
    with _bridge_lock:
        if not _bridge_installed:
            read_end, write_end = os.pipe()
            os.set_inheritable(write_end, False)
            shim.BoardShim.set_log_file(f"/proc/self/fd/{write_end}")
            threading.Thread(
                target=_forward, args=(read_end,), name="brainflow-log", daemon=True
            ).start()
            _bridge_installed = True
        levels = shim.LogLevels
        verbose = board_logger.isEnabledFor(logging.DEBUG)
        shim.BoardShim.set_log_level(levels.LEVEL_TRACE if verbose else levels.LEVEL_WARN)


def _forward(read_end: int) -> None:
    level = logging.DEBUG
    for line in _lines(read_end):
        match = _LINE.match(line)
        if match is not None:
            level = _LEVELS.get(match["level"].lower(), logging.INFO)
            line = match["message"]
        board_logger.log(level, "%s", line)


def _lines(read_end: int) -> Iterator[str]:
    with os.fdopen(read_end, "rb") as pipe:
        for raw in pipe:
            yield raw.decode("utf-8", "replace").rstrip()
