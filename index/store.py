"""A read-only view of the live index generation: vector search, keyword search and lookups."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Mapping, Sequence
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
from index.files import opening
from index.manifest import MANIFEST_NAME, Manifest, read_manifest
from index.segments import Segment, StoreState, changed_since, current_generation, keyword_folder, read_state, segment_file
from index.milvus_vectors import ARTICLE_LIST_LIMIT, MilvusVectors, filter_expression
from index.vector_store import VectorStoreConfig
from index.vectors import FLAT, load_vector_index, search_segments
from qa.errors import IndexCorruptError, QAError, VectorStoreError
from qa.types import Article, Outlet, SearchFilters


MAX_GONE_SHARE = 0.5  # a catalog brought up to date this often is read whole again


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
    outlets: tuple[Outlet, ...] = ()


@dataclass(frozen=True)
class Reusable:
    """What a newer snapshot can take over from an older one: its loaded segments (files never change) and, within
    the same store, its chunk catalog as of its generation (brought up to date from the change log)."""

    manifest: Manifest
    segment_files: Mapping[Path, faiss.Index]
    catalog: tuple[ChunkCatalog, int] | None  # and the generation it is up to date with
    milvus: MilvusVectors | None = None  # its connection to the store's Milvus collection


class IndexSnapshot:
    """One consistent state of the index, opened read-only; safe to share between threads.

    A segment store (format 5) is read inside one SQLite read transaction held for the snapshot's life, begun before
    the live state is read: rows, segments, tombstones and keyword commit all belong to the same committed write,
    whatever writers do meanwhile. A generation of an older format is immutable and read as before."""

    def __init__(
        self, directory: Path, manifest: Manifest, reuse: Reusable | None = None,
        vector_store: VectorStoreConfig = VectorStoreConfig(),
    ) -> None:
        self.directory = directory
        self.manifest = manifest
        self.vector_store = vector_store
        self.milvus: MilvusVectors | None = None
        try:
            if manifest.segmented:
                with opening(directory):
                    self._open_store(reuse.segment_files if reuse else {}, vector_store)
            else:
                if vector_store.external:
                    raise VectorStoreError(
                        f"the index at {directory} is of an older format that Milvus cannot serve; convert it with "
                        f"`qa index --index-dir {directory}` (nothing is re-embedded)"
                    )
                self._open_generation()
            self._has_outlets = database.has_outlets(self._connection)  # as of this snapshot's read transaction
        except (RuntimeError, sqlite3.DatabaseError, OSError) as error:
            raise IndexCorruptError(
                f"the index at {directory} cannot be read ({error}); rebuild it with "
                f"`qa index --rebuild --index-dir {directory}`"
            ) from error
        self._lock = threading.Lock()
        self._catalog: ChunkCatalog | None = None
        self._earlier_catalog = reuse.catalog if reuse and reuse.manifest == manifest else None
        if vector_store.external:
            self._open_milvus(reuse.milvus if reuse and reuse.manifest == manifest else None)

    def _open_milvus(self, earlier: MilvusVectors | None) -> None:
        """Reach the store's Milvus collection (through an earlier snapshot's connection when there is one) and
        bring it up to this snapshot's write if the writer has not yet (it crashed, or runs elsewhere)."""
        self.milvus = earlier or MilvusVectors(self.vector_store, self.directory, self.manifest.generation, self.manifest.dimension)
        mirrored = self.milvus.mirrored_generation()
        if mirrored is None or mirrored < self.state.generation:
            self.milvus.sync(self.manifest.database_path(self.directory))
        if earlier is None:
            self.milvus.load()

    def _open_store(self, reuse: Mapping[Path, faiss.Index], vector_store: VectorStoreConfig) -> None:
        """Checkpoint the write-ahead log as far as older readers allow (with none left, this reader then reads the
        database file alone and the next write can start the log afresh), begin the read transaction, read the state
        it sees, and load the segments and keyword commit it names (reusing segments already loaded: they never
        change)."""
        path = self.manifest.database_path(self.directory)
        if not path.exists():
            raise sqlite3.DatabaseError(f"{path.name} is missing")
        self._connection = database.connect_reader(path)
        self._probe = database.connect_reader(path)
        try:
            database.checkpoint(self._connection)  # when no older reader holds the log, the new one reads the database
        except sqlite3.OperationalError:
            pass
        self._connection.execute("BEGIN")
        self.state = read_state(self._connection)
        store = self.manifest.generation
        files = {segment.name: segment_file(self.directory, store, segment.name) for segment in self.state.segments}
        self.loaded_segments = {} if vector_store.external else {  # Milvus holds the vectors searched
            segment.name: reuse.get(files[segment.name])
            or load_vector_index(files[segment.name], memory_map=segment.kind != FLAT)
            for segment in self.state.segments
        }
        self._keywords = KeywordIndex(keyword_folder(self.directory, store, self.state.keyword))

    def _open_generation(self) -> None:
        """Open an immutable generation written before segments (format 4) as one segment without tombstones."""
        manifest = self.manifest
        self._connection = database.connect(manifest.database_path(self.directory))
        self._probe = None
        self._connection.execute("SELECT count(*) FROM chunks").fetchone()
        vectors = load_vector_index(manifest.vectors_path(self.directory), memory_map=manifest.faiss_kind != FLAT)
        self.loaded_segments = {"generation": vectors}
        self.state = StoreState(
            manifest.generation, (Segment("generation", manifest.faiss_kind, int(vectors.ntotal), manifest.trained_size),),
            frozenset(), "", 0, manifest.articles, manifest.chunks,
        )
        self._keywords = KeywordIndex(manifest.keyword_path(self.directory))

    @classmethod
    def open(
        cls, directory: Path, model: str, dimension: int, retries: int = 3, reuse: Reusable | None = None,
        vector_store: VectorStoreConfig = VectorStoreConfig(),
    ) -> IndexSnapshot:
        """Open the live state, refusing an index built with another model or format; if a writer replaced the
        files named (a rebuild, a conversion) between reading the manifest and opening them, open the newer ones.
        What an older snapshot offers for reuse (`reusable()`) is not read again."""
        manifest = read_manifest(directory)
        manifest.check_compatible(directory, model, dimension)
        try:
            return cls(directory, manifest, reuse, vector_store)
        except IndexCorruptError:
            if retries == 0 or read_manifest(directory) == manifest:
                raise
            return cls.open(directory, model, dimension, retries - 1, reuse, vector_store)

    def is_current(self) -> bool:
        """False once a write has been committed after this snapshot's, or another store or generation published."""
        try:
            if read_manifest(self.directory) != self.manifest:
                return False
            if self._probe is None:
                return True
            with self._lock:
                return current_generation(self._probe) == self.state.generation
        except (QAError, OSError, sqlite3.Error):
            return True

    @property
    def size(self) -> int:
        """Number of live vectors: those the segments hold less the tombstoned ones (in Milvus: the live chunks)."""
        if self.milvus is not None:
            return self.state.chunks
        return sum(int(index.ntotal) for index in self.loaded_segments.values()) - len(self.state.tombstones)

    @property
    def article_count(self) -> int:
        """Number of articles."""
        return self.state.articles

    def dense(
        self, query: np.ndarray, k: int, allowed: np.ndarray | None, filters: SearchFilters | None = None
    ) -> list[tuple[int, float]]:
        """Top-k live chunks by cosine similarity, among those the allowed mask marks (all when None): over every
        segment, or in Milvus with the filters the mask came from pushed down into its search."""
        if self.milvus is not None:
            expression = filter_expression(filters, self._source_articles(filters)) if filters else ""
            return self.milvus.search(query, k, expression, allowed if allowed is not None else self._live_mask())
        return search_segments(list(self.loaded_segments.values()), query, k, allowed, self.state.tombstones, self._live_mask)

    def _source_articles(self, filters: SearchFilters) -> tuple[str, ...] | None:
        """The ids of the articles the source filter allows, when it names sources and they are few enough to list
        in a Milvus expression; else None (the mask applies it after the search)."""
        if not filters.sources:
            return None
        matching = self.catalog.allowed_articles(SearchFilters(sources=filters.sources))
        if matching is None or int(matching.sum()) > ARTICLE_LIST_LIMIT:
            return None
        return self.catalog.article_ids(matching)

    def _live_mask(self) -> np.ndarray:
        """A mask over chunk row ids marking the live ones."""
        return self.catalog.live_chunks()

    @property
    def keyword_size(self) -> int:
        """Number of chunks the keyword index holds in this generation."""
        return self._keywords.chunk_count

    def vectors_for(self, rowids: list[int]) -> np.ndarray:
        """The stored vectors of some chunks, in the given order."""
        with self._lock:
            ids, vectors = database.chunk_vectors(self._connection, self.manifest.dimension, rowids)
        position = {int(rowid): row for row, rowid in enumerate(ids)}
        return vectors[[position[rowid] for rowid in rowids]]

    def sentence_vectors(self, article_id: str, ordinal: int) -> list[database.SentenceVector]:
        """One chunk's sentences as (start, end, unit vector), offsets into the chunk text, computed at index time."""
        with self._lock:
            return database.sentence_vectors(
                self._connection, article_id, ordinal, self.manifest.dimension, by_number=self.manifest.segmented
            )

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

    def chunk_articles(self, rowids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Each chunk's article slot (-1 when not held) and its article's day ordinal (-1 undated), from memory."""
        return self.catalog.chunk_articles(rowids)

    def article_ids_at(self, slots: np.ndarray) -> list[str]:
        """The article ids of catalog slots (as chunk_articles gives them)."""
        return self.catalog.slot_ids(slots)

    def owners(self, rowids: Iterable[int]) -> dict[int, ChunkOwner]:
        """The article (id and date) of each chunk, from memory."""
        return self.catalog.owners(rowids)

    @property
    def catalog(self) -> ChunkCatalog:
        """Each chunk's article and the fields filters test, on first use: an earlier snapshot's brought up to date
        with the articles written since (when the change log reaches back to it), else read whole."""
        with self._lock:
            if self._catalog is None:
                earlier, self._earlier_catalog = self._earlier_catalog, None
                if earlier is not None and earlier[1] >= self.state.log_from and earlier[0].gone_share < MAX_GONE_SHARE:
                    self._catalog = earlier[0].updated(
                        self._connection, changed_since(self._connection, earlier[1]), self._has_outlets
                    )
                else:
                    self._catalog = ChunkCatalog(self._connection, self._has_outlets)
            return self._catalog

    def reusable(self) -> Reusable:
        """What a newer snapshot can take over from this one: its segments by file (none from a generation of an
        earlier format) and its catalog (the one it was given, if it never needed its own)."""
        store = self.manifest.generation
        files = {
            segment_file(self.directory, store, name): index for name, index in self.loaded_segments.items()
        } if self.manifest.segmented else {}
        with self._lock:
            catalog = (self._catalog, self.state.generation) if self._catalog is not None else self._earlier_catalog
        return Reusable(self.manifest, files, catalog, self.milvus)

    def chunks(self, rowids: list[int]) -> dict[int, ChunkRow]:
        """Chunks with their article metadata, by row id."""
        if not rowids:
            return {}
        marks = ",".join("?" * len(rowids))
        rows = self._chunk_rows(f"WHERE chunks.rowid IN ({marks})", rowids)
        return {row.rowid: row for row in rows}

    def neighbours(self, article_id: str, ordinal: int) -> list[ChunkRow]:
        """The chunks just before and after one chunk of an article."""
        return self._chunk_rows("WHERE article_id = ? AND ordinal BETWEEN ? AND ?", (article_id, ordinal - 1, ordinal + 1))

    def _chunk_rows(self, where: str, parameters: Sequence[object]) -> list[ChunkRow]:
        """The chunks a condition selects, joined with their articles' metadata and outlets."""
        sql = (
            'SELECT chunks.rowid, article_id, ordinal, heading, start, "end", chunks.text, title, date, source, url '
            f"FROM chunks JOIN articles ON articles.id = chunks.article_id {where}"
        )
        with self._lock:
            rows = self._connection.execute(sql, parameters).fetchall()
            outlets = self._outlets(str(row[1]) for row in rows)
        return [_chunk_row(row, outlets.get(str(row[1]), ())) for row in rows]

    def article(self, article_id: str) -> Article | None:
        """One stored article, or None."""
        found = self._articles("WHERE id = ?", (article_id,))
        return found[0] if found else None

    def articles(self, limit: int = 100, offset: int = 0) -> list[Article]:
        """Stored articles, newest first."""
        return self._articles("ORDER BY date DESC, id LIMIT ? OFFSET ?", (limit, offset))

    def _articles(self, clause: str, parameters: Sequence[object]) -> list[Article]:
        """The articles a clause selects, with their outlets."""
        with self._lock:
            rows = self._connection.execute(f"SELECT * FROM articles {clause}", parameters).fetchall()
            outlets = self._outlets(str(row[0]) for row in rows)
        return [database.row_to_article(row, outlets.get(str(row[0]), ())) for row in rows]

    def _outlets(self, article_ids: Iterable[str]) -> dict[str, tuple[Outlet, ...]]:
        """These articles' other outlets (one query, none when no article of this snapshot has any); the caller
        holds the lock."""
        return database.outlets_of(self._connection, article_ids) if self._has_outlets else {}

    def article_hashes(self, article_ids: Iterable[str]) -> dict[str, str]:
        """The content hashes of those of these articles the snapshot holds (no text read)."""
        with self._lock:
            return database.article_hashes(self._connection, article_ids)

    def chunk_keys(self, article_ids: Sequence[str]) -> set[str]:
        """The embedding keys of these articles' stored chunks (vectors the index already holds)."""
        keys: set[str] = set()
        with self._lock:
            for batch, marks in database.in_batches(list(article_ids)):
                rows = self._connection.execute(f"SELECT embedding_key FROM chunks WHERE article_id IN ({marks})", batch)
                keys.update(str(row[0]) for row in rows)
        return keys

    def article_texts(self, article_ids: list[str]) -> dict[str, str]:
        """Full texts of some articles."""
        if not article_ids:
            return {}
        marks = ",".join("?" * len(article_ids))
        with self._lock:
            rows = self._connection.execute(f"SELECT id, text FROM articles WHERE id IN ({marks})", article_ids)
            return dict(rows.fetchall())

    def close(self) -> None:
        """End the read transaction and release the database connections."""
        self._connection.close()
        if self._probe is not None:
            self._probe.close()

    def __del__(self) -> None:
        """Close on release: a sqlite3 connection is in a reference cycle with its statement cache, so it would
        otherwise stay open, its read transaction pinning the write-ahead log, until the cyclic collector ran."""
        if hasattr(self, "_connection"):
            self.close()


def index_exists(directory: Path) -> bool:
    """Whether a published index is at directory."""
    return (directory / MANIFEST_NAME).exists()


def _chunk_row(row: tuple[object, ...], outlets: tuple[Outlet, ...]) -> ChunkRow:
    """Map a joined row and its article's outlets to a ChunkRow."""
    rowid, article_id, ordinal, heading, start, end, text, title, published, source, url = row
    return ChunkRow(
        int(rowid), str(article_id), int(ordinal), str(heading), int(start), int(end), str(text), str(title),  # type: ignore[call-overload]
        date.fromisoformat(str(published)) if published else None, str(source), str(url) if url else None, outlets,
    )
