"""Questions worked on at once: a fixed number of slots; the rest wait their turn, first come first served, in a
queue of bounded length."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

import anyio
import anyio.to_thread

from api.errors import ApiError

T = TypeVar("T")


class AnswerSlots:
    """Runs blocking question work in worker threads, at most `slots` at a time and `queue_limit` waiting.

    Without a bound, every waiting request holds a worker thread (40 by default) and all of them compete for the GIL
    and the model at once: each gets slower, the queue stops draining, and throughput falls as load rises. One app
    serves from one event loop (as uvicorn runs it): the slots' waiters belong to that loop.
    """

    def __init__(self, slots: int, queue_limit: int) -> None:
        self._limiter = anyio.CapacityLimiter(slots)
        self._queue_limit = queue_limit

    async def run(self, work: Callable[[], T], client_gone: Callable[[], Awaitable[bool]]) -> T:
        """`work()` in a worker thread once a slot is free; 503 when the queue is full or the client has left."""
        if self.waiting() >= self._queue_limit:
            raise ApiError(
                503, "busy", f"{self.waiting()} questions are already waiting; retry in a second",
                headers={"Retry-After": "1"},
            )
        async with self._limiter:
            if await client_gone():  # nobody would read the answer: give the slot to the next question
                raise ApiError(503, "client_gone", "the client disconnected before its question's turn")
            return await anyio.to_thread.run_sync(work)

    def busy(self) -> int:
        """Slots in use now."""
        return int(self._limiter.borrowed_tokens)

    def waiting(self) -> int:
        """Requests waiting for a slot now."""
        return self._limiter.statistics().tasks_waiting
