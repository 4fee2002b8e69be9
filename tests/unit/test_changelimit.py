"""The per-address limit on changes: a burst, then a steady rate, each address its own."""

from __future__ import annotations

import pytest

from eegd.net.security.changelimit import ChangeLimits


def test_a_burst_then_the_rate_and_the_wait_until_the_next() -> None:
    limits = ChangeLimits(rate=10.0, burst=20)
    assert [limits.take("127.0.0.1", 0.0) for _ in range(20)] == [None] * 20
    assert limits.take("127.0.0.1", 0.0) == pytest.approx(0.1)
    assert limits.take("10.0.0.9", 0.0) is None  # another address pays nothing
    assert limits.take("127.0.0.1", 0.1) is None  # a tenth of a second earns one
    assert limits.take("127.0.0.1", 0.1) is not None


def test_the_table_of_addresses_is_bounded() -> None:
    limits = ChangeLimits(rate=1.0, burst=1, max_addresses=4)
    for index in range(100):
        assert limits.take(f"10.0.0.{index}", 0.0) is None
    assert limits.take("10.0.0.99", 0.0) is not None  # remembered
    assert limits.take("10.0.0.0", 0.0) is None  # forgotten: the longest untouched
