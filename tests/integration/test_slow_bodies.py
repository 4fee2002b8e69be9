"""Request bodies that never come, or stop coming: the connection is closed at its deadline,
waiting connections count against the pending cap, and a peer that goes mid-upload leaves
no traceback; a watching client keeps every frame throughout."""

from __future__ import annotations

import asyncio
import logging
import socket

import aiohttp
import pytest

from tests.support.live import LiveDaemon, live_daemon, watching
from tests.support.timing import scaled
from tests.support.waiting import wait_until

SLOW = "[server]\nheader_timeout_s = 1.0\nbody_timeout_s = 1.0\nmax_pending_connections = 32\n"


def half_a_body(path: str) -> bytes:
    """A request that declares 100 bytes of body and sends 5 of them."""
    return (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        'Content-Length: 100\r\n\r\n{"tok'
    ).encode()


async def connected(live: LiveDaemon, request: bytes) -> socket.socket:
    loop = asyncio.get_running_loop()
    peer = socket.socket()
    peer.setblocking(False)
    await loop.sock_connect(peer, ("127.0.0.1", live.port))
    await loop.sock_sendall(peer, request)
    return peer


async def closed_by_daemon(peer: socket.socket) -> None:
    loop = asyncio.get_running_loop()
    try:
        while await loop.sock_recv(peer, 4096):
            pass
    except ConnectionResetError:
        pass


async def healthy(live: LiveDaemon) -> bool:
    async with aiohttp.ClientSession() as session, session.get(live.url + "healthz") as reply:
        return reply.status == 200


async def test_slow_request_bodies_on_the_public_sign_in_are_cut_off_and_capped() -> None:
    async with live_daemon(SLOW) as live, watching(live) as watcher:
        guard = live.daemon.server.guard
        peers: list[socket.socket] = []
        try:
            for _ in range(120):
                peers.append(await connected(live, half_a_body("/api/session")))
                assert guard.stats.pending <= 32
            assert await healthy(live)
            async with asyncio.timeout(scaled(15)):
                await asyncio.gather(*(closed_by_daemon(peer) for peer in peers))
        finally:
            for peer in peers:
                peer.close()
        # Every peer was cut off by a rule of the guard. Which rule depends on the machine's
        # speed: on a loaded one, a peer's 1 s deadline can pass (its headers unread, or its
        # body) before 32 newer peers push it out, so the cap is checked on every connect.
        stats = guard.stats
        assert stats.timed_out + stats.body_timed_out + stats.evicted >= 120
        assert stats.evicted >= 1
        assert stats.body_timed_out >= 1
        await watcher.wait_frames(4)
        watcher.assert_contiguous()


@pytest.mark.parametrize("path", ["/api/session", "/api/filter"])
async def test_an_upload_the_peer_abandons_logs_no_traceback(
    path: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    async with live_daemon(stepped=True) as live:
        guard = live.daemon.server.guard
        for reset in (False, True):
            peer = await connected(live, half_a_body(path))
            await wait_until(lambda: guard.stats.pending == 1, timeout=10)
            if reset:  # an RST instead of a FIN
                peer.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\0\0\0\0\0\0\0")
            peer.close()
            await wait_until(lambda: guard.stats.pending == 0, timeout=10)
            assert await healthy(live)  # one more round trip: the handler has seen the close
    loud = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert loud == [], [r.getMessage() for r in loud]
    assert not any(r.exc_info for r in caplog.records)
