"""A bounded, expiring set of recently seen keys, for dropping duplicate deliveries."""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable

import redis

logger = logging.getLogger("qa.api")


class RecentKeys:
    """Keys seen in the last ttl seconds, at most capacity of them (oldest dropped first); thread-safe."""

    def __init__(
        self, ttl_seconds: float, capacity: int = 10_000, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if ttl_seconds <= 0 or capacity < 1:
            raise ValueError("RecentKeys needs a positive ttl and a capacity of at least 1")
        self._ttl = ttl_seconds
        self._capacity = capacity
        self._clock = clock
        self._seen: OrderedDict[str, float] = OrderedDict()
        self._lock = threading.Lock()

    def claim(self, key: str) -> bool:
        """True the first time a key is offered within the ttl; False for every repeat."""
        with self._lock:
            now = self._clock()
            self._expire(now)
            if key in self._seen:
                return False
            self._seen[key] = now
            while len(self._seen) > self._capacity:
                self._seen.popitem(last=False)
            return True

    def __len__(self) -> int:
        with self._lock:
            self._expire(self._clock())
            return len(self._seen)

    def _expire(self, now: float) -> None:
        """Drop keys older than the ttl (they are in arrival order)."""
        while self._seen and next(iter(self._seen.values())) <= now - self._ttl:
            self._seen.popitem(last=False)


class RedisRecentKeys:
    """RecentKeys shared by every replica: a key is claimed by the first SET NX and expires after the ttl."""

    def __init__(self, client: redis.Redis, ttl_seconds: float, prefix: str = "qa:seen:") -> None:
        if ttl_seconds <= 0:
            raise ValueError("RedisRecentKeys needs a positive ttl")
        self._redis, self._ttl, self._prefix = client, max(1, int(ttl_seconds)), prefix

    def claim(self, key: str) -> bool:
        """True the first time any replica offers a key within the ttl; False for every repeat. When Redis cannot
        be reached the key counts as new (better a rare second answer than none), and that is logged."""
        try:
            return bool(self._redis.set(self._prefix + key, b"1", nx=True, ex=self._ttl))
        except redis.RedisError as error:
            logger.warning("Redis (QA_REDIS_URL) failed while de-duplicating %s: %s; handling it", key, error)
            return True


def recent_keys(ttl_seconds: float, redis_url: str | None) -> RecentKeys | RedisRecentKeys:
    """Keys seen by this process, or by every replica when Redis is configured."""
    if redis_url:
        return RedisRecentKeys(redis.Redis.from_url(redis_url), ttl_seconds)
    return RecentKeys(ttl_seconds)
