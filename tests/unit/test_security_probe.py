"""What a hostile probe of the security layer found, in the pure logic: each test is an input
that once got through (or a line it once wrote), and what it gets now."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from eegd.errors import one_line


@given(st.text())
def test_text_from_a_peer_makes_one_log_line(text: str) -> None:
    logged = one_line(text)
    assert len(f"x{logged}x".splitlines()) == 1
    logged.encode("utf-8")  # no lone surrogate left to fail a log handler
    assert one_line("PUT /api/filter µV") == "PUT /api/filter µV"
    assert one_line("a\nb\r\u2028") == "a\\nb\\r\\u2028"
