"""What a hostile probe of the security layer found, kept as regressions: each test is an
attack that once worked against a running daemon, and the refusal it now gets.

Every test runs the daemon in-process; where a refusal could cost others their stream, a
``Watcher`` on another connection must keep every frame.
"""

from __future__ import annotations

import logging
from pathlib import Path

import aiohttp
import pytest

from eegd.net.tokens import hash_token, new_token
from tests.integration.test_origins import config, error_of
from tests.support.live import live_daemon, watching

OPERATOR = new_token()
FORGED = "2026-12-02 06:00:00,000 INFO eegd.audit: PUT /api/source by operator (token): accepted"


def with_operator_token(tmp_path: Path) -> str:
    return config(tmp_path, f'[auth]\noperator_token_hashes = ["{hash_token(OPERATOR)}"]\n')


async def test_no_request_can_write_a_log_line_of_its_own(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A line break in a path (``%0A``) or a body once started a forged line of the log:
    the wrong-token warning wrote the decoded path, the audit line the raw body."""
    caplog.set_level(logging.INFO)
    async with (
        live_daemon(with_operator_token(tmp_path), stepped=True) as live,
        watching(live) as watcher,
        aiohttp.ClientSession() as session,
    ):
        await watcher.wait_frame(await live.release(1))
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
        await watcher.wait_frame(await live.release(2))
        watcher.assert_contiguous()
    lines = [record.getMessage() for record in caplog.records]
    warned = [line for line in lines if "wrong or revoked token" in line]
    audited = [line for line in lines if line.startswith("PUT /api/filter by operator")]
    assert len(warned) == 1, lines
    assert len(audited) == 1, lines
    for line in warned + audited:
        assert "\n" not in line
        assert "\\n" in line  # the break is still there to read, as an escape
