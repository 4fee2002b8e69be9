"""A recording survives ``kill -9``: the next start recovers it into a file MNE reads.

The daemon is a real process with the paced synthetic source (seed 0); the samples it
published are the synthetic source's, which are the same for the same seed, so the test
generates them again to compare with what the recovered file holds.
"""

from __future__ import annotations

import json
import signal
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import mne
import numpy as np

from eegd.sources.synthetic import SyntheticSettings, SyntheticSource
from tests.integration.test_recording import LSB_V, recorder_of, recording_daemon
from tests.support.daemon import DaemonProcess, start_daemon_process
from tests.support.rest import api
from tests.support.timing import scaled
from tests.support.waiting import wait_until


def request(daemon: DaemonProcess, method: str, path: str, body: Any = None) -> Any:
    data = None if body is None else json.dumps(body).encode()
    headers = {"Content-Type": "application/json"}
    sent = urllib.request.Request(daemon.url + path, data=data, method=method, headers=headers)
    with urllib.request.urlopen(sent, timeout=scaled(10)) as reply:
        return json.loads(reply.read())


def started(daemon: DaemonProcess, name: str) -> bool:
    """Start recording ``name``; False while the recorder is still starting (503)."""
    try:
        request(daemon, "POST", "api/recordings", {"name": name})
    except urllib.error.HTTPError as exc:
        if exc.code == 503:
            return False
        raise
    return True


def samples_written(daemon: DaemonProcess) -> int:
    status = request(daemon, "GET", "api/status")
    return int(status["plugins"].get("recorder", {}).get("samples_written", 0))


async def record_then_kill_9(directory: Path, name: str, samples: int) -> int:
    """A daemon recording ``name`` into ``directory`` killed once it wrote ``samples``
    (its config is ``directory/eegd.toml``); the samples it had written then."""
    config = directory / "eegd.toml"
    config.write_text(f'[recording]\ndirectory = "{directory}"\n')
    daemon = start_daemon_process("--config", str(config))
    try:
        await wait_until(lambda: started(daemon, name))
        await wait_until(lambda: samples_written(daemon) >= samples, timeout=30)
        written = samples_written(daemon)
        daemon.process.send_signal(signal.SIGKILL)
        daemon.process.wait(timeout=scaled(10))
    finally:
        daemon.close_pipes()
    return written


async def test_after_kill_9_the_recording_is_recovered_up_to_the_last_second(
    tmp_path: Path,
) -> None:
    written = await record_then_kill_9(tmp_path, "crashed", 2 * 250)
    meta = json.loads((tmp_path / "crashed.json").read_text())
    assert meta["status"] == "recording"  # as the crash left it

    async with recording_daemon(tmp_path) as live:
        listing = await api(live, "GET", "api/recordings")
        assert recorder_of(live).stats()["recovered"] == 1
    (entry,) = listing["recordings"]
    assert (entry["name"], entry["status"]) == ("crashed", "recovered")
    raw = mne.io.read_raw_bdf(tmp_path / "crashed.bdf", preload=True, verbose="error")
    assert raw.n_times >= written - 250  # at most the last second is lost
    assert raw.n_times == json.loads((tmp_path / "crashed.json").read_text())["samples"]

    source = SyntheticSource(SyntheticSettings(paced=False))
    source.open()
    try:
        first = int(meta["first_sample"])
        block = source.read(first + int(raw.n_times))
    finally:
        source.close()
    expected = block.volts[:, first:].astype(np.float64)
    assert np.max(np.abs(raw.get_data() - expected)) <= LSB_V
