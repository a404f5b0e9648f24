"""Requests a minute per caller, over a moving window kept in memory (the `limits` library)."""

from __future__ import annotations

import ipaddress
import math
import time

import redis
from limits import RateLimitItemPerMinute
from limits.storage import MemoryStorage, storage_from_string
from limits.strategies import MovingWindowRateLimiter

from qa.errors import SharedStateError


class RateLimiter:
    """At most `per_minute` requests in any 60 seconds per identity; 0 means no limit. Counted in this process, or
    in Redis (shared by every replica) when a redis:// URL is given."""

    def __init__(self, per_minute: int, redis_url: str | None = None) -> None:
        self._item = RateLimitItemPerMinute(per_minute) if per_minute > 0 else None
        storage = storage_from_string(redis_url) if redis_url else MemoryStorage()
        self._limiter = MovingWindowRateLimiter(storage)

    def retry_after(self, identity: str) -> int | None:
        """Count one request: None when it may go ahead, else the whole seconds until one may."""
        try:
            if self._item is None or self._limiter.hit(self._item, identity):
                return None
            reset = self._limiter.get_window_stats(self._item, identity).reset_time
        except (redis.RedisError, ConnectionError) as error:
            raise SharedStateError(f"the shared rate-limit store (QA_REDIS_URL) failed: {error}; check that Redis is running") from error
        return max(1, math.ceil(reset - time.time()))


def client_bucket(host: str) -> str:
    """Who a client is for limits without a key: its IPv4 address, or its IPv6 /64 (one host can hold a whole /64)."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host
    if address.version == 6:
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)
