"""What a hostile probe of the security layer found, in the pure logic: each test is an input
that once got through (or a line it once wrote), and what it gets now."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from eegd.errors import one_line
from eegd.net.access import Gate
from eegd.net.auth import AllowedHosts
from eegd.net.roles import Principal, Role
from eegd.net.tokens import AuthSettings, TokenBook, hash_token, new_token


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
