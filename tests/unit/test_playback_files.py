"""The playback allow-list: only regular files inside the configured directories are read,
nothing blocks on a FIFO, and no refusal quotes a byte of the file it refused."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from eegd.errors import ConfigError, SourceError
from eegd.sources.files import allowed_file
from eegd.sources.playback import PlaybackSettings, PlaybackSource
from tests.support.recordings import write_recording
from tests.support.timing import scaled

SECRET = "root:$6$not-a-recording:19000:0:99999:7:::\n"


def played(path: Path | str, *directories: Path) -> PlaybackSource:
    return PlaybackSource(PlaybackSettings(path=Path(path), speed=0, directories=directories))


def refusal(path: Path | str, *directories: Path) -> str:
    with pytest.raises(ConfigError) as caught:
        played(path, *directories)
    return str(caught.value)


def test_a_file_outside_the_directories_is_refused_without_quoting_it(tmp_path: Path) -> None:
    allowed, elsewhere = tmp_path / "data", tmp_path / "etc"
    allowed.mkdir()
    elsewhere.mkdir()
    shadow = elsewhere / "shadow"
    shadow.write_text(SECRET)
    message = refusal(shadow, allowed)
    assert "outside the playback directories" in message
    assert str(allowed) in message
    assert "root" not in message.replace(str(tmp_path), "")


@pytest.mark.parametrize("content", [SECRET, "0       " + SECRET * 20, "\xffBIOSEMI" + SECRET * 20])
def test_a_file_in_the_directories_that_is_not_edf_is_refused_without_quoting_it(
    tmp_path: Path, content: str
) -> None:
    path = tmp_path / "notes.edf"
    path.write_text(content, encoding="latin-1")
    message = refusal(path, tmp_path)
    assert "not a valid EDF or BDF file" in message or "not an EDF or BDF file" in message
    for word in ("root", "not-a-recording", "99999", "BIOSEMI"):
        assert word not in message.replace(str(tmp_path), "")


def test_a_symbolic_link_out_of_the_directory_is_refused(tmp_path: Path) -> None:
    allowed = tmp_path / "data"
    allowed.mkdir()
    recording = write_recording(tmp_path, "EDF")
    link = allowed / "night.edf"
    link.symlink_to(recording.path)
    assert "outside the playback directories" in refusal(link, allowed)
    assert played(link, tmp_path).channel_names == recording.channel_names


def test_a_fifo_is_refused_at_once_even_with_no_writer(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.edf"
    os.mkfifo(fifo)
    outcome: list[str] = []
    thread = threading.Thread(target=lambda: outcome.append(refusal(fifo, tmp_path)), daemon=True)
    thread.start()
    thread.join(scaled(10))
    if thread.is_alive():  # the open waits for a writer: give it one so the thread ends
        with fifo.open("wb"):
            pass
        thread.join()
        pytest.fail("opening a FIFO blocked until something wrote to it")
    assert "not a regular file" in outcome[0]


@pytest.mark.parametrize(
    ("path", "directory"),
    [("/proc/self/environ", "/proc"), ("/proc/self/cmdline", "/"), ("/dev/zero", "/dev")],
)
def test_kernel_views_and_devices_are_refused_even_inside_the_directories(
    path: str, directory: str
) -> None:
    message = refusal(path, Path(directory))
    assert "not a regular file" in message


def test_a_nul_in_the_path_is_refused(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="cannot hold a NUL character"):
        allowed_file("night.edf\0/../../etc/passwd", [tmp_path])


def test_a_relative_path_is_looked_up_in_each_directory_in_turn(tmp_path: Path) -> None:
    first, second = tmp_path / "recordings", tmp_path / "data"
    first.mkdir()
    second.mkdir()
    recording = write_recording(second, "EDF")
    assert allowed_file(recording.path.name, [first, second]) == recording.path.resolve()
    assert "outside the playback directories" in refusal("../" * 10 + "etc/passwd", first)


def test_no_directory_allows_no_file(tmp_path: Path) -> None:
    recording = write_recording(tmp_path, "EDF")
    assert "no playback directory is configured" in refusal(recording.path)
