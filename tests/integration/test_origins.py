"""Where requests may come from: DNS rebinding, foreign origins and cross-site forms are refused
on every route of the route table, and every route declares the role it needs.

Each test runs the daemon in-process with a ``Watcher`` on another connection: the refused
peer gets its JSON error, nothing changes, and the watcher keeps every frame.
"""

from __future__ import annotations

import socket
import typing
from pathlib import Path

import aiohttp
import pytest

from eegd.net.protocol import ClientMessage
from eegd.net.security.roles import LEGACY_MESSAGE_ROLES, MESSAGE_ROLES, SERVER_ROUTES
from tests.support.guarded import error_of, refusing
from tests.support.live import live_daemon
from tests.support.routes import route_table

REBINDING = {"Host": "evil.test", "Origin": "http://evil.test"}


def config(tmp_path: Path, extra: str = "") -> str:
    """All the built-in plugins with their routes, recordings in ``tmp_path``."""
    return (
        'plugins = ["voltage_filter", "brain_waves", "recorder"]\n'
        f'[recording]\ndirectory = "{tmp_path}"\n{extra}'
    )


def test_every_route_and_message_declares_its_role() -> None:
    tags = {kind.__struct_config__.tag for kind in typing.get_args(ClientMessage)}
    assert tags == set(MESSAGE_ROLES)
    assert set(LEGACY_MESSAGE_ROLES) >= {"start", "stop", "status", "set_powerline_filter"}


async def test_the_route_table_is_complete(tmp_path: Path) -> None:
    async with live_daemon(config(tmp_path), stepped=True) as live:
        uses = route_table(live)
        undeclared = [
            (use.method, use.routed)
            for use in uses
            if live.daemon.server.role_of(use.method, use.routed) is None
        ]
        assert not undeclared, f"routes without a role: {undeclared}"
        routed = {(use.method, use.routed) for use in uses}
        assert ("PUT", "/api/filter") in routed
        assert ("DELETE", "/api/recordings/{name}") in routed
        assert set(SERVER_ROUTES) - {("GET", "/metrics")} <= routed


async def test_host_and_origin_rebinding_is_refused_on_every_route(tmp_path: Path) -> None:
    async with refusing(config(tmp_path)) as guarded:
        live, session = guarded.live, guarded.session
        uses = route_table(live)
        for use in uses:
            url = live.url.rstrip("/") + use.path
            async with session.request(
                use.method, url, json={"notch_hz": 60}, headers=REBINDING
            ) as response:
                assert response.status == 421, (use, await response.text())
                error = await error_of(response)
                assert error["code"] == "misdirected_request"
                assert "evil.test" in error["message"]
                assert "server.allowed_hosts" in error["message"]
            if use.websocket:
                with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
                    await session.ws_connect(live.ws_url + use.path.lstrip("/"), headers=REBINDING)
                assert refused.value.status == 421, use
        # The names the server does have pass the same check.
        for host in ("localhost", socket.gethostname(), f"127.0.0.1:{live.port}", "[::1]"):
            async with session.get(live.url + "api/status", headers={"Host": host}) as response:
                assert response.status == 200, host


async def test_a_listed_host_is_allowed(tmp_path: Path) -> None:
    extra = '[server]\nallowed_hosts = ["eeg.lab.example"]\n'
    async with live_daemon(config(tmp_path, extra)) as live, aiohttp.ClientSession() as session:
        headers = {"Host": f"eeg.lab.example:{live.port}"}
        async with session.get(live.url + "api/status", headers=headers) as response:
            assert response.status == 200
        async with session.get(live.url, headers={"Host": "other.lab.example"}) as response:
            assert response.status == 421


async def test_a_foreign_origin_is_refused_for_websockets_and_changes(tmp_path: Path) -> None:
    foreign = {"Origin": "http://evil.test"}
    async with refusing(config(tmp_path)) as guarded:
        live, session = guarded.live, guarded.session
        for path in (
            "ws",
            "ws/data",
            "ws/filtered_eeg",
            "applet/brain_waves/data",
            "command",
            "config",
        ):
            with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
                await session.ws_connect(live.ws_url + path, headers=foreign)
            assert refused.value.status == 403, path
        for method, path in [
            ("PUT", "api/filter"),
            ("POST", "api/recordings"),
            ("DELETE", "api/recordings/nothing.bdf"),
        ]:
            for headers in (foreign, {"Sec-Fetch-Site": "cross-site"}):
                async with session.request(
                    method, live.url + path, json={"notch_hz": 60}, headers=headers
                ) as response:
                    assert response.status == 403, (method, path, headers)
                    assert (await error_of(response))["code"] == "cross_origin"
        # Reading is no change: a foreign page may not read the answer anyway.
        async with session.get(live.url + "api/filter", headers=foreign) as response:
            assert response.status == 200
        own = {"Origin": live.url.rstrip("/"), "Sec-Fetch-Site": "same-origin"}
        async with session.put(live.url + "api/filter", json={"notch_hz": 60}, headers=own) as ok:
            assert ok.status == 200
        await guarded.remember()


async def test_a_cross_site_form_post_and_a_text_plain_put_are_refused(tmp_path: Path) -> None:
    async with refusing(config(tmp_path)) as guarded:
        live, session = guarded.live, guarded.session
        # What an old browser's form on another site sends: no Origin, a form body.
        form = {"Content-Type": "application/x-www-form-urlencoded"}
        async with session.post(
            live.url + "api/recordings", data=b"name=night", headers=form
        ) as response:
            assert response.status == 415
            error = await error_of(response)
            assert error["code"] == "unsupported_media_type"
            assert "application/json" in error["message"]
        plain = {"Content-Type": "text/plain;charset=UTF-8"}
        async with session.put(
            live.url + "api/filter", data=b'{"notch_hz": 60}', headers=plain
        ) as response:
            assert response.status == 415
        multipart = aiohttp.FormData({"notch_hz": "60"})
        multipart.add_field("file", b"x", filename="x.txt")
        async with session.put(live.url + "api/filter", data=multipart) as response:
            assert response.status == 415
