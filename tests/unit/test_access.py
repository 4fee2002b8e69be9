"""The gate's decisions, tokens, sessions and the failed-attempt limit, without sockets."""

from __future__ import annotations

import dataclasses

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from eegd.errors import ConfigError
from eegd.net.security.access import Gate, Refusal, RequestFacts
from eegd.net.security.hosts import AllowedHosts
from eegd.net.security.roles import Principal, Role
from eegd.net.security.sessions import FailedAttempts, SessionStore
from eegd.net.security.tokens import AuthSettings, TokenBook, hash_token, new_token

OPERATOR = new_token()
VIEWER = new_token()
BOTH = AuthSettings(
    operator_token_hashes=(hash_token(OPERATOR),), viewer_token_hashes=(hash_token(VIEWER),)
)
GET = RequestFacts("GET", "/api/status", "http", "10.0.0.9", host="pi:8080")
PUT = dataclasses.replace(GET, method="PUT", path="/api/filter", content_type="application/json")


def gate(auth: AuthSettings = BOTH) -> Gate:
    return Gate(AllowedHosts(["pi"]), auth)


def bearer(facts: RequestFacts, token: str) -> RequestFacts:
    return dataclasses.replace(facts, authorization=f"Bearer {token}")


def refusal(verdict: Principal | Refusal) -> tuple[int, str]:
    assert isinstance(verdict, Refusal), verdict
    return verdict.status, verdict.code


def test_a_token_is_random_and_only_its_hash_is_kept() -> None:
    assert new_token() != new_token()
    assert len(OPERATOR) >= 43
    assert hash_token(OPERATOR).startswith("sha256:")
    assert OPERATOR not in hash_token(OPERATOR)
    book = BOTH.tokens
    assert book.role_of(OPERATOR) == (Role.OPERATOR, hash_token(OPERATOR))
    assert book.role_of(VIEWER) == (Role.VIEWER, hash_token(VIEWER))
    assert book.role_of(OPERATOR + "x") is None
    assert book.role_of("") is None


def test_without_an_operator_token_anyone_may_change_everything() -> None:
    open_gate = gate(AuthSettings())
    verdict = open_gate.admit(PUT, Role.OPERATOR, 0.0)
    assert verdict == Principal(Role.OPERATOR, "10.0.0.9", "open")
    assert refusal(open_gate.sign_in(OPERATOR, "10.0.0.9", 0.0)) == (409, "no_tokens")


def test_an_operator_token_alone_leaves_watching_open() -> None:
    only_operator = gate(AuthSettings(operator_token_hashes=(hash_token(OPERATOR),)))
    assert isinstance(only_operator.admit(GET, Role.VIEWER, 0.0), Principal)
    assert refusal(only_operator.admit(PUT, Role.OPERATOR, 0.0)) == (401, "unauthorized")
    verdict = only_operator.admit(bearer(PUT, OPERATOR), Role.OPERATOR, 0.0)
    assert isinstance(verdict, Principal)
    assert (verdict.role, verdict.via) == (Role.OPERATOR, "token")


def test_missing_wrong_and_too_small_credentials() -> None:
    both = gate()
    assert refusal(both.admit(GET, Role.VIEWER, 0.0)) == (401, "unauthorized")
    assert isinstance(both.admit(GET, Role.PUBLIC, 0.0), Principal)
    assert refusal(both.admit(bearer(GET, "nope"), Role.VIEWER, 0.0)) == (401, "bad_token")
    basic = dataclasses.replace(GET, authorization="Basic b3A6cGFzcw==")
    assert refusal(both.admit(basic, Role.VIEWER, 0.0)) == (401, "bad_token")
    assert refusal(both.admit(bearer(PUT, VIEWER), Role.OPERATOR, 0.0)) == (403, "forbidden")
    assert isinstance(both.admit(bearer(GET, VIEWER), Role.VIEWER, 0.0), Principal)


def test_query_tokens_only_when_enabled() -> None:
    in_url = dataclasses.replace(GET, query_token=VIEWER)
    assert refusal(gate().admit(in_url, Role.VIEWER, 0.0)) == (400, "query_token_disabled")
    enabled = gate(msgspec.structs.replace(BOTH, query_tokens=True))
    assert isinstance(enabled.admit(in_url, Role.VIEWER, 0.0), Principal)


def test_a_wrong_token_is_limited_per_address_and_token() -> None:
    both = gate()
    for _ in range(both.failures.burst):
        assert refusal(both.admit(bearer(GET, "nope"), Role.VIEWER, 0.0))[0] == 401
    locked = both.admit(bearer(GET, "nope"), Role.VIEWER, 0.0)
    assert refusal(locked) == (429, "too_many_attempts")
    assert isinstance(locked, Refusal)
    assert locked.headers["Retry-After"] == "10"
    elsewhere = dataclasses.replace(bearer(GET, "nope"), address="10.0.0.10")
    assert refusal(both.admit(elsewhere, Role.VIEWER, 0.0)) == (401, "bad_token")
    assert refusal(both.admit(bearer(GET, "nope"), Role.VIEWER, 10.0)) == (401, "bad_token")


def test_a_guessers_wrong_tokens_never_lock_out_a_valid_token_on_the_same_address() -> None:
    both = gate()
    loopback = dataclasses.replace(GET, address="127.0.0.1")
    for index in range(10 * both.failures.burst):  # the same guess, and new ones
        assert refusal(both.admit(bearer(loopback, "guess"), Role.VIEWER, 0.0))[0] in (401, 429)
        assert refusal(both.admit(bearer(loopback, f"guess-{index}"), Role.VIEWER, 0.0))[0] == 401
    assert refusal(both.admit(bearer(loopback, "guess"), Role.VIEWER, 0.0))[0] == 429
    assert both.admit(bearer(loopback, VIEWER), Role.VIEWER, 0.0) == Principal(
        Role.VIEWER, "127.0.0.1", "token", hash_token(VIEWER)
    )
    signed = both.sign_in(OPERATOR, "127.0.0.1", 0.0)
    assert not isinstance(signed, Refusal)
    assert signed[1] is Role.OPERATOR


def test_a_session_has_its_tokens_role_until_it_expires_or_the_token_goes() -> None:
    both = gate(msgspec.structs.replace(BOTH, session_ttl_s=60.0))
    signed = both.sign_in(OPERATOR, "10.0.0.9", 0.0)
    assert not isinstance(signed, Refusal)
    session_id, role = signed
    assert role is Role.OPERATOR
    with_cookie = dataclasses.replace(PUT, session_id=session_id)
    verdict = both.admit(with_cookie, Role.OPERATOR, 59.0)
    assert isinstance(verdict, Principal)
    assert verdict.via == "session"
    assert both.still_valid(verdict)
    assert refusal(both.admit(with_cookie, Role.OPERATOR, 60.0)) == (401, "unauthorized")
    signed = both.sign_in(OPERATOR, "10.0.0.9", 100.0)
    assert not isinstance(signed, Refusal)
    with_cookie = dataclasses.replace(PUT, session_id=signed[0])
    verdict = both.admit(with_cookie, Role.OPERATOR, 100.0)
    assert isinstance(verdict, Principal)
    assert (
        both.update_tokens(TokenBook(viewer=[hash_token(VIEWER)], operator=["sha256:" + "0" * 64]))
        == 1
    )
    assert not both.still_valid(verdict)
    assert refusal(both.admit(with_cookie, Role.OPERATOR, 100.0)) == (401, "unauthorized")


def test_the_session_store_is_bounded() -> None:
    store = SessionStore(max_sessions=3, ttl=10.0)
    ids = [store.create(Role.VIEWER, "h", float(now)) for now in range(5)]
    assert len(store) == 3
    assert store.get(ids[0], 5.0) is None
    assert store.get(ids[4], 5.0) is not None
    store.end(ids[4])
    assert store.get(ids[4], 5.0) is None


def test_failed_attempts_forget_the_oldest_address() -> None:
    failures = FailedAttempts(burst=1, interval=10.0, max_addresses=2)
    for address in ("a", "b", "c"):
        failures.failed(address, 0.0)
    assert not failures.blocked("a", 0.0)
    assert failures.blocked("c", 0.0)
    assert failures.retry_after("c", 5.0) == pytest.approx(5.0)


@pytest.mark.parametrize(
    ("table", "words"),
    [
        ({"operator_token_hashes": ("sha256:abc",)}, "operator_token_hashes[0]"),
        ({"operator_token_hashes": (OPERATOR,)}, "not a token hash"),
        ({"viewer_token_hashes": (hash_token(VIEWER),)}, "needs operator_token_hashes"),
    ],
)
def test_bad_auth_tables_are_refused(table: dict[str, tuple[str, ...]], words: str) -> None:
    with pytest.raises(ConfigError) as caught:
        AuthSettings(**table)  # type: ignore[arg-type]
    assert words in str(caught.value)


@given(
    st.text(max_size=60),
    st.one_of(st.none(), st.text(max_size=60)),
    st.one_of(st.none(), st.text(max_size=60)),
)
def test_any_headers_get_a_verdict(
    host: str, origin: str | None, authorization: str | None
) -> None:
    facts = dataclasses.replace(PUT, host=host, origin=origin, authorization=authorization)
    verdict = gate().admit(facts, Role.OPERATOR, 0.0)
    assert isinstance(verdict, Principal | Refusal)
    if isinstance(verdict, Principal):
        assert verdict.role is Role.OPERATOR


def test_a_viewer_sign_in_into_a_store_full_of_operators_is_a_503_and_ends_none() -> None:
    small = gate(msgspec.structs.replace(BOTH, max_sessions=2))
    operators = [small.sign_in(OPERATOR, "10.0.0.9", 0.0) for _ in range(2)]
    assert refusal(small.sign_in(VIEWER, "10.0.0.9", 1.0)) == (503, "too_many_sessions")
    for signed in operators:
        assert not isinstance(signed, Refusal)
        assert small.sessions.get(signed[0], 1.0) is not None
