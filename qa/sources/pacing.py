"""Per-host politeness: a bounded number of requests to one host at once, and a delay between their starts."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager


class HostPacer:
    """At most `concurrency` requests to a host at a time, started at least `delay` seconds apart."""

    def __init__(
        self,
        delay_seconds: float,
        concurrency: int = 1,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.delay_seconds = delay_seconds
        self.concurrency = concurrency
        self._clock, self._sleep = clock, sleep
        self._lock = threading.Lock()
        self._slots: dict[str, threading.BoundedSemaphore] = {}
        self._next_start: dict[str, float] = {}

    @contextmanager
    def slot(self, host: str, delay_seconds: float | None = None) -> Iterator[None]:
        """Wait for this host's turn (a robots.txt crawl-delay may ask for a longer delay), then hold a slot."""
        with self._lock:
            semaphore = self._slots.setdefault(host, threading.BoundedSemaphore(self.concurrency))
        with semaphore:
            with self._lock:
                now = self._clock()
                start = max(now, self._next_start.get(host, now))
                self._next_start[host] = start + max(self.delay_seconds, delay_seconds or 0.0)
            if start > now:
                self._sleep(start - now)
            yield
