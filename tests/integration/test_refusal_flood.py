"""A flood of refused requests against a live daemon: one log line and one ``audit`` event
per route, address and reason a minute, with the count; a refused WebSocket upgrade says
once which setting would allow it; the watching client keeps every frame."""

from __future__ import annotations

import logging
from pathlib import Path

import aiohttp
import pytest

import eegd.client
from eegd.events import SystemEvent
from eegd.net.security.tokens import hash_token, new_token
from tests.support.live import live_daemon, next_released, watching

OPERATOR = new_token()
VIEWER = new_token()
FLOOD = 300


def tokens(tmp_path: Path) -> str:
    return (
        f'[recording]\ndirectory = "{tmp_path}"\n'
        f'[auth]\noperator_token_hashes = ["{hash_token(OPERATOR)}"]\n'
        f'viewer_token_hashes = ["{hash_token(VIEWER)}"]\n'
    )


async def test_unauthenticated_puts_are_one_log_line_and_one_audit_event(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    async with (
        live_daemon(tokens(tmp_path), stepped=True) as live,
        watching(live, headers={"Authorization": f"Bearer {VIEWER}"}) as watcher,
        eegd.client.connect(live.ws_url + "ws", ["system"], token=VIEWER) as viewer,
        aiohttp.ClientSession() as session,
    ):
        for _ in range(FLOOD):
            async with session.put(live.url + "api/filter", json={"notch_hz": 60}) as response:
                assert response.status == 401
            async with session.put(
                live.url + "api/filter", json={"notch_hz": 60}, headers={"Authorization": "x"}
            ) as response:
                assert response.status == 401
        as_operator = {"Authorization": f"Bearer {OPERATOR}"}
        async with session.put(
            live.url + "api/filter", json={"notch_hz": 60}, headers=as_operator
        ) as response:
            assert response.status == 200
        audits: list[SystemEvent] = []
        while not audits or audits[-1].detail["accepted"] is False:
            event = await next_released(live, viewer, SystemEvent)
            if event.kind == "audit":
                audits.append(event)
        await watcher.wait_frame(await live.release(2))
        watcher.assert_contiguous()
        assert live.daemon.server.auditor.refused == 2 * FLOOD
    assert [(a.detail["accepted"], a.detail["count"]) for a in audits] == [
        (False, 1),
        (False, 1),
        (True, 1),
    ]
    assert {a.detail["outcome"].split()[0] for a in audits[:2]} == {"401"}
    refused = [r for r in caplog.records if r.name == "eegd.audit" and r.levelno >= logging.WARNING]
    assert len(refused) == 2, [r.getMessage() for r in refused]


async def test_a_refused_websocket_upgrade_says_once_which_setting_allows_it(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    async with live_daemon(stepped=True) as live, aiohttp.ClientSession() as session:
        for headers in (
            *[{"Origin": "http://localhost:3000"}] * 20,
            *[{"Host": "kiosk.example:8080"}] * 20,
        ):
            with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
                await session.ws_connect(live.ws_url + "ws/data", headers=headers)
            assert refused.value.status in (403, 421)
    lines = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(lines) == 2, lines
    assert "origin http://localhost:3000" in lines[0]
    assert "server.allowed_origins" in lines[0]
    assert "kiosk.example:8080" in lines[1]
    assert "server.allowed_hosts" in lines[1]


async def test_rest_changes_are_rate_limited_per_address_and_reads_go_on() -> None:
    toml = "[server]\nmax_changes_per_s = 0.05\n"  # a burst of 1, then one per 20 s
    async with live_daemon(toml, stepped=True) as live, aiohttp.ClientSession() as session:
        statuses = []
        for notch in (60, 50, 60):
            async with session.put(live.url + "api/filter", json={"notch_hz": notch}) as reply:
                statuses.append(reply.status)
                if reply.status == 429:
                    error = await reply.json()
                    assert error["code"] == "too_many_changes"
                    assert "server.max_changes_per_s" in error["message"]
                    assert int(reply.headers["Retry-After"]) >= 1
        assert statuses == [200, 429, 429]
        async with session.get(live.url + "api/filter") as reply:
            assert reply.status == 200
            assert (await reply.json())["notch_hz"] == 60
        assert live.daemon.server.auditor.refused == 2


async def test_markers_spend_a_budget_of_their_own_not_the_changes_one() -> None:
    toml = "[server]\nmax_changes_per_s = 0.05\nmax_markers_per_s = 0.05\n"  # bursts of 1
    async with live_daemon(toml, stepped=True) as live, aiohttp.ClientSession() as session:
        async with session.post(live.url + "api/markers", json={"label": "stimulus"}) as reply:
            assert reply.status == 200, await reply.text()
        async with session.put(live.url + "api/filter", json={"notch_hz": 60}) as reply:
            assert reply.status == 200, await reply.text()
        async with session.post(live.url + "api/markers", json={"label": "again"}) as reply:
            assert reply.status == 429
            error = await reply.json()
        assert error["code"] == "too_many_markers"
        assert "server.max_markers_per_s" in error["message"]


async def test_a_burst_of_200_markers_passes_the_default_budget() -> None:
    async with live_daemon("", stepped=True) as live, aiohttp.ClientSession() as session:
        for index in range(200):
            async with session.post(live.url + "api/markers", json={"label": f"m{index}"}) as reply:
                assert reply.status == 200, await reply.text()
        async with session.put(live.url + "api/filter", json={"notch_hz": 60}) as reply:
            assert reply.status == 200, await reply.text()
