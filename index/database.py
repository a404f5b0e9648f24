"""The SQLite side of an index: articles, chunks, cached vectors and sentence notes."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import date
from pathlib import Path
from typing import TypeVar

import numpy as np

from index.speakers import SentenceNote
from qa.types import Article, Chunk, Outlet

SentenceVector = tuple[int, int, np.ndarray]
T = TypeVar("T")

# The other outlets that published each article (added after format 5 was released: a store written before has no
# such table until its writer next opens it, and readers take its absence for no outlets).
OUTLETS_SCHEMA = """
CREATE TABLE IF NOT EXISTS article_outlets (
    article_id TEXT NOT NULL REFERENCES articles(id) ON DELETE CASCADE, position INTEGER NOT NULL,
    source TEXT NOT NULL, url TEXT, date TEXT, PRIMARY KEY (article_id, position)
) WITHOUT ROWID;
"""
# A segment store keeps the large rows (chunk and sentence vectors) in tables numbered in the order they are written, so
# a write appends them instead of scattering them over pages keyed by content hash; only the small key index is random.
# (Generations before format 5, only ever read now, kept both keyed by chunk key.)
STORE_SCHEMA = """
CREATE TABLE IF NOT EXISTS articles (
    id TEXT PRIMARY KEY, title TEXT NOT NULL, date TEXT, source TEXT NOT NULL, url TEXT,
    text TEXT NOT NULL, content_hash TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS chunks (
    rowid INTEGER PRIMARY KEY, article_id TEXT NOT NULL REFERENCES articles(id) ON DELETE CASCADE,
    ordinal INTEGER NOT NULL, heading TEXT NOT NULL, start INTEGER NOT NULL, "end" INTEGER NOT NULL,
    text TEXT NOT NULL, embedding_key TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS chunks_by_article ON chunks(article_id);
CREATE INDEX IF NOT EXISTS chunks_by_key ON chunks(embedding_key);
CREATE TABLE IF NOT EXISTS sentence_notes (
    article_id TEXT NOT NULL REFERENCES articles(id) ON DELETE CASCADE, start INTEGER NOT NULL, "end" INTEGER NOT NULL,
    labels TEXT NOT NULL, speaker TEXT NOT NULL, speaker_start INTEGER NOT NULL, speaker_end INTEGER NOT NULL,
    affiliation TEXT NOT NULL, PRIMARY KEY (article_id, start)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS embeddings (id INTEGER PRIMARY KEY, key TEXT NOT NULL UNIQUE, vector BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS sentence_vectors (
    embedding INTEGER NOT NULL, start INTEGER NOT NULL, "end" INTEGER NOT NULL, vector BLOB NOT NULL,
    PRIMARY KEY (embedding, start)
) WITHOUT ROWID;
""" + OUTLETS_SCHEMA
BUSY_TIMEOUT_MS = 10_000
WAL_SIZE_LIMIT = 64 * 1024 * 1024
WRITER_CACHE_KIB = 256 * 1024  # spilling a large write's pages to the log early writes many of them twice


def connect(path: Path) -> sqlite3.Connection:
    """Open a database read-only (never writing or creating it): a generation of an earlier format, or a store for
    a look outside the index's own readers and writer."""
    connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False)
    connection.execute("PRAGMA foreign_keys = ON")
    return connection


def in_batches(values: Sequence[T], size: int = 500) -> Iterator[tuple[list[T], str]]:
    """Values in batches small enough for one `IN (...)`, each with its placeholders."""
    for offset in range(0, len(values), size):
        batch = list(values[offset : offset + size])
        yield batch, ",".join("?" * len(batch))


def connect_store(path: Path, create: bool = False) -> sqlite3.Connection:
    """The writer's connection to a segment store: write-ahead log, every commit flushed to disk, transactions
    begun and committed explicitly; a new store reclaims freed pages incrementally."""
    connection = sqlite3.connect(path if create else f"file:{path}?mode=rw", uri=not create, isolation_level=None, check_same_thread=False)
    connection.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    if create:
        connection.execute("PRAGMA auto_vacuum = INCREMENTAL")
        connection.executescript(STORE_SCHEMA)
    connection.execute("PRAGMA journal_mode = WAL")
    connection.execute("PRAGMA synchronous = FULL")
    connection.execute(f"PRAGMA journal_size_limit = {WAL_SIZE_LIMIT}")
    connection.execute(f"PRAGMA cache_size = -{WRITER_CACHE_KIB}")  # a write's pages stay in memory until commit
    connection.execute("PRAGMA temp_store = MEMORY")  # statement journals (each INSERT OR REPLACE keeps one) stay in memory
    connection.execute("PRAGMA foreign_keys = ON")
    if not create:
        connection.executescript(OUTLETS_SCHEMA)  # a store written before outlets existed gains their table
    return connection


def copy_generation(connection: sqlite3.Connection, legacy: Path) -> None:
    """Fill a new store's tables from a generation database of an earlier format (its vectors renumbered in the
    order of their keys; tables it does not have stay empty)."""
    connection.execute("ATTACH DATABASE ? AS legacy", (f"file:{legacy}?mode=ro",))
    try:
        tables = {row[0] for row in connection.execute("SELECT name FROM legacy.sqlite_master WHERE type = 'table'")}
        connection.execute("BEGIN IMMEDIATE")
        connection.execute("INSERT INTO articles SELECT * FROM legacy.articles")
        connection.execute('INSERT INTO chunks (rowid, article_id, ordinal, heading, start, "end", text, embedding_key) '
                           'SELECT rowid, article_id, ordinal, heading, start, "end", text, embedding_key FROM legacy.chunks')
        connection.execute("INSERT INTO embeddings (key, vector) SELECT key, vector FROM legacy.embeddings ORDER BY key")
        if "sentence_vectors" in tables:
            connection.execute(
                'INSERT INTO sentence_vectors (embedding, start, "end", vector) SELECT e.id, s.start, s."end", s.vector '
                "FROM legacy.sentence_vectors AS s JOIN embeddings AS e ON e.key = s.key ORDER BY e.id, s.start"
            )
        if "sentence_notes" in tables:
            connection.execute("INSERT INTO sentence_notes SELECT * FROM legacy.sentence_notes")
        connection.execute("COMMIT")
    finally:
        if connection.in_transaction:
            connection.execute("ROLLBACK")
        connection.execute("DETACH DATABASE legacy")


def connect_reader(path: Path) -> sqlite3.Connection:
    """A reader's connection to a segment store (never creates the file); it only reads, in transactions it begins."""
    connection = sqlite3.connect(f"file:{path}?mode=rw", uri=True, isolation_level=None, check_same_thread=False)
    connection.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    return connection


def checkpoint(connection: sqlite3.Connection) -> None:
    """Copy committed pages from the write-ahead log into the database as far as readers allow, without waiting."""
    connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()


def article_hashes(connection: sqlite3.Connection, article_ids: Iterable[str] | None = None) -> dict[str, str]:
    """Stored article ids with their content hashes: these ids' (those stored), or every article's when None."""
    if article_ids is None:
        return dict(connection.execute("SELECT id, content_hash FROM articles"))
    found: dict[str, str] = {}
    for batch, marks in in_batches(list(dict.fromkeys(article_ids))):
        found.update(connection.execute(f"SELECT id, content_hash FROM articles WHERE id IN ({marks})", batch))
    return found


def cached_keys(connection: sqlite3.Connection, keys: Sequence[str]) -> set[str]:
    """Which of these chunk keys already have a stored vector."""
    found: set[str] = set()
    for batch, marks in in_batches(keys):
        found.update(row[0] for row in connection.execute(f"SELECT key FROM embeddings WHERE key IN ({marks})", batch))
    return found


def delete_articles(connection: sqlite3.Connection, article_ids: Iterable[str]) -> list[int]:
    """Remove articles with their chunks; return the removed chunk row ids."""
    removed: list[int] = []
    for article_id in article_ids:
        removed.extend(row[0] for row in connection.execute("SELECT rowid FROM chunks WHERE article_id = ?", (article_id,)))
        connection.execute("DELETE FROM chunks WHERE article_id = ?", (article_id,))
        connection.execute("DELETE FROM articles WHERE id = ?", (article_id,))
    return removed


def insert_article(
    connection: sqlite3.Connection, article: Article, chunks: Sequence[Chunk], keys: Sequence[str], first_rowid: int | None = None
) -> list[int]:
    """Store an article with its chunks (numbered from first_rowid when given); return the new chunk row ids."""
    rowids: list[int] = []
    connection.execute(
        "INSERT INTO articles VALUES (?, ?, ?, ?, ?, ?, ?)",
        (
            article.id, article.title, article.date and article.date.isoformat(), article.source, article.url,
            article.text, article.content_hash,
        ),
    )
    for number, (chunk, key) in enumerate(zip(chunks, keys, strict=True)):
        cursor = connection.execute(
            'INSERT INTO chunks (rowid, article_id, ordinal, heading, start, "end", text, embedding_key) '
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (None if first_rowid is None else first_rowid + number, chunk.article_id, chunk.ordinal, chunk.heading,
             chunk.start, chunk.end, chunk.text, key),
        )
        rowids.append(int(cursor.lastrowid or 0))
    connection.executemany(
        "INSERT INTO article_outlets (article_id, position, source, url, date) VALUES (?, ?, ?, ?, ?)",
        ((article.id, position, outlet.source, outlet.url, outlet.date and outlet.date.isoformat())
         for position, outlet in enumerate(article.outlets)),
    )
    return rowids


def stored_articles(connection: sqlite3.Connection) -> Iterator[tuple[Article, list[tuple[int, Chunk]]]]:
    """Every stored article with its chunks and their row ids, in chunk order."""
    chunks: dict[str, list[tuple[int, Chunk]]] = {}
    rows = connection.execute('SELECT rowid, article_id, ordinal, start, "end", text, heading FROM chunks ORDER BY article_id, ordinal')
    for rowid, article_id, ordinal, start, end, text, heading in rows:
        chunks.setdefault(article_id, []).append((int(rowid), Chunk(article_id, int(ordinal), int(start), int(end), text, heading)))
    outlets = outlets_of(connection)
    for row in connection.execute("SELECT * FROM articles"):
        article = row_to_article(row, outlets.get(str(row[0]), ()))
        yield article, chunks.get(article.id, [])


def has_outlets(connection: sqlite3.Connection) -> bool:
    """Whether any article has other outlets (a store written before outlets existed has no table for them)."""
    found = connection.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'article_outlets'").fetchone()
    return found is not None and connection.execute("SELECT 1 FROM article_outlets LIMIT 1").fetchone() is not None


def outlets_of(connection: sqlite3.Connection, article_ids: Iterable[str] | None = None) -> dict[str, tuple[Outlet, ...]]:
    """The other outlets of these articles (of every article when None), in their order, by article id; only
    articles that have some are named. The caller knows the table exists (has_outlets, or a writer's connection)."""
    sql = "SELECT article_id, source, url, date FROM article_outlets"
    if article_ids is None:
        rows = connection.execute(sql + " ORDER BY article_id, position").fetchall()
    else:
        rows = []
        for batch, marks in in_batches(list(dict.fromkeys(article_ids))):
            rows += connection.execute(sql + f" WHERE article_id IN ({marks}) ORDER BY article_id, position", batch).fetchall()
    found: dict[str, list[Outlet]] = {}
    for article_id, source, url, published in rows:
        found.setdefault(str(article_id), []).append(Outlet(str(source), str(url) if url else None, _day(published)))
    return {article_id: tuple(outlets) for article_id, outlets in found.items()}


def store_notes(connection: sqlite3.Connection, notes: Mapping[str, Sequence[SentenceNote]]) -> None:
    """Keep each article's sentence notes (speakers, kinds of names), replacing any it had."""
    for article_id, article_notes in notes.items():
        connection.execute("DELETE FROM sentence_notes WHERE article_id = ?", (article_id,))
        connection.executemany(
            'INSERT OR REPLACE INTO sentence_notes (article_id, start, "end", labels, speaker, speaker_start, speaker_end, affiliation) '
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                (article_id, note.start, note.end, " ".join(sorted(note.labels)), note.speaker, note.speaker_start,
                 note.speaker_end, note.affiliation)
                for note in article_notes
            ),
        )


def notes_between(connection: sqlite3.Connection, article_id: str, start: int, end: int) -> list[SentenceNote]:
    """The notes of an article's sentences that start within [start, end)."""
    rows = connection.execute(
        'SELECT start, "end", labels, speaker, speaker_start, speaker_end, affiliation FROM sentence_notes '
        "WHERE article_id = ? AND start >= ? AND start < ? ORDER BY start",
        (article_id, start, end),
    ).fetchall()
    return [
        SentenceNote(int(first), int(last), frozenset(labels.split()), speaker, int(speaker_start), int(speaker_end), affiliation)
        for first, last, labels, speaker, speaker_start, speaker_end, affiliation in rows
    ]


def store_vectors(connection: sqlite3.Connection, vectors: dict[str, np.ndarray]) -> None:
    """Cache vectors by chunk key."""
    connection.executemany(
        "INSERT OR IGNORE INTO embeddings (key, vector) VALUES (?, ?)",
        ((key, np.asarray(vector, dtype=np.float32).tobytes()) for key, vector in vectors.items()),
    )


def store_sentence_vectors(connection: sqlite3.Connection, sentences: dict[str, list[SentenceVector]]) -> None:
    """Cache each chunk's sentence vectors (offsets into the chunk text) as float16, under its chunk vector's number
    (a store's layout; the chunk vectors are stored first)."""
    connection.executemany(
        'INSERT OR REPLACE INTO sentence_vectors (embedding, start, "end", vector) SELECT id, ?, ?, ? FROM embeddings WHERE key = ?',
        (
            (start, end, np.asarray(vector, dtype=np.float16).tobytes(), key)
            for key, rows in sentences.items()
            for start, end, vector in rows
        ),
    )


_SENTENCES_BY_NUMBER = (
    'SELECT s.start, s."end", s.vector FROM chunks JOIN embeddings AS e ON e.key = chunks.embedding_key '
    "JOIN sentence_vectors AS s ON s.embedding = e.id WHERE chunks.article_id = ? AND chunks.ordinal = ? ORDER BY s.start"
)
_SENTENCES_BY_KEY = (  # generations before format 5
    'SELECT s.start, s."end", s.vector FROM chunks JOIN sentence_vectors AS s ON s.key = chunks.embedding_key '
    "WHERE chunks.article_id = ? AND chunks.ordinal = ? ORDER BY s.start"
)


def sentence_vectors(
    connection: sqlite3.Connection, article_id: str, ordinal: int, dimension: int, by_number: bool = True
) -> list[SentenceVector]:
    """One chunk's sentences as (start, end, vector), offsets into the chunk text, in text order (by_number False
    for a generation of an earlier format, whose sentence vectors are keyed by chunk key)."""
    sql = _SENTENCES_BY_NUMBER if by_number else _SENTENCES_BY_KEY
    rows = connection.execute(sql, (article_id, ordinal)).fetchall()
    return [(int(start), int(end), np.frombuffer(blob, dtype=np.float16, count=dimension).astype(np.float32)) for start, end, blob in rows]


def article_keys(connection: sqlite3.Connection, article_ids: Iterable[str]) -> set[str]:
    """The embedding keys of these articles' chunks."""
    keys: set[str] = set()
    for article_id in article_ids:
        keys.update(row[0] for row in connection.execute("SELECT embedding_key FROM chunks WHERE article_id = ?", (article_id,)))
    return keys


def drop_unused_vectors(connection: sqlite3.Connection, keys: Iterable[str]) -> None:
    """Forget the cached chunk and sentence vectors of these keys when no chunk uses them any more."""
    unused = [(key,) for key in keys if connection.execute("SELECT 1 FROM chunks WHERE embedding_key = ?", (key,)).fetchone() is None]
    connection.executemany("DELETE FROM sentence_vectors WHERE embedding = (SELECT id FROM embeddings WHERE key = ?)", unused)
    connection.executemany("DELETE FROM embeddings WHERE key = ?", unused)


def chunk_placements(
    connection: sqlite3.Connection, article_ids: Sequence[str] | None = None
) -> list[tuple[int, str, str | None]]:
    """Row id, article id and article date of the chunks of these articles (all when None), in row id order."""
    sql = "SELECT chunks.rowid, article_id, date FROM chunks JOIN articles ON articles.id = chunks.article_id"
    if article_ids is None:
        return connection.execute(sql + " ORDER BY chunks.rowid").fetchall()
    rows: list[tuple[int, str, str | None]] = []
    for batch, marks in in_batches(list(article_ids)):
        rows += connection.execute(sql + f" WHERE article_id IN ({marks})", batch).fetchall()
    return sorted(rows)


def chunk_vectors(
    connection: sqlite3.Connection, dimension: int, rowids: Sequence[int] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Row ids and vectors of some chunks (all when rowids is None), in row id order."""
    sql = "SELECT chunks.rowid, embeddings.vector FROM chunks JOIN embeddings ON embeddings.key = chunks.embedding_key"
    rows: list[tuple[int, bytes]] = []
    if rowids is None:
        rows = connection.execute(sql + " ORDER BY chunks.rowid").fetchall()
    else:
        for batch, marks in in_batches(rowids):
            rows += connection.execute(sql + f" WHERE chunks.rowid IN ({marks})", batch).fetchall()
        rows.sort()
    ids = np.fromiter((row[0] for row in rows), dtype=np.int64, count=len(rows))
    vectors = np.frombuffer(b"".join(row[1] for row in rows), dtype=np.float32).reshape(len(rows), dimension)
    return ids, vectors


def row_to_article(row: Sequence[object], outlets: tuple[Outlet, ...] = ()) -> Article:
    """Rebuild an Article from an `articles` row and its outlets."""
    article_id, title, published, source, url, text, content_hash = row
    return Article(
        id=str(article_id), title=str(title), text=str(text), source=str(source), date=_day(published),
        url=str(url) if url else None, outlets=outlets, content_hash=str(content_hash),
    )


def _day(stored: object) -> date | None:
    """A stored YYYY-MM-DD date, or None."""
    return date.fromisoformat(str(stored)) if stored else None
