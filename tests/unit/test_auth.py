"""The Host allow-list and the same-origin rule for WebSocket upgrades."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from eegd.net.security.hosts import AllowedHosts, host_name, is_loopback, origin_allowed


@pytest.mark.parametrize(
    ("origin", "host", "scheme", "allowed"),
    [
        (None, "127.0.0.1:8080", "http", True),
        ("http://127.0.0.1:8080", "127.0.0.1:8080", "http", True),
        ("http://LOCALHOST:8080", "localhost:8080", "http", True),
        ("http://[::1]:8080", "[::1]:8080", "http", True),
        ("http://pi.local", "pi.local", "http", True),
        ("http://pi.local:80", "pi.local", "http", True),
        ("https://127.0.0.1:8080", "127.0.0.1:8080", "http", False),
        ("http://127.0.0.1:8080", "127.0.0.1:8080", "https", False),
        ("https://pi.local", "pi.local", "https", True),
        ("https://pi.local", "pi.local:443", "https", True),
        ("http://127.0.0.1:8081", "127.0.0.1:8080", "http", False),
        ("http://evil.test", "127.0.0.1:8080", "http", False),
        ("null", "127.0.0.1:8080", "http", False),
        ("file://", "127.0.0.1:8080", "http", False),
        ("http://127.0.0.1:99999", "127.0.0.1:8080", "http", False),
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


@pytest.mark.parametrize(
    ("host", "allowed"),
    [
        ("localhost:8080", True),
        ("LOCALHOST.", True),
        ("127.0.0.1:8080", True),
        ("192.168.1.20:8080", True),
        ("[::1]:8080", True),
        ("[fe80::1]", True),
        ("pi:8080", True),
        ("pi.local", True),
        ("eeg.lab.example", True),
        ("evil.test:8080", False),
        ("127.0.0.1.evil.test", False),
        ("localhost.evil.test", False),
        ("", False),
        (None, False),
    ],
)
def test_a_host_must_be_a_name_of_the_server_or_an_address(host: str | None, allowed: bool) -> None:
    hosts = AllowedHosts(["pi", "pi.local", "eeg.lab.example"])
    assert hosts.allows(host) is allowed


@pytest.mark.parametrize(
    ("address", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.1.2.3", True),
        ("::1", True),
        ("localhost", True),
        ("0.0.0.0", False),
        ("::", False),
        ("192.168.1.20", False),
        ("pi.local", False),
    ],
)
def test_loopback_addresses(address: str, loopback: bool) -> None:
    assert is_loopback(address) is loopback


@given(st.text(max_size=80))
def test_any_host_header_is_judged_without_error(header: str) -> None:
    name = host_name(header)
    assert name == name.lower()
    AllowedHosts(["pi"]).allows(header)
