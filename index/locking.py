"""An exclusive lock on a folder, held through a .lock file, so one process at a time writes there."""

from __future__ import annotations

import fcntl
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def exclusive(directory: Path, wait: bool = True, name: str = ".lock") -> Iterator[bool]:
    """Hold an exclusive flock on directory/name (.lock: the index writer's); other processes (and other threads
    opening it) wait until it is released. With wait False, yields False at once instead of waiting when someone else
    holds it."""
    with (directory / name).open("w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
