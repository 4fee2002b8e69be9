"""Shared fixtures: the real daemon as a subprocess on a free port."""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterator

import pytest
from hypothesis import HealthCheck, settings

from tests.support.daemon import DaemonProcess, start_daemon_process
from tests.support.lsl import use_loopback

use_loopback()  # before anything loads pylsl: LSL stays on 127.0.0.1 in every test

# Property tests check behaviour, not speed: a busy 2-core machine may take any time per example.
settings.register_profile("eegd", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("eegd")


@pytest.fixture
def start_daemon() -> Iterator[Callable[..., DaemonProcess]]:
    """Start daemons with given CLI args; each is stopped (SIGTERM) after the test."""
    started: list[DaemonProcess] = []

    def start(*args: str) -> DaemonProcess:
        daemon = start_daemon_process(*args)
        started.append(daemon)
        return daemon

    yield start
    for daemon in started:
        try:
            daemon.stop()
        except subprocess.TimeoutExpired:
            daemon.close_pipes()
