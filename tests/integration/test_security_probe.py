"""What a hostile probe of the security layer found, kept as regressions: each test is an
attack that once worked against a running daemon, and the refusal it now gets.

Every test runs the daemon in-process; where a refusal could cost others their stream, a
``Watcher`` on another connection must keep every frame.
"""

from __future__ import annotations

import asyncio
import json
import logging
import socket
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from eegd.config import load_config
from eegd.net.security.tokens import hash_token, new_token
from tests.integration.test_origins import config
from tests.support.guarded import error_of, refusing
from tests.support.live import LiveDaemon
from tests.support.timing import scaled

OPERATOR = new_token()
FORGED = "2026-12-02 06:00:00,000 INFO eegd.audit: PUT /api/source by operator (token): accepted"


def with_operator_token(tmp_path: Path) -> str:
    return config(tmp_path, f'[auth]\noperator_token_hashes = ["{hash_token(OPERATOR)}"]\n')


def reload(live: LiveDaemon, tmp_path: Path, toml: str) -> None:
    """What SIGHUP does after ``toml`` was written to the config file."""
    path = tmp_path / "reloaded.toml"
    path.write_text(toml)
    live.daemon.reload(load_config(path, {"server.port": ("--port", 0)}))


async def answer_of(ws: aiohttp.ClientWebSocketResponse) -> dict[str, Any]:
    """The ``done`` or ``error`` reply to a command, past hellos and system events."""
    while True:
        reply: dict[str, Any] = await ws.receive_json(timeout=scaled(10))
        if reply["type"] in ("done", "error"):
            return reply


async def test_no_request_can_write_a_log_line_of_its_own(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A line break in a path (``%0A``) or a body once started a forged line of the log:
    the wrong-token warning wrote the decoded path, the audit line the raw body."""
    caplog.set_level(logging.INFO)
    async with refusing(with_operator_token(tmp_path)) as guarded:
        live, session = guarded.live, guarded.session
        forged_path = "api/status%0A" + FORGED.replace(" ", "%20")
        async with session.get(
            live.url + forged_path, headers={"Authorization": "Bearer wrong"}
        ) as response:
            assert response.status == 401
            assert (await error_of(response))["code"] == "bad_token"
        body = '{"notch_hz":\n"' + FORGED + '"}'
        async with session.put(
            live.url + "api/filter",
            data=body,
            headers={"Authorization": f"Bearer {OPERATOR}", "Content-Type": "application/json"},
        ) as response:
            assert response.status == 400
    lines = [record.getMessage() for record in caplog.records]
    warned = [line for line in lines if "wrong or revoked token" in line]
    audited = [line for line in lines if line.startswith("PUT /api/filter by operator")]
    assert len(warned) == 1, lines
    assert len(audited) == 1, lines
    for line in warned + audited:
        assert "\n" not in line
        assert "\\n" in line  # the break is still there to read, as an escape


async def test_connections_opened_without_tokens_lose_the_operator_role_once_one_exists(
    tmp_path: Path,
) -> None:
    """A WebSocket opened while no operator token was configured (anyone may change
    everything) kept that role after ``[auth]`` gained a token and SIGHUP reloaded it: the
    connection an intruder opened in time could still record, mark and switch the source."""
    async with refusing(config(tmp_path)) as guarded:
        live, session = guarded.live, guarded.session
        ws = await session.ws_connect(live.ws_url + "ws")
        command = await session.ws_connect(live.ws_url + "command")
        legacy_config = await session.ws_connect(live.ws_url + "config")
        await command.receive_json(timeout=scaled(10))
        await legacy_config.receive_json(timeout=scaled(10))
        reload(live, tmp_path, with_operator_token(tmp_path))
        await ws.send_json({"type": "marker", "label": "after the token"})
        refused = await answer_of(ws)
        assert refused.get("code") == "forbidden", refused
        assert "needs the operator role" in refused["message"]
        await command.send_json({"command": "set_powerline_filter", "value": 60})
        answer = await command.receive_json(timeout=scaled(10))
        assert answer["status"] == "error"
        assert "needs the operator role" in answer["message"]
        await legacy_config.send_str(json.dumps({"powerline_filter_hz": 60}))
        answer = await legacy_config.receive_json(timeout=scaled(10))
        assert answer["status"] == "error"
        assert "needs the operator role" in answer["message"]
        for connection in (ws, command, legacy_config):
            await connection.close()


def raw_handshake(port: int, path: str, headers: str) -> tuple[int, dict[str, Any]]:
    """Send a WebSocket handshake with exactly ``headers`` (bytes a library would not send);
    the status and the JSON error of the refusal."""
    with socket.create_connection(("127.0.0.1", port), timeout=scaled(10)) as sock:
        sock.sendall(
            f"GET {path} HTTP/1.1\r\n{headers}Connection: Upgrade\r\n"
            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
            "Connection: close\r\n\r\n".encode()
        )
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    head, _, body = received.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    return status, json.loads(body) if status != 101 else {}


@pytest.mark.parametrize(
    ("headers", "status", "code"),
    [
        # aiohttp upgrades on "websocket" with any whitespace around it; the gate once
        # took it for no upgrade at all and skipped the Origin check.
        (
            "Host: 127.0.0.1\r\nUpgrade: websocket\u00a0\r\nOrigin: http://evil.test\r\n",
            403,
            "forbidden_origin",
        ),
        # Userinfo in Host: the Host check read 127.0.0.1, the Origin check evil.test.
        (
            "Host: 127.0.0.1:80@evil.test\r\nUpgrade: websocket\r\nOrigin: http://evil.test\r\n",
            421,
            "misdirected_request",
        ),
    ],
)
async def test_a_handshake_the_checks_would_read_two_ways_is_refused(
    tmp_path: Path, headers: str, status: int, code: str
) -> None:
    async with refusing(config(tmp_path)) as guarded:
        for path in ("/ws", "/command", "/config"):
            refused = await asyncio.to_thread(raw_handshake, guarded.live.port, path, headers)
            assert refused[0] == status, (path, refused)
            assert refused[1]["code"] == code


async def test_another_sites_page_cannot_use_up_the_kiosks_sign_in_attempts(
    tmp_path: Path,
) -> None:
    """With ``auth.query_tokens``, a hostile page open in the kiosk's own browser could put
    ``<img src="http://127.0.0.1:8080/api/status?token=wrong">`` on itself a few times: each
    wrong token counted against 127.0.0.1, and the kiosk's sign-in with the right token got
    429. A URL token from another site's page is now refused unread."""
    toml = with_operator_token(tmp_path) + "query_tokens = true\n"
    async with refusing(toml) as guarded:
        live, session = guarded.live, guarded.session
        burst = live.daemon.server.gate.failures.burst
        from_elsewhere = {"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Dest": "image"}
        for _ in range(burst + 1):
            async with session.get(
                live.url + "api/status?token=wrong", headers=from_elsewhere
            ) as response:
                assert response.status == 403
                error = await error_of(response)
                assert error["code"] == "cross_origin"
                assert "another site's page" in error["message"]
        async with session.post(live.url + "api/session", json={"token": OPERATOR}) as response:
            assert response.status == 200, await response.text()
        async with session.get(live.url + f"api/status?token={OPERATOR}") as response:
            assert response.status == 200  # the daemon's own pages and scripts still may
