"""The per-user token bucket of the cheap endpoints, on a controlled clock."""

from __future__ import annotations

import pytest

from appgen import errors
from appgen.ratelimit import RateLimiter


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_burst_of_the_limit_then_429_with_the_seconds_until_the_next_request() -> None:
    clock = Clock()
    limiter = RateLimiter(clock=clock)
    for _ in range(120):
        limiter.take("alice", 120)
    with pytest.raises(errors.RateLimited) as refused:
        limiter.take("alice", 120)
    assert refused.value.http_status == 429 and refused.value.code == "rate_limited"
    assert refused.value.retry_after == 1  # 120/min refills one request every 0.5 s
    limiter.take("bob", 120)  # buckets are per user


def test_the_bucket_refills_at_the_rate() -> None:
    clock = Clock()
    limiter = RateLimiter(clock=clock)
    for _ in range(6):
        limiter.take("alice", 6)  # 6/min: one request every 10 s
    with pytest.raises(errors.RateLimited) as refused:
        limiter.take("alice", 6)
    assert refused.value.retry_after == 10
    clock.now += 10
    limiter.take("alice", 6)
    with pytest.raises(errors.RateLimited):
        limiter.take("alice", 6)
    clock.now += 3600  # refills up to the burst, not beyond
    for _ in range(6):
        limiter.take("alice", 6)
    with pytest.raises(errors.RateLimited):
        limiter.take("alice", 6)


def test_zero_disables_the_limit_and_idle_buckets_are_forgotten() -> None:
    clock = Clock()
    limiter = RateLimiter(max_keys=10, clock=clock)
    for _ in range(1000):
        limiter.take("alice", 0)
    for i in range(10):
        limiter.take(f"user-{i}", 60)
    clock.now += 120
    limiter.take("one-more", 60)  # over max_keys: the refilled buckets are dropped
    assert len(limiter._buckets) == 1
