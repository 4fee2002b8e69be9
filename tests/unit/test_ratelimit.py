"""The per-client message rate limit: a token bucket judged on the times it is given."""

from __future__ import annotations

import pytest

from eegd.net.security.ratelimit import MessageRateLimit, Verdict


def test_a_burst_is_accepted_then_one_refusal_then_silence_then_close() -> None:
    limit = MessageRateLimit(rate=10.0, burst=5)
    verdicts = [limit.check(0.0) for _ in range(5 + 1 + 4 + 1 + 1)]
    assert verdicts[:5] == [Verdict.ACCEPT] * 5
    assert verdicts[5] is Verdict.REFUSE
    assert verdicts[6:11] == [Verdict.IGNORE] * 5
    assert verdicts[11] is Verdict.CLOSE


def test_messages_at_the_average_rate_are_always_accepted() -> None:
    limit = MessageRateLimit(rate=20.0, burst=3)
    assert all(limit.check(i / 20.0) is Verdict.ACCEPT for i in range(2000))


def test_the_bucket_refills_and_the_refusal_is_forgiven() -> None:
    limit = MessageRateLimit(rate=2.0, burst=2)
    assert [limit.check(0.0) for _ in range(3)] == [Verdict.ACCEPT, Verdict.ACCEPT, Verdict.REFUSE]
    assert limit.check(0.5) is Verdict.ACCEPT  # one token back after 0.5 s at 2/s
    assert limit.check(0.5) is Verdict.REFUSE  # a new episode gets its own refusal


def test_a_clock_that_steps_back_gives_no_tokens() -> None:
    limit = MessageRateLimit(rate=1.0, burst=1)
    assert limit.check(10.0) is Verdict.ACCEPT
    assert limit.check(5.0) is Verdict.REFUSE


@pytest.mark.parametrize(("rate", "burst"), [(0.0, 1), (-1.0, 1), (float("nan"), 1), (1.0, 0)])
def test_nonsense_limits_are_refused(rate: float, burst: int) -> None:
    with pytest.raises(ValueError, match="rate|burst"):
        MessageRateLimit(rate, burst)
