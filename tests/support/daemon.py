"""The real daemon as a subprocess on a free port, as tests start it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from tests.support.address import DaemonAddress
from tests.support.timing import scaled

#: Generous start-up deadline for a busy 2-core machine.
START_TIMEOUT_S = 60.0


@dataclass
class DaemonProcess(DaemonAddress):
    """A running ``eegd run`` and the URL it printed; stderr is kept for failure messages."""

    process: subprocess.Popen[str]
    url: str
    stderr_lines: list[str] = field(default_factory=list)
    stderr_reader: threading.Thread | None = None

    def stop(self, timeout: float = 10.0) -> int:
        """SIGTERM, wait, and release the pipes; returns the exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=scaled(timeout))
        finally:
            self.close_pipes()

    def close_pipes(self) -> None:
        """Close stdout and stderr once the process has ended."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        if self.stderr_reader is not None:
            self.stderr_reader.join(timeout=scaled(5))
        for stream in (self.process.stdout, self.process.stderr):
            if stream is not None:
                stream.close()


def start_daemon_process(*args: str, cwd: Path | None = None) -> DaemonProcess:
    """Start ``eegd run --port 0 ARGS`` and wait for the URL line on stdout."""
    process = subprocess.Popen(
        [sys.executable, "-m", "eegd.cli", "run", "--port", "0", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=cwd,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    daemon = DaemonProcess(process, url="")
    if process.stdout is None or process.stderr is None:
        raise RuntimeError("eegd started without pipes")
    daemon.stderr_reader = threading.Thread(
        target=_collect_lines, args=(process.stderr, daemon.stderr_lines), daemon=True
    )
    daemon.stderr_reader.start()
    url_line: list[str] = []
    reader = threading.Thread(target=_first_line, args=(process.stdout, url_line), daemon=True)
    reader.start()
    reader.join(scaled(START_TIMEOUT_S))
    if not url_line or not url_line[0].startswith("http"):
        daemon.close_pipes()
        raise RuntimeError(f"eegd did not print its URL; stderr:\n{''.join(daemon.stderr_lines)}")
    daemon.url = url_line[0].strip()
    return daemon


def _collect_lines(stream: IO[str], sink: list[str]) -> None:
    sink.extend(iter(stream.readline, ""))


def _first_line(stream: IO[str], sink: list[str]) -> None:
    sink.append(stream.readline())
