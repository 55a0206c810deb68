"""The token buckets of the public API on a controlled clock, and the client address that keys the
bucket of requests without a valid token."""

from __future__ import annotations

import flask
import pytest

from appgen import errors
from appgen.http_api import client_address
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


def test_check_refuses_an_empty_bucket_without_taking_and_spend_never_refuses() -> None:
    clock = Clock()
    limiter = RateLimiter(clock=clock, refusal="at most {per_minute} failures a minute")
    for _ in range(10):
        limiter.check("198.51.100.1", 2)  # checks alone take nothing and store nothing
    assert limiter._buckets == {}
    for _ in range(5):
        limiter.spend("198.51.100.1", 2)  # the third and later find the bucket empty, quietly
    with pytest.raises(errors.RateLimited) as refused:
        limiter.check("198.51.100.1", 2)
    assert refused.value.message == "at most 2 failures a minute; try again in 30 s"
    assert refused.value.retry_after == 30
    clock.now += 30
    limiter.check("198.51.100.1", 2)


@pytest.mark.parametrize(
    ("remote", "forwarded", "behind_gfe", "key"),
    [
        ("127.0.0.1", None, False, "127.0.0.1"),
        ("127.0.0.1", "203.0.113.5", False, "127.0.0.1"),  # not behind Google's front end: not trusted
        ("169.254.1.1", "203.0.113.5", True, "203.0.113.5"),
        ("169.254.1.1", "6.6.6.6, 10.1.1.1 ,203.0.113.5", True, "203.0.113.5"),
        ("169.254.1.1", None, True, "169.254.1.1"),
        ("169.254.1.1", "2001:db8:1:2:aaaa::1", True, "2001:db8:1:2::/64"),
        ("169.254.1.1", "::ffff:203.0.113.9", True, "203.0.113.9"),
        ("169.254.1.1", "not an address", True, "not an address"),
    ],
)
def test_the_client_address_is_the_right_most_forwarded_entry_on_cloud_run(
    remote: str, forwarded: str | None, behind_gfe: bool, key: str
) -> None:
    headers = {"X-Forwarded-For": forwarded} if forwarded else {}
    app = flask.Flask(__name__)
    with app.test_request_context("/", headers=headers, environ_base={"REMOTE_ADDR": remote}):
        assert client_address(flask.request, behind_gfe) == key
