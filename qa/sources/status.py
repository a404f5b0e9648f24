"""A source's status as people and JSON clients read it."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from qa.sources.registry import Source


def source_status(source: Source) -> dict[str, Any]:
    """Name, kind, location, interval, last and next fetch (ISO 8601, UTC), articles, counts and last error."""
    return {
        "name": source.name,
        "kind": source.kind,
        "location": source.location,
        "every_seconds": source.every_seconds,
        "last_fetch": _iso(source.last_fetch),
        "next_fetch": _iso(source.next_fetch) if source.kind == "feed" else None,
        "articles": source.articles,
        "fetches": source.fetches,
        "not_modified": source.not_modified,
        "errors": source.errors,
        "last_error": source.last_error,
    }


def _iso(stamp: float | None) -> str | None:
    """A Unix time as ISO 8601 in UTC (None when never)."""
    return datetime.fromtimestamp(stamp, tz=timezone.utc).isoformat(timespec="seconds") if stamp else None
