"""Dynamic batching: texts that concurrent callers embed at about the same time go through one model call."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

Embed = Callable[[list[str]], np.ndarray]


@dataclass
class _Request:
    """One caller's texts, and what became of them."""

    texts: list[str]
    vectors: np.ndarray | None = None
    error: BaseException | None = None
    finished: bool = False
    leads: bool = False


@dataclass
class BatchTally:
    """Model calls made and texts embedded through them."""

    calls: int = 0
    texts: int = 0
    sizes: dict[int, int] = field(default_factory=dict)  # texts in a call → calls of that size


class DynamicBatcher:
    """Embeds through `embed`, one call at a time. A caller that finds the model idle leads: it waits up to max_wait
    seconds for others (until max_batch texts), embeds them all in one call and hands the lead to the first caller
    still waiting. Callers arriving while a call runs join the next one, so under load calls grow without any wait,
    and alone a caller waits at most max_wait. With max_batch 1 every caller embeds on its own."""

    def __init__(self, embed: Embed, max_batch: int, max_wait: float) -> None:
        self._embed = embed
        self.max_batch = max_batch
        self.max_wait = max_wait
        self._changed = threading.Condition()
        self._pending: list[_Request] = []
        self._busy = False
        self.tally = BatchTally()

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """The texts' vectors, in order (an error of the model call is raised in every caller it served)."""
        request = _Request(list(texts))
        with self._changed:
            self._pending.append(request)
            self._changed.notify_all()
            if self._busy:
                while not (request.finished or request.leads):
                    self._changed.wait()
            else:
                self._busy = request.leads = True
        if request.leads:
            self._lead()
        if request.error is not None:
            raise request.error
        assert request.vectors is not None
        return request.vectors

    def _lead(self) -> None:
        """Gather a batch (the oldest callers first), embed it, deliver, and pass the lead on."""
        deadline = time.monotonic() + self.max_wait
        with self._changed:
            while self._texts_pending() < self.max_batch and (left := deadline - time.monotonic()) > 0:
                self._changed.wait(left)
            batch, size = [], 0
            while self._pending and (not batch or size + len(self._pending[0].texts) <= self.max_batch):
                batch.append(self._pending.pop(0))
                size += len(batch[-1].texts)
        try:
            vectors = self._embed([text for request in batch for text in request.texts])
        except BaseException as error:  # noqa: BLE001 - handed to every caller of the batch
            for request in batch:
                request.error = error
        else:
            start = 0
            for request in batch:
                request.vectors, start = vectors[start : start + len(request.texts)], start + len(request.texts)
        with self._changed:
            self.tally.calls += 1
            self.tally.texts += size
            self.tally.sizes[size] = self.tally.sizes.get(size, 0) + 1
            for request in batch:
                request.finished = True
            if self._pending:
                self._pending[0].leads = True
            else:
                self._busy = False
            self._changed.notify_all()

    def _texts_pending(self) -> int:
        """Texts waiting for the next call."""
        return sum(len(request.texts) for request in self._pending)
