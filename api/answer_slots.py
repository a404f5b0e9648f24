"""Questions worked on at once: a fixed number of slots; the rest wait their turn, first come first served."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import anyio
import anyio.to_thread

T = TypeVar("T")


class AnswerSlots:
    """Runs blocking question work in worker threads, at most `slots` at a time.

    Without a bound, every waiting request holds a worker thread (40 by default) and all of them compete for the GIL
    and the model at once: each gets slower, the queue stops draining, and throughput falls as load rises.
    """

    def __init__(self, slots: int) -> None:
        self._limiter = anyio.CapacityLimiter(slots)

    async def run(self, work: Callable[[], T]) -> T:
        """`work()` in a worker thread once a slot is free."""
        return await anyio.to_thread.run_sync(work, limiter=self._limiter)

    def busy(self) -> int:
        """Slots in use now."""
        return int(self._limiter.borrowed_tokens)

    def waiting(self) -> int:
        """Requests waiting for a slot now."""
        return self._limiter.statistics().tasks_waiting
