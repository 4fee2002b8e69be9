"""The same-origin rule for WebSocket upgrades."""

from __future__ import annotations

import pytest

from eegd.net.auth import origin_allowed


@pytest.mark.parametrize(
    ("origin", "host", "scheme", "allowed"),
    [
        (None, "127.0.0.1:8080", "http", True),
        ("http://127.0.0.1:8080", "127.0.0.1:8080", "http", True),
        ("http://LOCALHOST:8080", "localhost:8080", "http", True),
        ("http://[::1]:8080", "[::1]:8080", "http", True),
        ("http://pi.local", "pi.local", "http", True),
        ("https://127.0.0.1:8080", "127.0.0.1:8080", "http", False),
        ("http://127.0.0.1:8080", "127.0.0.1:8080", "https", False),
        ("https://pi.local", "pi.local", "https", True),
        ("http://127.0.0.1:8081", "127.0.0.1:8080", "http", False),
        ("http://evil.test", "127.0.0.1:8080", "http", False),
        ("null", "127.0.0.1:8080", "http", False),
        ("file://", "127.0.0.1:8080", "http", False),
        ("http://127.0.0.1:8080", None, "http", False),
    ],
)
def test_only_the_servers_own_scheme_host_and_port_are_its_origin(
    origin: str | None, host: str | None, scheme: str, allowed: bool
) -> None:
    assert origin_allowed(origin, host, scheme=scheme) is allowed


def test_listed_origins_are_allowed_as_written() -> None:
    assert origin_allowed("http://lab-pc:3000", "127.0.0.1:8080", ["http://lab-pc:3000"])
    assert not origin_allowed("http://lab-pc:3001", "127.0.0.1:8080", ["http://lab-pc:3000"])
