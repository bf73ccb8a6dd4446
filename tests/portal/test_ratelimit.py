"""The in-process rate limit: a sliding window per key, bounded memory."""

from __future__ import annotations

from datetime import timedelta

import pytest

from personvern.web.ratelimit import RateLimit, RateLimited, SignInLimits
from web.support import T0, MovableClock


def test_sliding_window_refuses_over_the_limit_and_forgives_later() -> None:
    clock = MovableClock(T0)
    limit = RateLimit(3, timedelta(minutes=1), clock)
    for _ in range(3):
        limit.hit("a")
    with pytest.raises(RateLimited) as err:
        limit.hit("a")
    assert err.value.status == 429 and 1 <= err.value.retry_after <= 61
    limit.hit("b")  # another key is not affected
    clock.advance(seconds=61)
    limit.hit("a")


def test_by_ip_and_by_email_separately() -> None:
    clock = MovableClock(T0)
    limits = SignInLimits(clock, per_ip=3, per_email=2)
    limits.check("10.0.0.1", "Kari@Example.no")
    limits.check("10.0.0.2", "kari@example.no")
    with pytest.raises(RateLimited):  # the same address, however written, from anywhere
        limits.check("10.0.0.3", "KARI@example.no ")
    limits.check("10.0.0.4", "ola@example.no")
    limits.check("10.0.0.4", "per@example.no")
    limits.check("10.0.0.4", "liv@example.no")
    with pytest.raises(RateLimited):  # the fourth different address from one IP
        limits.check("10.0.0.4", "pal@example.no")


def test_memory_stays_bounded() -> None:
    clock = MovableClock(T0)
    limit = RateLimit(1, timedelta(minutes=1), clock, max_keys=100)
    for i in range(1000):
        limit.hit(f"k{i}")
    assert len(limit._hits) <= 100
