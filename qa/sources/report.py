"""What one pass over a source did, and the running counters a server exposes."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class PassReport:
    """One pass over one source: entries seen, articles added, updated, merged as wire copies or deleted, pages that
    answered 304, and errors (one per feed, page or file that failed)."""

    source: str
    entries: int = 0
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    merged: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    not_modified: int = 0
    fetched: int = 0
    errors: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def summary(self) -> str:
        """One line for people."""
        parts = [
            f"{self.entries} entries", f"{len(self.added)} new", f"{len(self.updated)} updated",
            f"{len(self.merged)} wire copies merged", f"{len(self.deleted)} deleted",
            f"{self.fetched} fetched", f"{self.not_modified} unchanged (304)", f"{len(self.errors)} errors",
        ] + ([f"{len(self.skipped)} skipped (robots.txt)"] if self.skipped else [])
        return f"{self.source}: {', '.join(parts)} in {self.seconds:.1f} s"


@dataclass
class SourceTally:
    """Counters since the watcher started (for /metrics)."""

    passes: int = 0
    fetched: int = 0
    not_modified: int = 0
    errors: int = 0
    added: int = 0
    updated: int = 0
    merged: int = 0
    deleted: int = 0

    def count(self, report: PassReport) -> None:
        """Add one pass's figures."""
        self.passes += 1
        self.fetched += report.fetched
        self.not_modified += report.not_modified
        self.errors += len(report.errors)
        self.added += len(report.added)
        self.updated += len(report.updated)
        self.merged += len(report.merged)
        self.deleted += len(report.deleted)
