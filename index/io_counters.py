"""How much this process has written to storage, from the kernel's per-process I/O counters."""

from __future__ import annotations


def written_bytes() -> int | None:
    """Bytes this process has caused to be written to storage so far (Linux /proc/self/io `write_bytes`, counted
    as page-cache pages are dirtied), or None."""
    return _counter("write_bytes")


def requested_write_bytes() -> int | None:
    """Bytes this process has passed to write calls so far (`wchar`: files, pipes and sockets alike), or None."""
    return _counter("wchar")


def _counter(name: str) -> int | None:
    """One counter of /proc/self/io, or None where there is none."""
    try:
        with open("/proc/self/io", encoding="ascii") as handle:
            return next(int(line.split()[1]) for line in handle if line.startswith(f"{name}:"))
    except (OSError, StopIteration, ValueError):
        return None
