"""How much this process has written to storage, from the kernel's per-process I/O counters."""

from __future__ import annotations


def written_bytes() -> int | None:
    """Bytes this process has caused to be written to storage so far (Linux /proc/self/io), or None."""
    try:
        with open("/proc/self/io", encoding="ascii") as handle:
            return next(int(line.split()[1]) for line in handle if line.startswith("write_bytes:"))
    except (OSError, StopIteration, ValueError):
        return None
