"""Rate limiting of the public API: an in-process token bucket per key.

Each key gets a bucket holding up to `per_minute` tokens that refills at `per_minute` tokens a minute.
Two uses (see `http_api`): per user on the cheap endpoints (`take`: each request takes a token or is
refused with the seconds until one is back), and per client address for requests without a valid token
(`check` before the token is verified, `spend` once it failed), so a flood of bad tokens is cut off
before it costs any verification. The buckets live in this process, so with several instances a key
gets the limit once per instance: it stops runaway pollers, scripts and floods, it is not a billing
boundary (the daily generation quota, kept in SQL, is).
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable

from appgen import errors


class RateLimiter:
    def __init__(
        self,
        *,
        max_keys: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
        refusal: str = "at most {per_minute} requests per minute",
    ):
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, at)
        self._max_keys = max_keys
        self._clock = clock
        self._refusal = refusal
        self._lock = threading.Lock()

    def take(self, key: str, per_minute: int) -> None:
        """Take one token from `key`'s bucket; RateLimited (with Retry-After) when it is empty."""
        self._use(key, per_minute, take=True, refuse=True)

    def check(self, key: str, per_minute: int) -> None:
        """RateLimited (with Retry-After) when `key`'s bucket is empty; takes nothing."""
        self._use(key, per_minute, take=False, refuse=True)

    def spend(self, key: str, per_minute: int) -> None:
        """Take one token from `key`'s bucket if it has one; never refuses."""
        self._use(key, per_minute, take=True, refuse=False)

    def _use(self, key: str, per_minute: int, *, take: bool, refuse: bool) -> None:
        if per_minute <= 0:
            return
        rate = per_minute / 60.0
        with self._lock:
            now = self._clock()
            tokens, at = self._buckets.get(key, (float(per_minute), now))
            tokens = min(float(per_minute), tokens + (now - at) * rate)
            if tokens < 1.0:
                self._buckets[key] = (tokens, now)
                if refuse:
                    retry_after = max(1, math.ceil((1.0 - tokens) / rate))
                    raise errors.RateLimited(
                        self._refusal.format(per_minute=per_minute) + f"; try again in {retry_after} s",
                        retry_after=retry_after,
                    )
                return
            if take:  # a check stores nothing: addresses that only ever pass cost no memory
                self._buckets[key] = (tokens - 1.0, now)
                if len(self._buckets) > self._max_keys:
                    self._forget_full(now, per_minute, rate)

    def _forget_full(self, now: float, per_minute: int, rate: float) -> None:
        """Drop buckets that have refilled completely: they hold no information (bounded memory)."""
        for key, (tokens, at) in list(self._buckets.items()):
            if tokens + (now - at) * rate >= per_minute:
                del self._buckets[key]

    def reset(self) -> None:
        with self._lock:
            self._buckets.clear()
