"""The old daemon's ``/command`` and ``/config`` WebSockets, spoken as an old kiosk build does.

The old kiosk was served from another port (its own web server), so its origin is listed in
``server.allowed_origins``. A ``Watcher`` on ``/ws/filtered_eeg`` must keep streaming throughout.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aiohttp

from eegd.net.security.tokens import hash_token, new_token
from tests.support.live import LiveDaemon, live_daemon, release_for_stop, watching
from tests.support.timing import scaled

OLD_KIOSK = "http://localhost:3000"


def config(tmp_path: Path, extra: str = "") -> str:
    return (
        f'[recording]\ndirectory = "{tmp_path}"\n'
        f'[server]\nallowed_origins = ["{OLD_KIOSK}"]\n{extra}'
    )


async def legacy_socket(
    session: aiohttp.ClientSession,
    live: LiveDaemon,
    path: str,
    headers: dict[str, str] | None = None,
) -> aiohttp.ClientWebSocketResponse:
    return await session.ws_connect(
        live.ws_url + path, headers={"Origin": OLD_KIOSK, **(headers or {})}
    )


async def receive(ws: aiohttp.ClientWebSocketResponse) -> dict[str, Any]:
    message = await ws.receive(timeout=scaled(10))
    assert message.type is aiohttp.WSMsgType.TEXT, message
    decoded: dict[str, Any] = json.loads(message.data)
    return decoded


async def answer(ws: aiohttp.ClientWebSocketResponse, sent: Any) -> dict[str, Any]:
    """Send ``sent`` (an object, or text as it is) and return the reply, skipping the
    configurations ``/config`` pushes meanwhile."""
    if isinstance(sent, str):
        await ws.send_str(sent)
    else:
        await ws.send_json(sent)
    while True:
        got = await receive(ws)
        if "status" in got:
            return got


async def test_command_starts_and_stops_recording_and_sets_the_notch(tmp_path: Path) -> None:
    async with (
        live_daemon(config(tmp_path), stepped=True) as live,
        watching(live) as watcher,
        aiohttp.ClientSession() as session,
    ):
        await watcher.wait_frame(await live.release(1))
        ws = await legacy_socket(session, live, "command")
        assert await receive(ws) == {"status": "ok", "message": "Not recording"}
        notch = await answer(ws, {"command": "set_powerline_filter", "value": 60})
        assert notch == {"status": "ok", "message": "Powerline filter 60 Hz"}
        async with session.get(live.url + "api/filter") as response:
            assert (await response.json())["notch_hz"] == 60
        off = await answer(ws, {"command": "set_powerline_filter", "value": None})
        assert off == {"status": "ok", "message": "Powerline filter off"}
        async with session.get(live.url + "api/filter") as response:
            assert not (await response.json())["notch_hz"]
        assert await answer(ws, {"command": "set_powerline_filter", "value": 55}) == {
            "status": "error",
            "message": "Invalid powerline filter value",
        }
        await ws.send_json({"command": "start"})
        # The reply first, then the state pushed as the recording starts: the same.
        started, pushed = await receive(ws), await receive(ws)
        assert started == pushed
        assert started["status"] == "ok"
        assert started["message"].startswith("Currently recording to ")
        name = started["message"].removeprefix("Currently recording to ")
        await watcher.wait_frame(await live.release(2))
        status = await answer(ws, {"command": "status"})
        assert status == {"status": "ok", "message": f"Currently recording to {name}"}
        again = await answer(ws, {"command": "start"})
        assert again["status"] == "error"
        assert again["message"].startswith("Failed to start recording: ")
        # As the old daemon did: no change of configuration while recording.
        refused = await answer(ws, {"command": "set_powerline_filter", "value": 50})
        assert refused == {
            "status": "error",
            "message": "Cannot change configuration during recording",
        }
        configured = await legacy_socket(session, live, "config")
        await receive(configured)
        for change in ({"sample_rate": 500}, {"channels": list(range(8))}, {}):
            assert await answer(configured, change) == {
                "status": "error",
                "message": "Cannot change configuration during recording",
            }
        await configured.close()
        async with session.get(live.url + "api/filter") as response:
            assert not (await response.json())["notch_hz"]
        for bad in (
            {"command": "set_powerline_filter", "value": "60"},
            {"command": "fly"},
            {"command": "start", "colour": 1},
            "not json",
        ):
            refused = await answer(ws, bad)
            assert refused["status"] == "error", bad
            assert refused["message"].startswith("Invalid command format: "), refused
            assert '"set_powerline_filter", "value": 50 | 60 | null' in refused["message"]
        await ws.send_bytes(b'{"command": "stop"}')  # only text is read
        refused = await receive(ws)
        assert refused["status"] == "error"
        assert refused["message"].startswith("Invalid command format: send ")
        await ws.send_json({"command": "stop"})
        await release_for_stop(live)
        assert await receive(ws) == {"status": "ok", "message": f"Recording stopped ({name})"}
        assert await receive(ws) == {"status": "ok", "message": "Not recording"}
        await ws.close()
        await watcher.wait_frame(await live.release(4))
        watcher.assert_contiguous()
    assert (tmp_path / f"{name}.bdf").is_file()


async def test_config_sends_the_configuration_and_switches_the_source(tmp_path: Path) -> None:
    async with (
        live_daemon(config(tmp_path)) as live,
        watching(live) as watcher,
        aiohttp.ClientSession() as session,
    ):
        ws = await legacy_socket(session, live, "config")
        first = await receive(ws)
        assert first == {
            "sample_rate": 250,
            "channels": list(range(8)),
            "gain": 1.0,
            "board_driver": "synthetic",
            "batch_size": 32,
            "powerline_filter_hz": 50,
        }
        same = await answer(ws, {"channels": list(range(8)), "sample_rate": 250})
        assert same == {"status": "ok", "message": "Configuration unchanged"}
        for bad, words in [
            ({"channels": []}, "Channel list cannot be empty"),
            ({"channels": [1, 3]}, "send [0, 1, ..., n-1]"),
            ({"channels": list(range(33))}, "source.channels: 33 is out of range"),
            ({"sample_rate": 333}, "source.sample_rate: 333 is not allowed"),
            ({"colour": 1}, "Invalid config format: "),
            ({"command": "get_config"}, "Invalid config format: "),
            ({"sample_rate": "fast"}, "Invalid config format: "),
        ]:
            refused = await answer(ws, bad)
            assert refused["status"] == "error", bad
            assert words in refused["message"], refused
        # Refused changes changed nothing: the same session, nothing pushed.
        assert live.daemon.acquisition.stats().sessions == 1
        submitted = await answer(
            ws, {"channels": [0, 1, 2, 3], "sample_rate": 500, "powerline_filter_hz": 60}
        )
        assert submitted == {"status": "ok", "message": "Config update submitted"}
        # The first configuration pushed after the reply is already the new one.
        assert await receive(ws) == {
            **first,
            "sample_rate": 500,
            "channels": [0, 1, 2, 3],
            "powerline_filter_hz": 60,
        }
        await ws.close()
        await watcher.wait_frames(3)


async def test_a_rate_the_board_does_not_have_is_refused_and_changes_nothing(
    tmp_path: Path,
) -> None:
    brainflow = '[source]\nkind = "brainflow"\n[source.brainflow]\nboard = "synthetic"\n'
    async with (
        live_daemon(config(tmp_path, "") + brainflow) as live,
        aiohttp.ClientSession() as session,
    ):
        ws = await legacy_socket(session, live, "config")
        first = await receive(ws)
        assert (first["board_driver"], first["sample_rate"]) == ("brainflow", 250)
        refused = await answer(ws, {"sample_rate": 500})
        assert refused["status"] == "error"
        assert "500 is not the synthetic board's rate" in refused["message"]
        assert live.daemon.acquisition.stats().sessions == 1
        assert await answer(ws, {"sample_rate": 250}) == {
            "status": "ok",
            "message": "Configuration unchanged",
        }
        await ws.close()


async def test_no_compression_and_binary_messages_count_against_the_rate_limit(
    tmp_path: Path,
) -> None:
    async with (
        live_daemon(config(tmp_path), stepped=True) as live,
        aiohttp.ClientSession() as session,
    ):
        for path in ("command", "config"):
            ws = await session.ws_connect(
                live.ws_url + path, headers={"Origin": OLD_KIOSK}, compress=15
            )
            assert ws.compress == 0, path  # permessage-deflate offered, not taken
            await receive(ws)
            for _ in range(400):
                await ws.send_bytes(b"x")
            while (message := await ws.receive(timeout=scaled(10))).type is aiohttp.WSMsgType.TEXT:
                assert json.loads(message.data)["status"] == "error"
            assert message.type is aiohttp.WSMsgType.CLOSE, message
            assert ws.close_code == aiohttp.WSCloseCode.POLICY_VIOLATION


async def test_a_viewer_may_ask_the_status_but_change_nothing(tmp_path: Path) -> None:
    viewer, operator = new_token(), new_token()
    tokens = (
        f'[auth]\noperator_token_hashes = ["{hash_token(operator)}"]\n'
        f'viewer_token_hashes = ["{hash_token(viewer)}"]\n'
    )
    as_viewer = {"Authorization": f"Bearer {viewer}"}
    async with (
        live_daemon(config(tmp_path, tokens), stepped=True) as live,
        watching(live, headers=as_viewer) as watcher,
        aiohttp.ClientSession() as session,
    ):
        await watcher.wait_frame(await live.release(1))
        command = await legacy_socket(session, live, "command", as_viewer)
        assert await receive(command) == {"status": "ok", "message": "Not recording"}
        for sent in (
            {"command": "start"},
            {"command": "stop"},
            {"command": "set_powerline_filter", "value": 60},
        ):
            refused = await answer(command, sent)
            assert refused["status"] == "error", sent
            assert "needs the operator role" in refused["message"]
        assert await answer(command, {"command": "status"}) == {
            "status": "ok",
            "message": "Not recording",
        }
        configured = await legacy_socket(session, live, "config", as_viewer)
        assert (await receive(configured))["sample_rate"] == 250
        refused = await answer(configured, {"sample_rate": 500})
        assert refused["status"] == "error"
        assert "needs the operator role" in refused["message"]
        for ws in (command, configured):
            await ws.close()
        async with session.get(live.url + "api/filter", headers=as_viewer) as response:
            assert (await response.json())["notch_hz"] == 50
        await watcher.wait_frame(await live.release(4))
        watcher.assert_contiguous()


async def test_a_switch_made_elsewhere_is_pushed_once_with_the_new_configuration(
    tmp_path: Path,
) -> None:
    async with live_daemon(config(tmp_path)) as live, aiohttp.ClientSession() as session:
        ws = await legacy_socket(session, live, "config")
        first = await receive(ws)
        change = {"sample_rate": 500, "channels": 4}
        async with session.put(live.url + "api/source", json=change) as response:
            assert response.status == 200, await response.text()
        # config_changed comes before the new session opens: the first push is the new one.
        assert await receive(ws) == {**first, "sample_rate": 500, "channels": [0, 1, 2, 3]}
        async with session.put(live.url + "api/filter", json={"notch_hz": 60}) as response:
            assert response.status == 200, await response.text()
        assert (await receive(ws))["powerline_filter_hz"] == 60
        await ws.close()
