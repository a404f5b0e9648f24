"""The state of a segment store, kept in its SQLite database: the live vector segments, the tombstones, the keyword
commit and the write counter. One transaction changes the rows and this state together, so a reader that starts a
read transaction sees one consistent index."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

STATE_SCHEMA = """
CREATE TABLE IF NOT EXISTS segments (
    name TEXT PRIMARY KEY, kind TEXT NOT NULL, vectors INTEGER NOT NULL, trained INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS tombstones (rowid INTEGER PRIMARY KEY);
CREATE TABLE IF NOT EXISTS store_state (key TEXT PRIMARY KEY, value NOT NULL);
CREATE TABLE IF NOT EXISTS changes (generation INTEGER NOT NULL, article_id TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS changes_by_generation ON changes(generation);
"""
CHANGE_LOG_WRITES = 1_000  # how many writes back a reader's catalog can be brought up to date from the change log


@dataclass(frozen=True)
class Segment:
    """An immutable FAISS file of chunk vectors keyed by chunk row id; `vectors` counts every id it holds, live or
    tombstoned; `trained` is the number of vectors its IVF quantizer was trained on (0 for exact search)."""

    name: str
    kind: str
    vectors: int
    trained: int = 0


@dataclass(frozen=True)
class StoreState:
    """What one committed write left live: its number, the segments, the tombstoned chunk ids (deleted chunks that a
    segment still holds, until compaction rewrites it) and the keyword commit readers open."""

    generation: int
    segments: tuple[Segment, ...]
    tombstones: frozenset[int]
    keyword: str
    next_rowid: int
    articles: int
    chunks: int
    log_from: int = 0  # every article changed by a write after this one is in the change log

    @property
    def vectors(self) -> int:
        """Ids the segments hold, live or tombstoned."""
        return sum(segment.vectors for segment in self.segments)


def segment_file(directory: Path, store: int, name: str) -> Path:
    """The FAISS file of a segment of a store."""
    return directory / f"store-{store:06d}.{name}.faiss"


def keyword_folder(directory: Path, store: int, name: str) -> Path:
    """A keyword (tantivy) commit folder of a store."""
    return directory / f"store-{store:06d}.{name}"


def create_state(connection: sqlite3.Connection) -> None:
    """Add the state tables to a database (a new store, or one converted from a generation)."""
    connection.executescript(STATE_SCHEMA)
    connection.execute(
        "INSERT OR IGNORE INTO store_state VALUES ('log_from', coalesce((SELECT value FROM store_state WHERE key = 'generation'), 0))"
    )
    if connection.execute("SELECT count(*) FROM store_state WHERE key IN ('articles', 'chunks')").fetchone()[0] == 2:
        return
    next_rowid = int(connection.execute("SELECT coalesce(max(rowid), 0) + 1 FROM chunks").fetchone()[0])
    articles = int(connection.execute("SELECT count(*) FROM articles").fetchone()[0])
    chunks = int(connection.execute("SELECT count(*) FROM chunks").fetchone()[0])
    connection.executemany(
        "INSERT OR IGNORE INTO store_state VALUES (?, ?)",
        [("generation", 0), ("keyword", ""), ("next_rowid", next_rowid), ("next_name", 1), ("articles", articles),
         ("chunks", chunks)],
    )


def read_state(connection: sqlite3.Connection) -> StoreState:
    """The state as of the connection's current transaction."""
    values = dict(connection.execute("SELECT key, value FROM store_state"))
    segments = tuple(
        Segment(str(name), str(kind), int(vectors), int(trained))
        for name, kind, vectors, trained in connection.execute("SELECT name, kind, vectors, trained FROM segments ORDER BY name")
    )
    tombstones = frozenset(int(row[0]) for row in connection.execute("SELECT rowid FROM tombstones"))
    return StoreState(
        int(values["generation"]), segments, tombstones, str(values["keyword"]), int(values["next_rowid"]),
        int(values["articles"]), int(values["chunks"]), int(values.get("log_from", values["generation"])),
    )


def current_generation(connection: sqlite3.Connection) -> int:
    """The number of the last committed write."""
    return int(connection.execute("SELECT value FROM store_state WHERE key = 'generation'").fetchone()[0])


def new_name(connection: sqlite3.Connection, prefix: str) -> str:
    """A file name no committed state has used (a write that is abandoned rolls the counter back, and the next one
    overwrites whatever file it left under that name)."""
    number = int(connection.execute("SELECT value FROM store_state WHERE key = 'next_name'").fetchone()[0])
    connection.execute("UPDATE store_state SET value = ? WHERE key = 'next_name'", (number + 1,))
    return f"{prefix}-{number:06d}"


def allocate_rowids(connection: sqlite3.Connection, count: int) -> int:
    """Reserve count chunk row ids, never reused (an old segment may still hold a deleted id); the first is returned."""
    first = int(connection.execute("SELECT value FROM store_state WHERE key = 'next_rowid'").fetchone()[0])
    connection.execute("UPDATE store_state SET value = ? WHERE key = 'next_rowid'", (first + count,))
    return first


def record_write(connection: sqlite3.Connection, keyword: str | None, articles: int = 0, chunks: int = 0) -> int:
    """Count one more committed write, which changed the numbers of articles and chunks by these (and point readers
    at a new keyword commit); return its number."""
    generation = current_generation(connection) + 1
    connection.execute("UPDATE store_state SET value = ? WHERE key = 'generation'", (generation,))
    connection.execute("UPDATE store_state SET value = value + ? WHERE key = 'articles'", (articles,))
    connection.execute("UPDATE store_state SET value = value + ? WHERE key = 'chunks'", (chunks,))
    if keyword is not None:
        connection.execute("UPDATE store_state SET value = ? WHERE key = 'keyword'", (keyword,))
    return generation


def log_changes(connection: sqlite3.Connection, generation: int, article_ids: Iterable[str]) -> None:
    """Record which articles a write added, replaced or deleted, and forget what is older than CHANGE_LOG_WRITES
    writes back."""
    connection.executemany("INSERT INTO changes VALUES (?, ?)", ((generation, article_id) for article_id in article_ids))
    oldest = generation - CHANGE_LOG_WRITES
    if int(connection.execute("SELECT value FROM store_state WHERE key = 'log_from'").fetchone()[0]) < oldest:
        connection.execute("DELETE FROM changes WHERE generation <= ?", (oldest,))
        connection.execute("UPDATE store_state SET value = ? WHERE key = 'log_from'", (oldest,))


def changed_since(connection: sqlite3.Connection, generation: int) -> list[str]:
    """The articles written after that generation (the caller checks it is not older than the log)."""
    return [str(row[0]) for row in connection.execute("SELECT DISTINCT article_id FROM changes WHERE generation > ?", (generation,))]


def add_segment(connection: sqlite3.Connection, segment: Segment) -> None:
    """Make a written segment live."""
    connection.execute(
        "INSERT INTO segments (name, kind, vectors, trained) VALUES (?, ?, ?, ?)",
        (segment.name, segment.kind, segment.vectors, segment.trained),
    )


def tombstone(connection: sqlite3.Connection, rowids: list[int]) -> None:
    """Mark deleted chunks: every stored chunk is in exactly one live segment, which keeps its id until compaction."""
    connection.executemany("INSERT OR IGNORE INTO tombstones (rowid) VALUES (?)", ((rowid,) for rowid in rowids))


def replace_segments(
    connection: sqlite3.Connection, merged: tuple[Segment, ...], result: Segment | None, purged: np.ndarray
) -> None:
    """Swap merged segments for their result (None when nothing live was left in them) and forget the tombstones
    of the ids they no longer hold; a chunk deleted while they were merged stays tombstoned in the result."""
    names = [segment.name for segment in merged]
    connection.execute(f"DELETE FROM segments WHERE name IN ({','.join('?' * len(names))})", names)
    connection.executemany("DELETE FROM tombstones WHERE rowid = ?", ((int(rowid),) for rowid in purged))
    if result is not None:
        add_segment(connection, result)
