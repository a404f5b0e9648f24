"""A read-only view of the live index generation: vector search, keyword search and lookups."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
import threading
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import faiss
import numpy as np

from index import database
from index.catalog import ChunkCatalog, ChunkOwner
from index.keyword import KeywordFilter, KeywordIndex
from index.speakers import SentenceNote
from index.manifest import MANIFEST_NAME, Manifest, read_manifest
from index.vectors import load_vector_index, search_vectors
from qa.errors import IndexCorruptError, QAError
from qa.types import Article, SearchFilters


@dataclass(frozen=True)
class ChunkRow:
    """A stored chunk joined with its article's metadata."""

    rowid: int
    article_id: str
    ordinal: int
    heading: str
    start: int
    end: int
    text: str
    title: str
    date: date | None
    source: str
    url: str | None


class IndexSnapshot:
    """One published generation, opened read-only; safe to share between threads."""

    def __init__(self, directory: Path, manifest: Manifest) -> None:
        self.directory = directory
        self.manifest = manifest
        try:
            self._vectors: faiss.Index = load_vector_index(
                manifest.vectors_path(directory), memory_map=manifest.faiss_kind != "flat"
            )
            self._connection = database.connect(manifest.database_path(directory), read_only=True)
            self._connection.execute("SELECT count(*) FROM chunks").fetchone()
            self._keywords = KeywordIndex(manifest.keyword_path(directory))
        except (RuntimeError, sqlite3.DatabaseError) as error:
            raise IndexCorruptError(
                f"the index at {directory} cannot be read ({error}); rebuild it with "
                f"`qa index --rebuild --index-dir {directory}`"
            ) from error
        self._lock = threading.Lock()
        self._catalog: ChunkCatalog | None = None

    @classmethod
    def open(cls, directory: Path, model: str, dimension: int, retries: int = 3) -> IndexSnapshot:
        """Open the live generation, refusing one built with another model or format; if a writer published a newer
        one (deleting this one's files) between reading the manifest and opening the files, open the newer one."""
        manifest = read_manifest(directory)
        manifest.check_compatible(directory, model, dimension)
        try:
            return cls(directory, manifest)
        except IndexCorruptError:
            if retries == 0 or read_manifest(directory) == manifest:
                raise
            return cls.open(directory, model, dimension, retries - 1)

    def is_current(self) -> bool:
        """False once a newer generation has been published."""
        try:
            return read_manifest(self.directory).generation == self.manifest.generation
        except (QAError, OSError):
            return True

    @property
    def size(self) -> int:
        """Number of chunks in this generation."""
        return int(self._vectors.ntotal)

    @property
    def keyword_size(self) -> int:
        """Number of chunks the keyword index holds in this generation."""
        return self._keywords.chunk_count

    def dense(self, query: np.ndarray, k: int, allowed: np.ndarray | None) -> list[tuple[int, float]]:
        """Top-k chunks by cosine similarity."""
        return search_vectors(self._vectors, query, k, allowed)

    def vectors_for(self, rowids: list[int]) -> np.ndarray:
        """The stored vectors of some chunks, in the given order."""
        with self._lock:
            ids, vectors = database.chunk_vectors(self._connection, self.manifest.dimension, rowids)
        position = {int(rowid): row for row, rowid in enumerate(ids)}
        return vectors[[position[rowid] for rowid in rowids]]

    def sentence_vectors(self, article_id: str, ordinal: int) -> list[database.SentenceVector]:
        """One chunk's sentences as (start, end, unit vector), offsets into the chunk text, computed at index time."""
        with self._lock:
            return database.sentence_vectors(self._connection, article_id, ordinal, self.manifest.dimension)

    def sentence_notes(self, article_id: str, start: int, end: int) -> list[SentenceNote]:
        """Index-time notes (speaker, kinds of names) on an article's sentences that start within [start, end)."""
        with self._lock:
            return database.notes_between(self._connection, article_id, start, end)

    def keyword_terms(self, question: str) -> list[str]:
        """The question's keyword terms, analysed as the indexed text (stems, no stop words)."""
        return self._keywords.terms(question)

    def keyword(self, terms: list[str], k: int, filters: SearchFilters) -> list[tuple[int, float]]:
        """Top-k chunks by BM25 over title, heading and text (any term may match), among those that pass the filters."""
        only = self._keyword_filter(filters)
        return self._keywords.chunks(terms, k, only) if only is not None else []

    def keyword_articles(self, terms: list[str], k: int, filters: SearchFilters) -> list[tuple[str, float]]:
        """Top-k articles by BM25 over their title and whole text, among those that pass the filters."""
        only = self._keyword_filter(filters)
        return self._keywords.articles(terms, k, only) if only is not None else []

    def _keyword_filter(self, filters: SearchFilters) -> KeywordFilter | None:
        """The filters as the keyword index applies them (sources become the ids of the articles they match);
        None when no article can pass."""
        allowed: tuple[str, ...] | None = None
        if filters.sources:
            matching = self.catalog.allowed_articles(SearchFilters(sources=filters.sources))
            if matching is not None:
                allowed = self.catalog.article_ids(matching)
                if not allowed:
                    return None
        return KeywordFilter(filters.since, filters.until, allowed, filters.exclude_articles, filters.as_of)

    def allowed_ids(self, filters: SearchFilters) -> np.ndarray | None:
        """A mask over chunk row ids that pass the filters (mask[rowid] is True), or None when nothing is filtered out."""
        if not (filters.since or filters.until or filters.as_of or filters.sources or filters.exclude_articles):
            return None
        return self.catalog.allowed_chunks(filters)

    def owners(self, rowids: Iterable[int]) -> dict[int, ChunkOwner]:
        """The article (id and date) of each chunk, from memory."""
        return self.catalog.owners(rowids)

    @property
    def catalog(self) -> ChunkCatalog:
        """Each chunk's article and the fields filters test, read on first use."""
        with self._lock:
            if self._catalog is None:
                self._catalog = ChunkCatalog(self._connection)
            return self._catalog

    def chunks(self, rowids: list[int]) -> dict[int, ChunkRow]:
        """Chunks with their article metadata, by row id."""
        if not rowids:
            return {}
        marks = ",".join("?" * len(rowids))
        sql = (
            'SELECT chunks.rowid, article_id, ordinal, heading, start, "end", chunks.text, title, date, source, url '
            f"FROM chunks JOIN articles ON articles.id = chunks.article_id WHERE chunks.rowid IN ({marks})"
        )
        with self._lock:
            rows = self._connection.execute(sql, rowids).fetchall()
        return {row[0]: _chunk_row(row) for row in rows}

    def neighbours(self, article_id: str, ordinal: int) -> list[ChunkRow]:
        """The chunks just before and after one chunk of an article."""
        sql = (
            'SELECT chunks.rowid, article_id, ordinal, heading, start, "end", chunks.text, title, date, source, url '
            "FROM chunks JOIN articles ON articles.id = chunks.article_id WHERE article_id = ? AND ordinal BETWEEN ? AND ?"
        )
        with self._lock:
            rows = self._connection.execute(sql, (article_id, ordinal - 1, ordinal + 1)).fetchall()
        return [_chunk_row(row) for row in rows]

    def article(self, article_id: str) -> Article | None:
        """One stored article, or None."""
        with self._lock:
            row = self._connection.execute("SELECT * FROM articles WHERE id = ?", (article_id,)).fetchone()
        return database.row_to_article(row) if row else None

    def articles(self, limit: int = 100, offset: int = 0) -> list[Article]:
        """Stored articles, newest first."""
        with self._lock:
            rows = self._connection.execute(
                "SELECT * FROM articles ORDER BY date DESC, id LIMIT ? OFFSET ?", (limit, offset)
            ).fetchall()
        return [database.row_to_article(row) for row in rows]

    def article_texts(self, article_ids: list[str]) -> dict[str, str]:
        """Full texts of some articles."""
        if not article_ids:
            return {}
        marks = ",".join("?" * len(article_ids))
        with self._lock:
            rows = self._connection.execute(f"SELECT id, text FROM articles WHERE id IN ({marks})", article_ids)
            return dict(rows.fetchall())

    def close(self) -> None:
        """Release the database connection."""
        self._connection.close()


def index_exists(directory: Path) -> bool:
    """Whether a published index is at directory."""
    return (directory / MANIFEST_NAME).exists()


def _chunk_row(row: tuple[object, ...]) -> ChunkRow:
    """Map a joined row to a ChunkRow."""
    rowid, article_id, ordinal, heading, start, end, text, title, published, source, url = row
    return ChunkRow(
        int(rowid), str(article_id), int(ordinal), str(heading), int(start), int(end), str(text), str(title),  # type: ignore[call-overload]
        date.fromisoformat(str(published)) if published else None, str(source), str(url) if url else None,
    )
