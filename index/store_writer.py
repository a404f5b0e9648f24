"""The one writer of a segment store: changes rows in place, adds a small vector segment and a keyword commit, and
makes them live in one SQLite transaction; a new store (first build, rebuild, conversion of an older format) becomes
live when the manifest names it."""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np

from index import database, segments
from index.files import remove_garbage
from index.keyword import KeywordWriter, link_tree
from index.manifest import Manifest, write_manifest
from index.segments import Segment, StoreState
from index.speakers import SentenceNote
from index.vectors import build_vector_index, choose_kind, save_vector_index
from qa.types import Article, Chunk


class StoreWriter:
    """Writes to one store; the caller holds the directory's writer lock for the writer's whole life."""

    def __init__(self, directory: Path, manifest: Manifest, published: bool, converted_from: Manifest | None = None) -> None:
        self.directory = directory
        self.manifest = manifest
        self.published = published
        self.converted_from = converted_from
        self.connection = database.connect_store(manifest.database_path(directory), create=not published)
        if converted_from is None:  # a converted store counts its rows once they are copied
            segments.create_state(self.connection)

    @classmethod
    def create(cls, directory: Path, manifest: Manifest) -> StoreWriter:
        """A new, empty store (numbered by the manifest), live once a write publishes it."""
        manifest.database_path(directory).unlink(missing_ok=True)
        return cls(directory, manifest, published=False)

    @classmethod
    def convert(cls, directory: Path, legacy: Manifest, manifest: Manifest) -> StoreWriter:
        """A new store holding an older format's generation: its rows copied into the store's layout, its vector file
        and keyword folder hard-linked as the first segment and keyword commit; nothing is re-embedded."""
        manifest.database_path(directory).unlink(missing_ok=True)
        writer = cls(directory, manifest, published=False, converted_from=legacy)
        connection = writer.connection
        database.copy_generation(connection, legacy.database_path(directory))
        segments.create_state(connection)
        connection.execute("BEGIN IMMEDIATE")
        if legacy.format_version >= 3:
            keyword = segments.new_name(connection, "kw")
            link_tree(legacy.keyword_path(directory), segments.keyword_folder(directory, manifest.generation, keyword))
            segments.record_write(connection, keyword)
        if legacy.chunks:
            name = segments.new_name(connection, "seg")
            _link(legacy.vectors_path(directory), segments.segment_file(directory, manifest.generation, name))
            segments.add_segment(connection, Segment(name, legacy.faiss_kind, legacy.chunks, legacy.trained_size))
        connection.execute("COMMIT")
        return writer

    @property
    def state(self) -> StoreState:
        """The committed state."""
        return segments.read_state(self.connection)

    def apply(
        self,
        removed: set[str],
        inserted: Sequence[tuple[Article, list[tuple[Chunk, str]]]],
        vectors: Mapping[str, tuple[np.ndarray, list[database.SentenceVector]]],
        notes: Mapping[str, Sequence[SentenceNote]],
    ) -> int:
        """One transaction: drop removed (and replaced) articles, tombstoning their chunks; insert the new ones under
        fresh row ids (each chunk paired with its embedding key); write their vectors as a new segment and the keyword
        changes as a new commit (both flushed before the commit that makes them live). A crash before the commit
        leaves only unreferenced files. Returns the number of chunks tombstoned."""
        connection = self.connection
        connection.execute("BEGIN IMMEDIATE")
        try:
            before = segments.read_state(connection)
            superseded_keys = database.article_keys(connection, removed)
            removed_rows = database.delete_articles(connection, removed)
            segments.tombstone(connection, removed_rows)
            database.store_vectors(connection, {key: vector for key, (vector, _) in vectors.items()})
            database.store_sentence_vectors(connection, {key: rows for key, (_, rows) in vectors.items()})
            first = segments.allocate_rowids(connection, sum(len(pairs) for _, pairs in inserted))
            written: list[tuple[Article, list[tuple[int, Chunk]]]] = []
            for article, pairs in inserted:
                chunks = [chunk for chunk, _ in pairs]
                rowids = database.insert_article(connection, article, chunks, [key for _, key in pairs], first)
                first += len(rowids)
                written.append((article, list(zip(rowids, chunks, strict=True))))
            database.store_notes(connection, notes)
            database.drop_unused_vectors(connection, superseded_keys)
            self._write_segment([rowid for _, rows in written for rowid, _ in rows])
            keyword = self._write_keywords(before, removed, written)
            added = sum(len(rows) for _, rows in written)
            generation = segments.record_write(connection, keyword, len(written) - len(removed), added - len(removed_rows))
            segments.log_changes(connection, generation, removed | {article.id for article, _ in written})
            connection.execute("COMMIT")
        except BaseException:
            if connection.in_transaction:
                connection.execute("ROLLBACK")
            raise
        return len(removed_rows)

    def _write_segment(self, rowids: list[int]) -> None:
        """The new chunks' vectors as a new segment file (exact search unless it alone is past the exact limit)."""
        if not rowids:
            return
        ids, vectors = database.chunk_vectors(self.connection, self.manifest.dimension, rowids)
        kind = choose_kind(len(ids))
        segment = Segment(segments.new_name(self.connection, "seg"), kind, len(ids), 0 if kind == "flat" else len(ids))
        index = build_vector_index(ids, vectors, self.manifest.dimension, kind)
        save_vector_index(index, segments.segment_file(self.directory, self.manifest.generation, segment.name))
        segments.add_segment(self.connection, segment)

    def _write_keywords(
        self, before: StoreState, removed: set[str], written: list[tuple[Article, list[tuple[int, Chunk]]]]
    ) -> str:
        """A new keyword commit: the live one (hard links) with this write's deletions and additions, or, when there
        is none yet, every stored article."""
        name = segments.new_name(self.connection, "kw")
        folder = segments.keyword_folder(self.directory, self.manifest.generation, name)
        previous = segments.keyword_folder(self.directory, self.manifest.generation, before.keyword) if before.keyword else None
        writer = KeywordWriter(folder, previous)
        if previous is None:
            for article, rows in database.stored_articles(self.connection):
                writer.add(article, rows)
        else:
            writer.delete(removed)
            for article, rows in written:
                writer.add(article, rows)
        writer.commit()
        return name

    def publish(self) -> None:
        """Make a new store live by naming it in the manifest (a store already live needs nothing)."""
        if self.published:
            return
        state = self.state
        database.checkpoint(self.connection)
        write_manifest(self.directory, replace(self.manifest, articles=state.articles, chunks=state.chunks))
        self.published = True

    def close(self) -> None:
        """Checkpoint what readers allow and release the connection."""
        try:
            database.checkpoint(self.connection)
        except sqlite3.OperationalError:
            pass
        self.connection.close()

    def collect_garbage(self, wait: bool) -> list[Path]:
        """Delete files no live state names (superseded segments, keyword commits, stores, older generations, files
        of interrupted writes) once no reader is opening the index; with wait False, only if that is so right now."""
        return remove_garbage(self.directory, self.manifest, self.state, wait)


def _link(source: Path, target: Path) -> None:
    """Hard-link a file (copied where links are not possible)."""
    target.unlink(missing_ok=True)
    try:
        target.hardlink_to(source)
    except OSError:
        shutil.copyfile(source, target)
