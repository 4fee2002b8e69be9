"""The audit trail: every change asked for is a log line and an ``audit`` system event that
says who asked (role, how, address), what, and whether it was carried out."""

from __future__ import annotations

import logging
from pathlib import Path

import aiohttp
import pytest

import eegd.client
from eegd.events import SystemEvent
from eegd.net.security.tokens import hash_token, new_token
from tests.support.live import live_daemon, next_of


async def test_changes_accepted_and_refused_are_logged_and_published(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    operator, viewer = new_token(), new_token()
    toml = (
        f'[recording]\ndirectory = "{tmp_path}"\n'
        f'[auth]\noperator_token_hashes = ["{hash_token(operator)}"]\n'
        f'viewer_token_hashes = ["{hash_token(viewer)}"]\n'
    )
    caplog.set_level(logging.INFO, logger="eegd.audit")
    async with (
        live_daemon(toml, stepped=True) as live,
        eegd.client.connect(live.ws_url + "ws", ["system"], token=viewer) as watcher,
        aiohttp.ClientSession() as session,
    ):

        async def next_audit() -> SystemEvent:
            while True:
                event = await next_of(watcher, SystemEvent)
                if event.kind == "audit":
                    return event

        as_operator = {"Authorization": f"Bearer {operator}"}
        async with session.put(
            live.url + "api/filter", json={"notch_hz": 60}, headers=as_operator
        ) as response:
            assert response.status == 200
        accepted = await next_audit()
        assert dict(accepted.detail) == {
            "action": "PUT /api/filter",
            "role": "operator",
            "via": "token",
            "address": "127.0.0.1",
            "accepted": True,
            "outcome": "200",
            "count": 1,
        }
        async with session.put(
            live.url + "api/filter", json={"notch_hz": 55}, headers=as_operator
        ) as response:
            assert response.status == 400
        invalid = await next_audit()
        assert invalid.detail["accepted"] is False
        assert "notch_hz: 55" in invalid.detail["outcome"]
        as_viewer = {"Authorization": f"Bearer {viewer}"}
        async with session.post(
            live.url + "api/markers", json={"label": "x"}, headers=as_viewer
        ) as response:
            assert response.status == 403
        forbidden = await next_audit()
        async with session.get(live.url + "api/status", headers=as_viewer) as response:
            assert (await response.json())["access"] == {
                "refused": 1,
                "sessions": 0,
                "changes_accepted": 1,
                "changes_refused": 2,
            }
        assert (forbidden.detail["role"], forbidden.detail["accepted"]) == ("viewer", False)
        assert forbidden.detail["action"] == "POST /api/markers"
    lines = [r.getMessage() for r in caplog.records if r.name == "eegd.audit"]
    assert (
        lines[0]
        == 'PUT /api/filter by operator (token) from 127.0.0.1: accepted (200): {"notch_hz": 60}'
    )
    assert lines[1].startswith("PUT /api/filter by operator (token) from 127.0.0.1: refused (400")
    assert lines[2].startswith("POST /api/markers by viewer (token) from 127.0.0.1: refused (403")
    assert [r.levelno for r in caplog.records if r.name == "eegd.audit"][:3] == [
        logging.INFO,
        logging.WARNING,
        logging.WARNING,
    ]
    assert not any(operator in line or viewer in line for line in lines)
