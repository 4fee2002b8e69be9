"""Tokens on a running daemon: missing, wrong and revoked ones, a viewer asking for changes on
every route and message, the kiosk's sign-in cookie and a flood of wrong sign-ins.

Each test has a ``Watcher`` (with a viewer token) on another connection, which must keep
every frame while the refused requests come and go.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import aiohttp
import pytest

import eegd.client
from eegd.config import load_config
from eegd.net.protocol import EegFrame
from eegd.net.security.roles import Role
from eegd.net.security.tokens import hash_token, new_token
from tests.support.guarded import error_of, refusing
from tests.support.live import LiveDaemon, live_daemon, next_released, watching
from tests.support.routes import route_table
from tests.support.timing import scaled

OPERATOR = new_token()
VIEWER = new_token()
OLD = new_token()


def auth_config(tmp_path: Path, operators: tuple[str, ...] = (OPERATOR, OLD)) -> str:
    hashes = ", ".join(f'"{hash_token(token)}"' for token in operators)
    return (
        'plugins = ["voltage_filter", "brain_waves", "recorder"]\n'
        f'[recording]\ndirectory = "{tmp_path}"\n'
        f"[auth]\noperator_token_hashes = [{hashes}]\n"
        f'viewer_token_hashes = ["{hash_token(VIEWER)}"]\n'
    )


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def handshake_status(live: LiveDaemon, headers: dict[str, str]) -> int:
    async with aiohttp.ClientSession() as session:
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await session.ws_connect(live.ws_url + "ws", headers=headers)
    return refused.value.status


async def reply_of(ws: aiohttp.ClientWebSocketResponse, kind: str) -> dict[str, Any]:
    while True:
        message = await ws.receive(timeout=scaled(10))
        assert message.type is aiohttp.WSMsgType.TEXT, message
        reply: dict[str, Any] = json.loads(message.data)
        if reply["type"] == kind:
            return reply


OPERATOR_MESSAGES = [
    {"type": "record", "action": "start", "name": "by-viewer"},
    {"type": "record", "action": "stop"},
    {"type": "marker", "label": "by-viewer"},
]


async def test_missing_wrong_and_revoked_tokens_are_refused(tmp_path: Path) -> None:
    async with (
        refusing(auth_config(tmp_path), bearer(VIEWER)) as guarded,
        aiohttp.ClientSession() as anonymous,
    ):
        live = guarded.live
        for method, path in [("GET", "api/status"), ("PUT", "api/filter")]:
            async with anonymous.request(method, live.url + path, json={}) as response:
                assert response.status == 401
                assert (await error_of(response))["code"] == "unauthorized"
                assert "Bearer" in response.headers["WWW-Authenticate"]
            async with anonymous.request(
                method, live.url + path, json={}, headers=bearer("not-a-token")
            ) as response:
                assert response.status == 401
                assert (await error_of(response))["code"] == "bad_token"
        assert await handshake_status(live, {}) == 401
        assert await handshake_status(live, bearer("not-a-token")) == 401
        # The kiosk's page and its sign-in are public: without them no one could sign in.
        for path in ("", "kiosk/app.js", "api/session", "healthz"):
            async with anonymous.get(live.url + path) as response:
                assert response.status == 200, path
        # A token that works, a session and a connection of it, and then it is revoked.
        async with anonymous.put(
            live.url + "api/filter", json={"notch_hz": 60}, headers=bearer(OLD)
        ) as response:
            assert response.status == 200
        async with anonymous.post(live.url + "api/session", json={"token": OLD}) as signed:
            assert signed.status == 200
            cookie = {"Cookie": f"eegd_session={signed.cookies['eegd_session'].value}"}
        old_ws = await anonymous.ws_connect(live.ws_url + "ws", headers=bearer(OLD))
        await guarded.remember()
        path = tmp_path / "revoked.toml"
        path.write_text(auth_config(tmp_path, operators=(OPERATOR,)))
        live.daemon.reload(load_config(path, {"server.port": ("--port", 0)}))
        for headers in (bearer(OLD), cookie):
            async with anonymous.put(
                live.url + "api/filter", json={"notch_hz": 50}, headers=headers
            ) as response:
                assert response.status == 401, headers
        await old_ws.send_json({"type": "marker", "label": "revoked"})
        refused = await reply_of(old_ws, "error")
        assert refused["code"] == "forbidden"
        assert "revoked" in refused["message"]
        await old_ws.close()


async def test_a_viewer_may_change_nothing_on_any_route_or_message(tmp_path: Path) -> None:
    async with refusing(auth_config(tmp_path), bearer(VIEWER)) as guarded:
        live, viewer = guarded.live, guarded.session
        server = live.daemon.server
        changes = [
            use
            for use in route_table(live)
            if server.role_of(use.method, use.routed) is Role.OPERATOR
        ]
        assert {(use.method, use.routed) for use in changes} >= {
            ("PUT", "/api/filter"),
            ("PUT", "/api/source"),
            ("POST", "/api/recordings"),
            ("POST", "/api/recordings/current/stop"),
            ("DELETE", "/api/recordings/{name}"),
            ("POST", "/api/markers"),
            ("POST", "/api/selftest"),
        }
        for use in changes:
            url = live.url.rstrip("/") + use.path
            async with viewer.request(use.method, url, json={"notch_hz": 60}) as response:
                assert response.status == 403, use
                error = await error_of(response)
                assert error["code"] == "forbidden"
                assert "needs the operator role" in error["message"]
        async with viewer.ws_connect(live.ws_url + "ws") as ws:
            for message in OPERATOR_MESSAGES:
                await ws.send_json(message)
                refused = await reply_of(ws, "error")
                assert refused["code"] == "forbidden", message
                assert "needs the operator role" in refused["message"]
            await ws.send_json({"type": "subscribe", "topics": ["fft"]})
            assert (await reply_of(ws, "subscribed"))["topics"] == ["fft"]
        async with viewer.put(
            live.url + "api/filter", json={"notch_hz": 60}, headers=bearer(OPERATOR)
        ) as response:
            assert response.status == 200
        await guarded.remember()


async def test_sign_in_sets_a_strict_http_only_session_cookie(tmp_path: Path) -> None:
    async with (
        live_daemon(auth_config(tmp_path), stepped=True) as live,
        aiohttp.ClientSession() as session,
    ):
        async with session.get(live.url + "api/session") as response:
            assert await response.json() == {
                "role": "public",
                "via": "anonymous",
                "sign_in": True,
                "viewer_token": True,
                "session_ttl_s": 43200.0,
            }
        async with session.post(live.url + "api/session", json={"token": OPERATOR}) as response:
            assert response.status == 200
            assert (await response.json())["role"] == "operator"
            set_cookie = response.headers["Set-Cookie"]
            session_id = response.cookies["eegd_session"].value
        assert "HttpOnly" in set_cookie
        assert "SameSite=Strict" in set_cookie
        assert "Max-Age=43200" in set_cookie
        assert "Secure" not in set_cookie  # plain HTTP; docs/security.md: Secure under TLS
        assert OPERATOR not in set_cookie
        cookie = {"Cookie": f"eegd_session={session_id}"}
        async with session.get(live.url + "api/session", headers=cookie) as response:
            assert (await response.json())["role"] == "operator"
        async with session.put(
            live.url + "api/filter", json={"notch_hz": 60}, headers=cookie
        ) as response:
            assert response.status == 200
        # The cookie is no pass for another site's page.
        foreign = {**cookie, "Origin": "http://evil.test"}
        async with session.put(
            live.url + "api/filter", json={"notch_hz": 50}, headers=foreign
        ) as response:
            assert response.status == 403
        async with session.delete(live.url + "api/session", headers=cookie) as response:
            assert response.status == 200
        async with session.put(
            live.url + "api/filter", json={"notch_hz": 50}, headers=cookie
        ) as response:
            assert response.status == 401


async def test_a_flood_of_wrong_sign_ins_is_limited_and_logged_without_the_tokens(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    wrong = [f"guess-{new_token()}"] * 20
    caplog.set_level(logging.INFO)
    async with (
        live_daemon(auth_config(tmp_path), stepped=True) as live,
        watching(live, headers=bearer(VIEWER)) as watcher,
        aiohttp.ClientSession() as session,
    ):
        await watcher.wait_frame(await live.release(1))
        statuses = []
        for token in wrong:
            async with session.post(live.url + "api/session", json={"token": token}) as response:
                statuses.append(response.status)
                error = await error_of(response)
                assert token not in error["message"]
        burst = live.daemon.server.gate.failures.burst
        assert statuses == [401] * burst + [429] * (len(wrong) - burst)
        async with session.post(live.url + "api/session", json={"token": wrong[0]}) as response:
            assert response.status == 429
            assert int(response.headers["Retry-After"]) >= 1
        async with session.post(live.url + "api/session", json={"token": OPERATOR}) as response:
            assert response.status == 200  # the guesses cost the operator nothing
        await watcher.wait_frame(await live.release(4))
        watcher.assert_contiguous()
    logged = [record.getMessage() for record in caplog.records]
    failures = [line for line in logged if "sign-in from 127.0.0.1" in line]
    assert len(failures) == 1, logged  # aggregated: one line a minute
    for secret in [*wrong, OPERATOR, VIEWER]:
        assert not any(secret in line for line in logged), secret


async def test_the_client_presents_its_token(tmp_path: Path) -> None:
    async with live_daemon(auth_config(tmp_path), stepped=True) as live:
        async with eegd.client.connect(
            live.ws_url + "ws", ["filtered_eeg"], token=VIEWER
        ) as stream:
            frame = await next_released(live, stream, EegFrame)
            assert frame.samples_uv.shape[0] == 8
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            async with eegd.client.connect(live.ws_url + "ws", ["filtered_eeg"]):
                pass
        assert refused.value.status == 401


async def test_tokens_in_the_url_only_when_enabled(tmp_path: Path) -> None:
    for enabled in (False, True):
        toml = auth_config(tmp_path) + f"query_tokens = {str(enabled).lower()}\n"
        async with live_daemon(toml, stepped=True) as live, aiohttp.ClientSession() as session:
            async with session.get(live.url + f"api/status?token={VIEWER}") as response:
                assert response.status == (200 if enabled else 400)
                if not enabled:
                    assert (await error_of(response))["code"] == "query_token_disabled"
            if enabled:
                async with session.ws_connect(live.ws_url + f"ws?token={VIEWER}") as ws:
                    assert (await reply_of(ws, "hello"))["sample_rate"] == 250
            else:
                with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
                    await session.ws_connect(live.ws_url + f"ws?token={VIEWER}")
                assert refused.value.status == 400


async def test_a_loopback_guesser_never_locks_out_the_operator_or_the_kiosk(
    tmp_path: Path,
) -> None:
    """Everything local comes from 127.0.0.1: one process presenting wrong tokens must not
    cost a valid token anything, on REST, WebSocket upgrades or sign-in."""
    async with (
        live_daemon(auth_config(tmp_path), stepped=True) as live,
        aiohttp.ClientSession() as session,
    ):
        burst = live.daemon.server.gate.failures.burst
        for index in range(3 * burst):
            for token in ("stale-token", f"guess-{index}"):
                async with session.put(
                    live.url + "api/filter", json={"notch_hz": 60}, headers=bearer(token)
                ) as response:
                    assert response.status in (401, 429)
            assert await handshake_status(live, bearer("stale-token")) in (401, 429)
        async with session.put(
            live.url + "api/filter", json={"notch_hz": 60}, headers=bearer(OPERATOR)
        ) as response:
            assert response.status == 200, await response.text()
        async with session.ws_connect(live.ws_url + "ws", headers=bearer(VIEWER)) as ws:
            assert (await reply_of(ws, "hello"))["type"] == "hello"
        async with session.post(live.url + "api/session", json={"token": OPERATOR}) as response:
            assert response.status == 200
        async with session.put(
            live.url + "api/filter", json={"notch_hz": 50}, headers=bearer("stale-token")
        ) as response:
            assert response.status == 429
