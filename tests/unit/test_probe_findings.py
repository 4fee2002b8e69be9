"""What a hostile probe of the security layer found, in the pure logic: each test is an input
that once got through (or a line it once wrote), and what it gets now."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from eegd.errors import one_line
from eegd.net.security.access import Gate
from eegd.net.security.hosts import AllowedHosts, origin_allowed, same_origin, split_host
from eegd.net.security.roles import Principal, Role
from eegd.net.security.sessions import SessionStore
from eegd.net.security.tokens import AuthSettings, TokenBook, hash_token, new_token


@given(st.text())
def test_text_from_a_peer_makes_one_log_line(text: str) -> None:
    logged = one_line(text)
    assert len(f"x{logged}x".splitlines()) == 1
    logged.encode("utf-8")  # no lone surrogate left to fail a log handler
    assert one_line("PUT /api/filter µV") == "PUT /api/filter µV"
    assert one_line("a\nb\r\u2028") == "a\\nb\\r\\u2028"


def test_a_connection_without_a_token_loses_what_tokens_configured_since_take_away() -> None:
    gate = Gate(AllowedHosts(), AuthSettings())
    opened = Principal(Role.OPERATOR, "10.0.0.9", "open")
    assert gate.message_refusal(opened, "record", Role.OPERATOR) is None
    gate.update_tokens(TokenBook([hash_token(new_token())]))
    assert gate.role_now(opened) is Role.VIEWER
    refused = gate.message_refusal(opened, "record", Role.OPERATOR)
    assert refused is not None
    assert "has the viewer role" in refused
    gate.update_tokens(TokenBook([hash_token(new_token())], [hash_token(new_token())]))
    assert gate.role_now(opened) is Role.PUBLIC
    assert gate.role_now(Principal(Role.VIEWER, "10.0.0.9", "token", "sha256:x")) is Role.VIEWER


@pytest.mark.parametrize(
    "host",
    [
        "127.0.0.1:80@evil.test",  # userinfo: the Host check saw 127.0.0.1, the Origin check evil
        "evil.test@127.0.0.1",
        "localhost:abc",
        "localhost:8080:1",
        "[::1]evil.test",
        "[::1]:8080x",
        "127.0.0.1:99999",
        "localhost/evil",
        "localhost evil.test",
    ],
)
def test_a_host_header_that_is_no_host_is_refused(host: str) -> None:
    assert split_host(host) is None
    assert not AllowedHosts(["pi"]).allows(host)
    assert not origin_allowed("http://evil.test", host)


@pytest.mark.parametrize(
    ("host", "split"),
    [
        ("LOCALHOST.:8080", ("localhost", 8080)),
        ("[::1]:8080", ("::1", 8080)),
        ("[fe80::1%25eth0]", ("fe80::1%25eth0", None)),
        ("::1", ("::1", None)),
        ("pi.local:", ("pi.local", None)),
        ("192.168.1.20", ("192.168.1.20", None)),
    ],
)
def test_hosts_as_browsers_and_configs_write_them(host: str, split: tuple[str, int | None]) -> None:
    assert split_host(host) == split


@pytest.mark.parametrize(
    "origin",
    [
        "http://evil.test@127.0.0.1:8080",  # userinfo, which no browser sends
        "http://127.0.0.1:8080/evil",
        "http://127.0.0.1:8080?",
        "http://127.0.0.1:8080#",
        "http://127.0.0.1:08080x",
    ],
)
def test_an_origin_is_a_scheme_and_a_host_only(origin: str) -> None:
    assert not same_origin(origin, "127.0.0.1:8080", "http")
    assert same_origin("HTTP://127.0.0.1:8080", "127.0.0.1:8080", "http")


@given(st.text(max_size=60))
def test_any_host_is_split_or_refused_without_error(host: str) -> None:
    found = split_host(host)
    if found is not None:
        name, port = found
        assert name == name.lower()
        assert port is None or 0 <= port <= 65535


def test_a_full_session_store_ends_the_signing_in_tokens_own_oldest_session() -> None:
    """Sign-ins with a right token are not limited, and a full store ended the oldest session
    of anyone: a viewer signing in ``max_sessions`` times signed every operator out."""
    store = SessionStore(max_sessions=4, ttl=100.0)
    operator = store.create(Role.OPERATOR, "sha256:operator", 0.0)
    viewers = [store.create(Role.VIEWER, "sha256:viewer", 1.0) for _ in range(20)]
    assert store.get(operator, 2.0) is not None
    assert [store.get(v, 2.0) is not None for v in viewers[-4:]] == [False, True, True, True]
    assert len(store) == 4
    # A token with no session in the full store gets one: the oldest viewer's goes.
    other = store.create(Role.VIEWER, "sha256:other", 3.0)
    assert other is not None
    assert store.get(operator, 3.0) is not None
    assert store.get(other, 3.0) is not None
    assert store.get(viewers[-3], 3.0) is None


def test_viewer_sign_ins_never_evict_an_operators_session() -> None:
    store = SessionStore(max_sessions=4, ttl=100.0)
    operators = [store.create(Role.OPERATOR, f"sha256:operator-{n}", 0.0) for n in range(4)]
    for index in range(20):
        assert store.create(Role.VIEWER, f"sha256:viewer-{index}", 1.0) is None
    assert all(store.get(session, 2.0) is not None for session in operators if session)
    # An operator signing in may end another operator's oldest session, as before.
    newcomer = store.create(Role.OPERATOR, "sha256:operator-new", 3.0)
    assert newcomer is not None
    assert store.get(operators[0] or "", 3.0) is None
