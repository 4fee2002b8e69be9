"""The refusal throttle: the first refusal of a key is reported at once, the rest of its
interval in one report with their count, and the table of keys stays bounded."""

from __future__ import annotations

from eegd.net.security.refusals import Throttle
from tests.support.clocks import FakeClock


def test_five_thousand_refusals_of_one_key_are_two_reports_that_count_them_all() -> None:
    clock = FakeClock(1000.0)
    throttle = Throttle(interval=60.0, clock=clock)
    reports: list[int] = []
    for _ in range(5000):
        throttle(("PUT /api/filter", "127.0.0.1", "401 unauthorized"), reports.append)
        clock.now += 0.001
    assert reports == [1]
    clock.now += 60.0
    throttle.flush()
    assert reports == [1, 4999]
    throttle.flush()
    assert reports == [1, 4999]


def test_keys_are_reported_apart_and_again_after_their_interval() -> None:
    clock = FakeClock(1000.0)
    throttle = Throttle(interval=60.0, clock=clock)
    reports: list[tuple[str, int]] = []
    for key in ("a", "b", "a", "b", "a"):
        throttle(key, lambda count, key=key: reports.append((key, count)))
    assert reports == [("a", 1), ("b", 1)]
    clock.now += 61.0
    throttle("a", lambda count: reports.append(("a", count)))
    assert reports[-1] == ("a", 3)  # the two held back and this one


def test_the_table_of_keys_is_bounded() -> None:
    clock = FakeClock(1000.0)
    throttle = Throttle(interval=60.0, max_keys=8, clock=clock)
    reports: list[int] = []
    for index in range(1000):
        throttle(("address", index), reports.append)
    assert reports == [1] * 1000
    assert len(throttle) == 8
