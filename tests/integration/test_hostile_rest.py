"""Hostile REST requests against a real in-process daemon: each is a JSON 400 (or 404, 405,
413) naming what is wrong, changes nothing, and costs a watching client no frame (frames
the test releases from a stepped source)."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

import aiohttp
import pytest

from eegd.bus import EventBus
from eegd.net.server import Server
from eegd.net.settings import ServerSettings
from eegd.net.stream.connections import ConnectionManager
from eegd.plugins.voltage_filter import VoltageFilter
from eegd.routes import Route
from tests.support.live import LiveDaemon, live_daemon, watching

DEEP = 30_000
"""Nesting that exhausts a recursive JSON parser's stack."""


async def filter_settings(session: aiohttp.ClientSession, live: LiveDaemon) -> Any:
    async with session.get(live.url + "api/filter") as response:
        assert response.status == 200
        return await response.json()


async def refused(
    live: LiveDaemon,
    method: str,
    path: str,
    body: bytes,
    headers: Mapping[str, str],
    status: int,
    code: str,
) -> str:
    """Send a request that must be refused; check the stream and the filter did not notice.

    Returns the error message of the JSON reply.
    """
    async with watching(live) as watcher, aiohttp.ClientSession() as session:
        await watcher.wait_frame(await live.release(1))  # the filter runs
        before = await filter_settings(session, live)
        async with session.request(method, live.url + path, data=body, headers=headers) as reply:
            assert reply.status == status, await reply.text()
            assert reply.content_type == "application/json"
            error = await reply.json()
        assert set(error) == {"type", "code", "message"}, error
        assert (error["type"], error["code"]) == ("error", code), error
        assert "Traceback" not in error["message"]
        await watcher.wait_frame(await live.release(4))
        watcher.assert_contiguous()
        assert await filter_settings(session, live) == before
    message: str = error["message"]
    return message


JSON = {"Content-Type": "application/json"}


@pytest.mark.parametrize(
    ("body", "headers", "code", "words"),
    [
        pytest.param(b'{"notch_q": 1e-300}', JSON, "bad_field", "notch_q: 1e-300", id="notch_q"),
        pytest.param(
            b'{"lowpass_hz": 124.99999, "order": 8}',
            JSON,
            "bad_field",
            "lowpass_hz: 124.99999 Hz is not allowed at 250 Hz",
            id="lowpass-under-nyquist-order-8",
        ),
        pytest.param(
            b'{"highpass_hz": 1e-300}', JSON, "bad_field", "highpass_hz: 1e-300", id="highpass-tiny"
        ),
        pytest.param(
            b'{"highpass_hz": 0, "lowpass_hz": 1e-300}',
            JSON,
            "bad_field",
            "lowpass_hz: 1e-300",
            id="lowpass-tiny",
        ),
        pytest.param(
            b'{"lowpass_hz": 1e-300}', JSON, "bad_field", "lowpass_hz 1e-300", id="lowpass-tiny-hp"
        ),
        pytest.param(
            b'{"highpass_hz": ' + b"1" * 5000 + b"}",
            JSON,
            "bad_field",
            "highpass_hz: the value cannot be used",
            id="5000-digit-integer",
        ),
        pytest.param(
            b'{"notch_q": 1e999}', JSON, "bad_field", "notch_q: the value cannot", id="overflow"
        ),
        pytest.param(
            b'{"highpass_hz": false}',
            JSON,
            "bad_field",
            "highpass_hz: expected `float | null`, got `bool` (value: False)",
            id="false",
        ),
        pytest.param(
            b'{"highpass_hz": ' + b"[" * DEEP + b"]" * DEEP + b"}",
            JSON,
            "bad_json",
            "nested too deeply",
            id="30000-deep-value",
        ),
        pytest.param(
            b'{"":' * 12_000 + b"1" + b"}" * 12_000,  # as deep as 64 KiB allows
            JSON,
            "bad_json",
            "nested too deeply",
            id="30000-deep-objects",
        ),
        pytest.param(
            b"[" * DEEP + b"]" * DEEP, JSON, "bad_json", "must be a JSON object", id="30000-deep"
        ),
        pytest.param(
            b'{"notch_hz": 60}',
            {"Content-Type": "application/json; charset=bogus"},
            "bad_encoding",
            "charset 'bogus' is not supported",
            id="charset-bogus",
        ),
        pytest.param(
            b'{"notch_hz": "6\xff0"}',
            JSON,
            "bad_encoding",
            "not UTF-8: byte 15 is 0xff",
            id="not-utf8",
        ),
        pytest.param(b'{"notch_hz": 60', JSON, "bad_json", "not valid JSON", id="truncated"),
        pytest.param(b"[60]", JSON, "bad_json", "must be a JSON object", id="array"),
        pytest.param(
            b'{"x' + b"y" * 10_000 + b'": 1}',
            JSON,
            "bad_field",
            "xyyyyyyyyy",
            id="long-junk-key",
        ),
    ],
)
async def test_a_hostile_filter_body_is_a_400_naming_the_key(
    body: bytes, headers: Mapping[str, str], code: str, words: str
) -> None:
    async with live_daemon(stepped=True) as live:
        message = await refused(live, "PUT", "api/filter", body, headers, 400, code)
    assert words in message
    assert len(message) < 400


async def test_a_body_over_the_size_limit_is_a_json_413() -> None:
    async with live_daemon(stepped=True) as live:
        body = b'{"notch_hz": 60, "pad": "' + b"x" * 70_000 + b'"}'
        message = await refused(live, "PUT", "api/filter", body, JSON, 413, "body_too_large")
    assert "65536 bytes" in message


async def test_unknown_paths_and_methods_are_json_404_and_405() -> None:
    async with live_daemon(stepped=True) as live:
        message = await refused(live, "GET", "api/nothing", b"", {}, 404, "not_found")
        assert "/api/nothing" in message
        message = await refused(live, "POST", "api/filter", b"{}", JSON, 405, "method_not_allowed")
        assert "POST is not allowed on /api/filter (allowed: GET, HEAD, PUT)" in message
        message = await refused(live, "GET", "nothing", b"", {}, 404, "not_found")
        assert "/nothing" in message


async def test_a_static_404_is_the_json_error_shape() -> None:
    async with live_daemon(stepped=True) as live:
        for path in ("kiosk/nothing.js", "kiosk/", "kiosk/.hidden"):
            message = await refused(live, "GET", path, b"", {}, 404, "not_found")
            assert f"nothing at /{path}" in message
        async with aiohttp.ClientSession() as session:
            async with session.get(live.url + "kiosk/app.js") as response:
                assert response.status == 200
                assert response.content_type in ("text/javascript", "application/javascript")


async def test_a_good_change_still_works_with_utf8_declared_and_a_byte_order_mark() -> None:
    async with (
        live_daemon(stepped=True) as live,
        watching(live) as watcher,
        aiohttp.ClientSession() as session,
    ):
        await watcher.wait_frame(await live.release(1))  # the filter runs
        headers = {"Content-Type": "application/json; charset=UTF-8"}
        body = b'\xef\xbb\xbf{"notch_hz": 60, "notch_q": 25}'
        async with session.put(live.url + "api/filter", data=body, headers=headers) as reply:
            assert reply.status == 200, await reply.text()
        settings = await filter_settings(session, live)
        assert (settings["notch_hz"], settings["notch_q"]) == (60.0, 25.0)
        await watcher.wait_frame(await live.release(4))
        watcher.assert_contiguous()


class BrokenControl:
    """A daemon whose every answer fails with an exception nobody expected."""

    def status(self) -> Mapping[str, Any]:
        raise RuntimeError("secret internals")

    def routes(self) -> Sequence[tuple[str, Route]]:
        return [(VoltageFilter.name, route) for route in VoltageFilter.routes()]

    def plugin_state(self, plugin: str) -> Mapping[str, Any]:
        raise RuntimeError("secret internals")

    def reconfigure(self, plugin: str, changes: Mapping[str, Any]) -> Mapping[str, Any]:
        raise RuntimeError("secret internals")


async def test_an_unexpected_exception_is_a_json_500_logged_once_with_its_traceback(
    caplog: pytest.LogCaptureFixture,
) -> None:
    manager = ConnectionManager(EventBus(), frame_rates={})
    server = Server(manager, BrokenControl(), ServerSettings(port=0))
    url = await server.start()
    try:
        async with aiohttp.ClientSession() as session:
            for method, path in [("GET", "api/status"), ("PUT", "api/filter")]:
                caplog.clear()
                async with session.request(method, url + path, data=b"{}") as reply:
                    assert reply.status == 500
                    assert await reply.json() == {
                        "type": "error",
                        "code": "internal_error",
                        "message": "internal server error; see the log",
                    }
                errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
                assert len(errors) == 1, errors
                assert errors[0].exc_info is not None
                assert f"{method} /{path} failed" in errors[0].getMessage()
    finally:
        await server.stop()
