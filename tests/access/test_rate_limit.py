from __future__ import annotations

import pytest

from qa_service.access import RateLimiter
from qa_service.errors import RateLimited
from tests.fakes import ManualClock


def test_a_burst_of_a_minute_then_refill() -> None:
    clock = ManualClock()
    limiter = RateLimiter("asks", per_minute=3, clock=clock)
    for _ in range(3):
        limiter.take("k")
    with pytest.raises(RateLimited) as refused:
        limiter.take("k")
    assert refused.value.http_status == 429
    assert refused.value.headers == {"Retry-After": "20"}
    assert "3 per minute" in refused.value.message
    clock.now += 20
    limiter.take("k")
    with pytest.raises(RateLimited):
        limiter.take("k")


def test_keys_have_their_own_buckets() -> None:
    limiter = RateLimiter("uploads", per_minute=1, clock=ManualClock())
    limiter.take("a")
    limiter.take("b")
    with pytest.raises(RateLimited):
        limiter.take("a")


def test_zero_means_unlimited() -> None:
    limiter = RateLimiter("asks", per_minute=0, clock=ManualClock())
    for _ in range(1000):
        limiter.take("k")


def test_idle_buckets_are_forgotten() -> None:
    clock = ManualClock()
    limiter = RateLimiter("asks", per_minute=5, clock=clock)
    for n in range(10_001):
        limiter.take(f"key-{n}")
    clock.now += 120
    limiter.take("fresh")
    assert len(limiter._buckets) <= 2
