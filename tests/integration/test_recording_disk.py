"""The recording directory when it cannot be used: a full disk at start, a directory that
cannot be made, a disk that fills while recording. The recorder never crash-loops, says why
in its degraded state and its replies, answers the list without a 500, and leaves sidecars
that tell the truth and no ``.json.tmp`` behind (``test_recording_faults``: a disk that
fills while recording)."""

from __future__ import annotations

import json
from pathlib import Path

from eegd.events import SystemEvent, SystemEventKind
from tests.integration.test_recording import recorder_of, recording_daemon
from tests.integration.test_recording_faults import tiny_disk
from tests.support.live import stop_recording
from tests.support.rest import api
from tests.support.waiting import wait_until


def fill(disk: Path) -> None:
    """Write into ``disk`` until it has no space left."""
    with (disk / "ballast").open("wb", buffering=0) as ballast:
        try:
            while True:
                ballast.write(b"\0" * 4096)
        except OSError:
            pass


def unfinished(disk: Path) -> None:
    """An unfinished recording of an earlier run, as a crash leaves it, for recovery."""
    (disk / "old.csv").write_text("timestamp_us,frame_id,sample,Fp1\n1,0,0,1.0\n")
    sidecar = {"name": "old", "recording": "old", "part": 1, "format": "csv"}
    sidecar |= {"file": "old.csv", "status": "recording", "sample_rate": 250, "channels": ["Fp1"]}
    (disk / "old.json").write_text(json.dumps(sidecar, indent=1))


async def test_a_full_disk_at_start_is_a_degraded_recorder_not_a_crash_loop(
    tmp_path: Path,
) -> None:
    with tiny_disk(tmp_path / "disk") as disk:
        unfinished(disk)
        fill(disk)
        async with recording_daemon(disk, "csv") as live:
            status = live.daemon.supervisor.status("recorder")
            assert status.failures == 0
            degraded = [d for d in live.daemon.report.degraded() if d["task"] == "recorder"]
            assert len(degraded) == 1
            assert str(disk) in degraded[0]["error"]
            refused = await api(live, "POST", "api/recordings", {"name": "new"}, status=503)
            assert refused["code"] == "directory_unusable"
            assert "No space left on device" in refused["message"]
            listed = await api(live, "GET", "api/recordings")
            assert [entry["name"] for entry in listed["recordings"]] == ["old"]
            (disk / "ballast").unlink()  # space again: the next start heals it
            started = await api(live, "POST", "api/recordings", {"name": "new"})
            assert started["status"] == "recording"
            assert not [d for d in live.daemon.report.degraded() if d["task"] == "recorder"]
            await stop_recording(live)
        assert live.daemon.supervisor.status("recorder").failures == 0


async def test_a_recording_directory_that_cannot_be_made_is_degraded_not_a_crash_loop(
    tmp_path: Path,
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    async with recording_daemon(blocker / "recordings") as live:
        assert live.daemon.supervisor.status("recorder").failures == 0
        refused = await api(live, "POST", "api/recordings", {}, status=503)
        assert refused["code"] == "directory_unusable"
        assert "recordings" in refused["message"]
        await api(live, "GET", "api/recordings", status=503)


async def test_the_recordings_list_is_never_a_500_while_the_recorder_restarts(
    tmp_path: Path,
) -> None:
    """The instance of a stopped recorder stays the daemon's until its next start; asking it
    for the list was a 500 (its writer thread was gone)."""
    async with recording_daemon(tmp_path) as live:
        async with live.daemon.supervisor.paused("recorder"):
            refused = await api(live, "GET", "api/recordings", status=503)
            assert refused["code"] == "not_ready"
        await wait_until(lambda: recorder_of(live).ready)
        await api(live, "GET", "api/recordings")


async def test_a_recording_is_refused_while_a_self_test_has_the_source(tmp_path: Path) -> None:
    async with recording_daemon(tmp_path) as live:
        recorder = recorder_of(live)
        bus = live.daemon.bus
        bus.publish(SystemEvent.now(SystemEventKind.SELFTEST_STARTED, source="ads1299"))
        await wait_until(lambda: recorder.selftest_running)
        refused = await api(live, "POST", "api/recordings", {"name": "during"}, status=409)
        assert refused["code"] == "selftest_running"
        bus.publish(SystemEvent.now(SystemEventKind.SELFTEST_FINISHED, passed=True))
        await wait_until(lambda: not recorder.selftest_running)
        await api(live, "POST", "api/recordings", {"name": "after"})
        await stop_recording(live)
