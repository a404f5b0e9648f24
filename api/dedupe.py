"""A bounded, expiring set of recently seen keys, for dropping duplicate deliveries."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable


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
