"""A recording's time: wall-clock steps in the sidecar, markers at their samples and all in
the file, Stop at the sample of the moment it was asked, a name that exists from the start.

The source runs on a stepped clock (its wall clock on the same virtual time), so the test
decides when each packet's time comes and when the wall clock steps.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import mne
import numpy as np

from tests.integration.test_recording import (
    api,
    published,
    raw_log,
    recorder_of,
    recording_daemon,
)
from tests.support.waiting import wait_until


def sidecar(directory: Path, name: str) -> dict[str, Any]:
    content: dict[str, Any] = json.loads((directory / f"{name}.json").read_text())
    return content


async def test_a_wall_clock_step_is_in_the_sidecar_and_moves_no_stamp(tmp_path: Path) -> None:
    async with recording_daemon(tmp_path) as live:
        assert live.clock is not None
        recorder = recorder_of(live)
        with raw_log(live) as log:
            await api(live, "POST", "api/recordings", {"name": "stepped"})
            await live.release(8)
            live.clock.step_wall_clock(-3_600_000_000)  # NTP sets the time back an hour
            await live.release(8)
            await wait_until(lambda: recorder.stats()["samples_written"] >= 16 * 32)
            await api(live, "POST", "api/recordings/current/stop")
            packets = published(log)
        session = live.daemon.acquisition.session
        assert session is not None
    stamps = np.concatenate([packet.timestamps for packet in packets]).astype(np.int64)
    # 250 Hz on, across the step (the stepped clock lets each packet come a µs late)
    assert np.abs(np.diff(stamps) - 4000).max() <= 1
    meta = sidecar(tmp_path, "stepped")
    (step,) = meta["clock_steps"]
    assert step["step_us"] == -3_600_000_000
    assert step["after_us"] - step["before_us"] == -3_600_000_000
    assert step["session"] == session.id
    assert meta["source"]["utc_offset_us"] == session.utc_offset_us
    raw = mne.io.read_raw_bdf(tmp_path / "stepped.bdf", verbose="error")
    assert raw.n_times == meta["samples"]
