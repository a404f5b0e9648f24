"""The sources an index follows and what was fetched from them, kept in `sources.sqlite` beside the index."""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Collection, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from qa.errors import SourceError

FILE_NAME = "sources.sqlite"
_SCHEMA = """
CREATE TABLE IF NOT EXISTS sources (
    name TEXT PRIMARY KEY, location TEXT NOT NULL UNIQUE, kind TEXT NOT NULL CHECK (kind IN ('feed', 'folder')),
    every_seconds REAL NOT NULL, added REAL NOT NULL, last_fetch REAL, next_fetch REAL NOT NULL DEFAULT 0,
    last_error TEXT NOT NULL DEFAULT '', fetches INTEGER NOT NULL DEFAULT 0, not_modified INTEGER NOT NULL DEFAULT 0,
    errors INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS documents (
    location TEXT PRIMARY KEY, source TEXT NOT NULL REFERENCES sources(name) ON DELETE CASCADE,
    etag TEXT, last_modified TEXT, body_hash TEXT NOT NULL DEFAULT '', article_ids TEXT NOT NULL DEFAULT '[]',
    fetched REAL NOT NULL, placements TEXT NOT NULL DEFAULT '[]'
);
CREATE INDEX IF NOT EXISTS documents_by_source ON documents(source);
CREATE TABLE IF NOT EXISTS wire (article_id TEXT PRIMARY KEY, signature BLOB NOT NULL, policy TEXT NOT NULL);
"""


@dataclass(frozen=True)
class Source:
    """A feed URL or a folder the index follows, and how its fetches went."""

    name: str
    location: str
    kind: str
    every_seconds: float
    added: float
    last_fetch: float | None = None
    next_fetch: float = 0.0
    last_error: str = ""
    fetches: int = 0
    not_modified: int = 0
    errors: int = 0
    articles: int = 0


@dataclass(frozen=True)
class Placement:
    """Where an article a document gave went: indexed as itself (holder == own_id) or, a wire copy, listed as another
    outlet (source, url) of the holder."""

    own_id: str
    holder: str
    source: str
    url: str | None

    @property
    def merged(self) -> bool:
        """Whether it was merged into another article as one more outlet."""
        return self.own_id != self.holder


@dataclass(frozen=True)
class Document:
    """A fetched feed, page or file: its validators, a hash of what it held, and where its articles went."""

    location: str
    source: str
    etag: str | None
    last_modified: str | None
    body_hash: str
    fetched: float
    placements: tuple[Placement, ...] = ()

    @property
    def article_ids(self) -> tuple[str, ...]:
        """The indexed articles that hold what it gave."""
        return tuple(dict.fromkeys(placement.holder for placement in self.placements))


class SourceRegistry:
    """Sources, fetched documents and the wire-story signatures of one index, in one SQLite file."""

    def __init__(self, index_dir: Path) -> None:
        index_dir.mkdir(parents=True, exist_ok=True)
        self.path = index_dir / FILE_NAME
        self._lock = threading.Lock()
        self._connection = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self._connection.execute("PRAGMA busy_timeout = 10000")
        self._connection.execute("PRAGMA journal_mode = WAL")
        self._connection.execute("PRAGMA foreign_keys = ON")
        self._connection.executescript(_SCHEMA)

    def close(self) -> None:
        """Close the database."""
        self._connection.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction (a crash leaves the state before or after it)."""
        with self._lock:
            self._connection.execute("BEGIN IMMEDIATE")
            try:
                yield self._connection
            except BaseException:
                self._connection.execute("ROLLBACK")
                raise
            self._connection.execute("COMMIT")

    def add(self, name: str, location: str, kind: str, every_seconds: float) -> Source:
        """Follow a new source; a name or location already followed is an error that says which."""
        with self._transaction() as connection:
            clash = connection.execute(
                "SELECT name, location FROM sources WHERE name = ? OR location = ?", (name, location)
            ).fetchone()
            if clash:
                raise SourceError(f"already following {clash[1]} as {clash[0]!r}; remove it first with `qa sources remove {clash[0]}`")
            connection.execute(
                "INSERT INTO sources (name, location, kind, every_seconds, added) VALUES (?, ?, ?, ?, ?)",
                (name, location, kind, every_seconds, time.time()),
            )
        return self.get(name)

    def remove(self, name: str) -> Source:
        """Stop following a source (its articles stay indexed); return what it was."""
        source = self.get(name)
        with self._transaction() as connection:
            connection.execute("DELETE FROM sources WHERE name = ?", (name,))
        return source

    def get(self, name: str) -> Source:
        """One source by name (or location)."""
        found = [source for source in self.list() if name in (source.name, source.location)]
        if not found:
            raise SourceError(f"no source named {name!r}; list them with `qa sources list`")
        return found[0]

    def list(self) -> list[Source]:
        """Every source, with how many articles it gave."""
        with self._lock:
            rows = self._connection.execute(
                "SELECT s.*, (SELECT count(DISTINCT value) FROM documents d, json_each(d.article_ids) "
                "WHERE d.source = s.name) FROM sources s ORDER BY s.name"
            ).fetchall()
        return [Source(*row) for row in rows]

    def record_fetch(self, name: str, error: str, not_modified: int, next_fetch: float) -> None:
        """Count a pass over a source: its error ('' when it went well), its requests answered 304, when it is next
        due."""
        with self._transaction() as connection:
            connection.execute(
                "UPDATE sources SET last_fetch = ?, next_fetch = ?, last_error = ?, fetches = fetches + 1, "
                "not_modified = not_modified + ?, errors = errors + ? WHERE name = ?",
                (time.time(), next_fetch, error, not_modified, int(bool(error)), name),
            )

    def document(self, location: str) -> Document | None:
        """What was last fetched from a location."""
        with self._lock:
            row = self._connection.execute("SELECT * FROM documents WHERE location = ?", (location,)).fetchone()
        return _document(row) if row else None

    def documents(self, source: str) -> list[Document]:
        """Everything fetched from a source."""
        with self._lock:
            rows = self._connection.execute("SELECT * FROM documents WHERE source = ?", (source,)).fetchall()
        return [_document(row) for row in rows]

    def save_document(self, document: Document) -> None:
        """Remember what a location held."""
        with self._transaction() as connection:
            connection.execute(
                "INSERT OR REPLACE INTO documents VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (document.location, document.source, document.etag, document.last_modified, document.body_hash,
                 json.dumps(list(document.article_ids)), document.fetched,
                 json.dumps([list(vars(placement).values()) for placement in document.placements])),
            )

    def forget_document(self, location: str) -> None:
        """Forget a location (a deleted file)."""
        with self._transaction() as connection:
            connection.execute("DELETE FROM documents WHERE location = ?", (location,))

    def still_given(self, article_ids: Sequence[str], leaving: Collection[str]) -> set[str]:
        """Which of these articles a document other than the `leaving` ones still gives (a wire story's other copy)."""
        with self._lock:
            rows = self._connection.execute(
                "SELECT location, value FROM documents, json_each(article_ids)"
            ).fetchall()
        return {str(value) for location, value in rows if location not in leaving} & set(article_ids)

    def signatures(self, policy: str, after: int = 0) -> list[tuple[int, str, bytes]]:
        """Wire-story signatures made under this policy and stored after row `after` (all by default; another
        process may add some), with their row numbers."""
        with self._lock:
            rows = self._connection.execute(
                "SELECT rowid, article_id, signature FROM wire WHERE rowid > ? AND policy = ?", (after, policy)
            )
            return [(int(row[0]), str(row[1]), bytes(row[2])) for row in rows]

    def save_signature(self, article_id: str, signature: bytes, policy: str) -> None:
        """Remember an indexed article's signature, and the policy it was made under."""
        with self._transaction() as connection:
            connection.execute("INSERT OR REPLACE INTO wire VALUES (?, ?, ?)", (article_id, signature, policy))

    def forget_signature(self, article_id: str) -> None:
        """Forget a deleted article's signature."""
        with self._transaction() as connection:
            connection.execute("DELETE FROM wire WHERE article_id = ?", (article_id,))


def _document(row: tuple[object, ...]) -> Document:
    """A documents row."""
    location, source, etag, last_modified, body_hash, _, fetched, placements = row
    return Document(
        str(location), str(source), etag and str(etag), last_modified and str(last_modified),  # type: ignore[arg-type]
        str(body_hash), float(fetched),  # type: ignore[arg-type]
        tuple(Placement(*item) for item in json.loads(str(placements))),
    )
