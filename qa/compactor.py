"""Compaction in the background of a server: after a write, merges run on their own thread, one at a time, while
readers keep answering from the segments they hold."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from index.compaction import CompactionStep, compact_index
from index.io_counters import written_bytes

logger = logging.getLogger(__name__)


@dataclass
class WriteTally:
    """What this process's writes and compactions have written so far (the counters /metrics exports)."""

    writes: int = 0
    bytes_written: int = 0
    compactions: int = 0
    compaction_bytes: int = 0


class BackgroundCompactor:
    """Runs `compact_index` on a thread after writes; a request while one runs makes it run once more after."""

    def __init__(self, directory: Path, on_compacted: Callable[[list[CompactionStep], int], None]) -> None:
        self._directory = directory
        self._on_compacted = on_compacted
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._again = False

    def request(self) -> None:
        """Compact soon (now, or once the running compaction ends)."""
        with self._lock:
            if self._thread is not None:  # running: it runs once more before it ends
                self._again = True
                return
            self._thread = threading.Thread(target=self._run, name="compaction", daemon=True)
            self._thread.start()

    def wait(self, timeout: float | None = None) -> None:
        """Block until no compaction runs (for shutdown and tests)."""
        while True:
            with self._lock:
                thread = self._thread
            if thread is None or not thread.is_alive():
                return
            thread.join(timeout)
            if timeout is not None:
                return

    def _run(self) -> None:
        """Compact until no write asked again meanwhile."""
        while True:
            before = written_bytes()
            try:
                steps = compact_index(self._directory)
            except Exception:  # a failed merge leaves the index as it was; the next write asks again
                logger.exception("compaction of %s failed", self._directory)
                steps = []
            after = written_bytes()
            try:
                self._on_compacted(steps, after - before if after is not None and before is not None else 0)
            except Exception:  # counting failed; the thread must still end cleanly so later requests start another
                logger.exception("recording the compaction of %s failed", self._directory)
            with self._lock:
                if not self._again:
                    self._thread = None  # under the lock: a request from now on starts a new thread
                    return
                self._again = False
