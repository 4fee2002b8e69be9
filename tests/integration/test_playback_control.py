"""``GET`` and ``PUT /api/playback`` on a daemon in this process, over real HTTP.

Files come from the playback directories only; every change but a pause is a new session
that starts where asked in the file (``start_s``), with nothing counted lost; a pause ends
the session and keeps the place; bad requests are refused naming the key and change nothing.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import pytest_asyncio

from tests.support.live import LiveDaemon, live_daemon, status
from tests.support.recordings import WrittenRecording, write_recording
from tests.support.waiting import wait_until

pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def files(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[Path, WrittenRecording, WrittenRecording]:
    directory = tmp_path_factory.mktemp("playable")
    first = write_recording(
        directory, seconds=20, name="first", annotations=((12.0, -1, "twelve"),)
    )
    second = write_recording(directory, seconds=4, name="second")
    (directory / "notes.txt").write_text("not a recording")
    return directory, first, second


@pytest_asyncio.fixture(loop_scope="module")
async def playing(
    files: tuple[Path, WrittenRecording, WrittenRecording],
) -> AsyncIterator[LiveDaemon]:
    directory, first, _ = files
    toml = (
        f'[source]\nkind = "playback"\n[source.playback]\npath = "{first.path}"\n'
        f'directories = ["{directory}"]\n'
    )
    async with live_daemon(toml) as live:
        yield live


async def playback(live: LiveDaemon, method: str = "GET", body: Any = None) -> tuple[int, Any]:
    async with (
        aiohttp.ClientSession() as session,
        session.request(method, live.url + "api/playback", json=body) as response,
    ):
        return response.status, await response.json()


async def test_the_files_of_the_directories_and_the_state(
    playing: LiveDaemon, files: tuple[Path, WrittenRecording, WrittenRecording]
) -> None:
    code, answer = await playback(playing)
    assert code == 200
    assert [file["name"] for file in answer["files"]] == ["first.edf", "second.edf"]
    state = answer["state"]
    assert state["playing"] is True
    assert state["name"] == "first.edf"
    assert (state["speed"], state["loop"], state["start_s"], state["paused"]) == (
        1.0,
        False,
        0.0,
        False,
    )
    assert state["duration_s"] == pytest.approx(20)
    assert answer["speeds"] == [0.5, 1.0, 2.0, 4.0]


async def test_a_seek_is_a_new_session_that_starts_there_and_loses_nothing(
    playing: LiveDaemon,
) -> None:
    before = playing.daemon.acquisition.session
    assert before is not None
    code, state = await playback(playing, "PUT", {"position_s": 10})
    assert code == 200, state
    after = playing.daemon.acquisition.session
    assert after is not None
    assert after.id != before.id
    assert state["start_s"] == 10
    assert state["session"] == after.id
    await wait_until(
        lambda: (playing.daemon.acquisition.session_ledger() or before).expected > 0, 10
    )
    ledger = (await status(playing))["ledger"]
    assert ledger["session"]["id"] == after.id
    assert ledger["session"]["lost"] == 0
    code, state = await playback(playing)
    assert 10 <= state["state"]["position_s"] < 20


async def test_pause_ends_the_session_and_resume_starts_where_it_stopped(
    playing: LiveDaemon,
) -> None:
    await wait_until(lambda: playing.daemon.acquisition.session_ledger() is not None, 10)
    code, state = await playback(playing, "PUT", {"paused": True})
    assert code == 200, state
    assert state["paused"] is True
    stopped_at = state["position_s"]
    paused_session = playing.daemon.acquisition.session
    frames = playing.frames
    code, again = await playback(playing)
    assert again["state"]["position_s"] == stopped_at
    assert playing.frames == frames  # nothing flows while paused

    code, state = await playback(playing, "PUT", {"paused": False})
    assert code == 200, state
    assert state["paused"] is False
    assert state["start_s"] == pytest.approx(stopped_at, abs=0.001)
    resumed = playing.daemon.acquisition.session
    assert resumed is not None
    assert paused_session is None or resumed.id != paused_session.id


async def test_speed_loop_and_another_file(
    playing: LiveDaemon, files: tuple[Path, WrittenRecording, WrittenRecording]
) -> None:
    code, state = await playback(playing, "PUT", {"speed": 2, "loop": True})
    assert code == 200, state
    assert (state["speed"], state["loop"]) == (2.0, True)
    second = files[2]
    code, state = await playback(playing, "PUT", {"path": str(second.path)})
    assert code == 200, state
    assert state["name"] == "second.edf"
    assert state["start_s"] == 0
    assert state["speed"] == 2.0  # kept


@pytest.mark.parametrize(
    ("body", "code", "message"),
    [
        ({"speed": 8}, 400, r"^playback\.speed: 8 is not allowed \(allowed: 0\.5\.\.4\)"),
        ({"speed": "fast"}, 400, r"^playback\.speed: 'fast'"),
        ({"loop": "yes"}, 400, r"^playback\.loop: 'yes'"),
        ({"position_s": -1}, 400, r"^playback\.position_s: -1"),
        ({"position_s": 25}, 400, r"start_s: 25 is not before the end"),
        ({"volume": 3}, 400, r"^playback\.volume: unknown key"),
        ({"path": "/etc/passwd"}, 400, r"outside the playback directories"),
        ({"directories": ["/"]}, 400, r"^playback\.directories: unknown key"),
    ],
)
async def test_bad_requests_are_refused_and_change_nothing(
    playing: LiveDaemon, body: dict[str, Any], code: int, message: str
) -> None:
    session = playing.daemon.acquisition.session
    got, answer = await playback(playing, "PUT", body)
    assert got == code, answer
    assert answer["type"] == "error"
    assert re.search(message, answer["message"]), answer["message"]
    assert playing.daemon.acquisition.session is session


async def test_nothing_playing_is_a_409_until_a_file_is_chosen(
    files: tuple[Path, WrittenRecording, WrittenRecording],
) -> None:
    directory, first, _ = files
    async with live_daemon(f'[source.playback]\ndirectories = ["{directory}"]\n') as live:
        code, answer = await playback(live, "PUT", {"paused": True})
        assert code == 409, answer
        code, state = await playback(live, "PUT", {"path": str(first.path)})
        assert code == 200, state
        assert state["playing"] is True
