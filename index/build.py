"""The indexing pipeline: chunk, embed only what changed, and publish a new generation atomically."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import TypeVar
from pathlib import Path

import numpy as np
from tqdm import tqdm

from index import database
from index.chunking import ChunkingPolicy, chunk_article
from index.embedder import Embedder
from index.keyword import KeywordWriter
from index.speakers import SentenceNote, SpeakerFinder, sentence_spans
from index.span_pooling import CharSpan
from index.text import chunk_sentences, lead_sentence
from index.locking import exclusive
from index.manifest import Manifest, fsync_directory, read_manifest, write_manifest
from index.vectors import build_vector_index, choose_kind, load_vector_index, save_vector_index, update_vector_index
from qa.errors import IndexNotFoundError, QAError
from qa.types import Article, Chunk

EMBED_BATCH = 256
_GENERATION_FILE = re.compile(r"gen-(\d+)\.")
T = TypeVar("T")


@dataclass
class IndexReport:
    """What one indexing run changed."""

    added: int = 0
    updated: int = 0
    removed: int = 0
    unchanged: int = 0
    chunks: int = 0
    embedded: int = 0
    seconds: float = 0.0
    bytes_written: int | None = None  # by this process while the write ran (/proc/self/io); None where unknown
    errors: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


def embedding_text(title: str, heading: str, text: str, lead: str = "") -> str:
    """The text a chunk is embedded as: its article title, section heading and lead sentence (when given and not
    already in the chunk) give it context."""
    context = " — ".join(part for part in (title.strip(), heading.strip()) if part)
    if lead and lead not in text:
        context = f"{context}\n\n{lead}" if context else lead
    return f"{context}\n\n{text}" if context else text


def chunk_context(policy: ChunkingPolicy, article: Article, chunk: Chunk, lead: str) -> str:
    """The text a chunk is embedded as under the policy's context."""
    title = article.title if policy.context != "none" else ""
    heading = chunk.heading if "heading" in policy.context else ""
    return embedding_text(title, heading, chunk.text, lead if policy.context.endswith("lead") else "")


def update_index(
    directory: Path,
    embedder: Embedder,
    policy: ChunkingPolicy,
    upserts: Sequence[Article] = (),
    deletes: Sequence[str] = (),
    prune: bool = False,
    show_progress: bool = False,
    rebuild: bool = False,
    clean_up_in_background: bool = False,
    speakers: SpeakerFinder | None = None,
) -> IndexReport:
    """Add or replace articles, delete ids (or, with prune, every article not in upserts), and publish.

    Nothing is written when nothing changed; otherwise a new generation is written aside and published by
    replacing the manifest atomically, so readers and crashes only ever see a whole generation. A rebuild ignores
    the live generation's content (even one of another model or format) but still numbers the new one after it,
    so running servers see the change. Superseded files are deleted before returning, or in the background (a
    server adding one article need not wait while a large file is freed).
    """
    started, written_before = time.perf_counter(), written_bytes()
    directory.mkdir(parents=True, exist_ok=True)
    with exclusive(directory):
        live = _live_manifest(directory)
        previous = None if rebuild else _current_manifest(directory, embedder)
        generation = max(live.generation if live else 0, _highest_generation(directory)) + 1
        _remove_unpublished(directory, live)
        existing: dict[str, str] = _read_previous(directory, previous, database.article_hashes, dict[str, str]())
        plan = _plan(existing, upserts, deletes, prune)
        if previous and not plan.changed and not plan.removed and not previous.upgradable:
            plan.report.chunks = previous.chunks
        else:
            chunked = _chunk_all(plan.changed, embedder, policy, show_progress)
            vectors = _embed_missing(directory, previous, embedder, chunked, plan.report, show_progress)
            notes = _annotate(directory, previous, plan, chunked, speakers or SpeakerFinder(), show_progress)
            _publish(directory, previous, embedder, policy, plan, chunked, vectors, notes, generation)
            if live and clean_up_in_background:
                threading.Thread(target=_remove_generation, args=(directory, live), name="remove-generation").start()
            elif live:
                _remove_generation(directory, live)
    plan.report.seconds = round(time.perf_counter() - started, 3)
    written = written_bytes()
    plan.report.bytes_written = written - written_before if written is not None and written_before is not None else None
    return plan.report


@dataclass
class _Plan:
    """What an update will change, decided from the live generation before anything is written."""

    report: IndexReport
    changed: list[Article]
    replaced: set[str]
    removed: set[str]


def written_bytes() -> int | None:
    """Bytes this process has caused to be written to storage so far (Linux /proc/self/io), or None."""
    try:
        with open("/proc/self/io", encoding="ascii") as handle:
            return next(int(line.split()[1]) for line in handle if line.startswith("write_bytes:"))
    except (OSError, StopIteration, ValueError):
        return None


def _plan(existing: dict[str, str], upserts: Sequence[Article], deletes: Sequence[str], prune: bool) -> _Plan:
    """Compare incoming articles with stored hashes."""
    incoming = {article.id: article for article in upserts}
    changed = [article for article in incoming.values() if existing.get(article.id) != article.content_hash]
    removed = {article_id for article_id in deletes if article_id in existing}
    if prune:
        removed |= set(existing) - set(incoming)
    report = IndexReport()
    report.added = sum(1 for article in changed if article.id not in existing)
    report.updated = len(changed) - report.added
    report.unchanged = len(incoming) - len(changed)
    report.removed = len(removed)
    return _Plan(report, changed, {article.id for article in changed if article.id in existing}, removed)


def _publish(
    directory: Path,
    previous: Manifest | None,
    embedder: Embedder,
    policy: ChunkingPolicy,
    plan: _Plan,
    chunked: dict[str, list[tuple[Chunk, str]]],
    vectors: dict[str, EmbeddedChunk],
    notes: dict[str, list[SentenceNote]],
    generation: int,
) -> None:
    """Write the next generation (database, then vectors) and switch the manifest to it."""
    draft = Manifest(
        embedder.name, embedder.dimension, generation, chunk_tokens=policy.max_tokens, precision=embedder.precision
    )
    database_path = draft.database_path(directory)
    if previous:
        _copy_database(previous.database_path(directory), database_path)
    upgrading = previous is not None and previous.format_version < 3
    connection = database.connect(database_path)
    try:
        with connection:
            if upgrading:
                database.drop_fts_keywords(connection)
            superseded_keys = database.article_keys(connection, plan.removed | plan.replaced)
            removed_rows = database.delete_articles(connection, plan.removed | plan.replaced)
            database.store_vectors(connection, {key: embedded.vector for key, embedded in vectors.items()})
            database.store_sentence_vectors(connection, {key: embedded.sentences for key, embedded in vectors.items()})
            inserted = [(article, _insert(connection, article, chunked[article.id])) for article in plan.changed]
            added_rows = [rowid for _, rows in inserted for rowid, _ in rows]
            database.store_notes(connection, notes)
            database.drop_unused_vectors(connection, superseded_keys)
        if upgrading:
            connection.execute("VACUUM")
        _write_keywords(directory, None if previous is None or upgrading else previous, draft, connection, plan, inserted)
        articles, chunks = database.counts(connection)
        kind = choose_kind(chunks)
        if previous and previous.faiss_kind == kind and chunks <= 4 * max(previous.trained_size, 1):
            added_ids, added_vectors = database.chunk_vectors(connection, embedder.dimension, added_rows)
            index = update_vector_index(load_vector_index(previous.vectors_path(directory)), removed_rows, added_ids, added_vectors)
            trained = previous.trained_size
        else:
            ids, all_vectors = database.chunk_vectors(connection, embedder.dimension)
            index = build_vector_index(ids, all_vectors, embedder.dimension, kind)
            trained = chunks
    finally:
        connection.close()
    plan.report.chunks = chunks
    _fsync(database_path)
    save_vector_index(index, draft.vectors_path(directory))
    write_manifest(directory, replace(draft, articles=articles, chunks=chunks, faiss_kind=kind, trained_size=trained))


def _insert(connection: sqlite3.Connection, article: Article, pairs: list[tuple[Chunk, str]]) -> list[tuple[int, Chunk]]:
    """Store an article with its chunks (keyed by their embedded text); return each chunk with its row id."""
    chunks = [chunk for chunk, _ in pairs]
    rowids = database.insert_article(connection, article, chunks, [_key(text) for _, text in pairs])
    return list(zip(rowids, chunks, strict=True))


def _annotate(
    directory: Path,
    previous: Manifest | None,
    plan: _Plan,
    chunked: dict[str, list[tuple[Chunk, str]]],
    finder: SpeakerFinder,
    show_progress: bool,
) -> dict[str, list[SentenceNote]]:
    """Sentence notes (speakers, kinds of names) for the changed articles, and, when converting an index written
    before notes existed (format < 4), for every article it keeps."""
    work = [(article, [chunk for chunk, _ in chunked[article.id]]) for article in plan.changed]
    if previous is not None and previous.format_version < 4:
        skip = plan.removed | {article.id for article in plan.changed}
        work += _read_previous(
            directory, previous,
            lambda connection: [(article, [chunk for _, chunk in rows]) for article, rows in database.stored_articles(connection) if article.id not in skip],
            [],
        )
    spans = [
        sentence_spans((chunk.start, [(span.start, span.end) for span in chunk_sentences(chunk.text)]) for chunk in chunks)
        for _, chunks in work
    ]
    with tqdm(total=len(work), desc="Finding speakers", unit="article", disable=not show_progress or not work) as progress:
        found = finder.annotate([article.text for article, _ in work], spans, progress.update) if work else []
    return {article.id: notes for (article, _), notes in zip(work, found, strict=True)}


def _write_keywords(
    directory: Path,
    previous: Manifest | None,
    draft: Manifest,
    connection: sqlite3.Connection,
    plan: _Plan,
    inserted: list[tuple[Article, list[tuple[int, Chunk]]]],
) -> None:
    """The new generation's keyword index: the previous one plus this write's changes, or, when there is none to
    start from (a first build, an upgrade from format 2), every stored article."""
    writer = KeywordWriter(draft.keyword_path(directory), previous.keyword_path(directory) if previous else None)
    if previous is None:
        for article, rows in database.stored_articles(connection):
            writer.add(article, rows)
    else:
        writer.delete(plan.removed | plan.replaced)
        for article, rows in inserted:
            writer.add(article, rows)
    writer.commit()


def _chunk_all(
    articles: Sequence[Article], embedder: Embedder, policy: ChunkingPolicy, show_progress: bool
) -> dict[str, list[tuple[Chunk, str]]]:
    """Chunk every article; pair each chunk with the text it is embedded as, never over the model's limit."""
    effective = replace(policy, max_tokens=min(policy.max_tokens, embedder.max_tokens))
    chunked: dict[str, list[tuple[Chunk, str]]] = {}
    for article in tqdm(articles, desc="Chunking", unit="article", disable=not show_progress):
        chunks = chunk_article(article, embedder.count_tokens, effective)
        lead = lead_sentence(article.text) if policy.context.endswith("lead") else ""
        texts = [chunk_context(policy, article, chunk, lead) for chunk in chunks]
        sizes = embedder.count_tokens(texts)
        chunked[article.id] = [
            (chunk, text if size <= embedder.max_tokens else chunk.text)
            for chunk, text, size in zip(chunks, texts, sizes, strict=True)
        ]
    return chunked


@dataclass(frozen=True)
class EmbeddedChunk:
    """A chunk text's vector and its sentences' vectors (offsets into the chunk text)."""

    vector: np.ndarray
    sentences: list[database.SentenceVector]


def _embed_missing(
    directory: Path,
    previous: Manifest | None,
    embedder: Embedder,
    chunked: dict[str, list[tuple[Chunk, str]]],
    report: IndexReport,
    show_progress: bool,
) -> dict[str, EmbeddedChunk]:
    """Vectors for texts the live generation has not cached yet (the content-addressed cache), with their sentences'."""
    pairs_by_key = {_key(text): (chunk, text) for pairs in chunked.values() for chunk, text in pairs}
    cached: set[str] = _read_previous(
        directory, previous, lambda connection: database.cached_keys(connection, list(pairs_by_key)), set[str]()
    )
    missing = sorted((key for key in pairs_by_key if key not in cached), key=lambda key: len(pairs_by_key[key][1]))
    embedded: dict[str, EmbeddedChunk] = {}
    with tqdm(total=len(missing), desc="Embedding", unit="chunk", disable=not show_progress) as progress:
        for offset in range(0, len(missing), EMBED_BATCH):
            batch = missing[offset : offset + EMBED_BATCH]
            spans = [_sentence_spans(*pairs_by_key[key]) for key in batch]
            result = embedder.embed_passages([pairs_by_key[key][1] for key in batch], [list(shifted) for shifted, _ in spans])
            for key, vector, (_, relative), sentence_vectors in zip(batch, result.vectors, spans, result.sentences, strict=True):
                rows = [(start, end, sentence) for (start, end), sentence in zip(relative, sentence_vectors, strict=True)]
                embedded[key] = EmbeddedChunk(vector, rows)
            progress.update(len(batch))
    report.embedded = len(missing)
    return embedded


def _sentence_spans(chunk: Chunk, text: str) -> tuple[list[CharSpan], list[CharSpan]]:
    """The chunk's sentences as spans of the embedded text and as spans of the chunk text."""
    shift = len(text) - len(chunk.text)
    relative = [(span.start, span.end) for span in chunk_sentences(chunk.text)]
    return [(start + shift, end + shift) for start, end in relative], relative


def _read_previous(directory: Path, previous: Manifest | None, read: Callable[[sqlite3.Connection], T], empty: T) -> T:
    """Run a read-only query against the live generation's database (empty when there is none)."""
    if previous is None:
        return empty
    connection = database.connect(previous.database_path(directory), read_only=True)
    try:
        return read(connection)
    finally:
        connection.close()


def _key(text: str) -> str:
    """Content address of an embedded text."""
    return hashlib.sha256(text.encode()).hexdigest()


def _current_manifest(directory: Path, embedder: Embedder) -> Manifest | None:
    """The live manifest, if any, checked against the embedder."""
    try:
        manifest = read_manifest(directory)
    except IndexNotFoundError:
        return None
    manifest.check_compatible(directory, embedder.name, embedder.dimension, embedder.precision, upgrading=True)
    return manifest


def _live_manifest(directory: Path) -> Manifest | None:
    """The live manifest as written, whatever model or format it names; None when absent or unreadable."""
    try:
        return read_manifest(directory)
    except QAError:
        return None


def _highest_generation(directory: Path) -> int:
    """The highest generation number any file in the directory carries (0 when there is none)."""
    numbers = [int(match.group(1)) for path in directory.glob("gen-*") if (match := _GENERATION_FILE.match(path.name))]
    return max(numbers, default=0)


def _copy_database(source: Path, target: Path) -> None:
    """Copy the live database file (immutable once published, and the writer holds the lock) by the kernel's copy."""
    target.unlink(missing_ok=True)
    shutil.copyfile(source, target)


def _remove_unpublished(directory: Path, current: Manifest | None) -> None:
    """Delete generation files left by an interrupted run."""
    keep = {path.name for path in current.files(directory)} if current else set()
    for path in directory.glob("gen-*"):
        if path.name not in keep:
            _remove_path(path)
    for path in directory.glob(".*.tmp"):
        path.unlink(missing_ok=True)


def _remove_generation(directory: Path, manifest: Manifest) -> None:
    """Delete a superseded generation (open readers keep their file handles)."""
    for path in manifest.files(directory):
        _remove_path(path)
    for path in directory.glob(f"gen-{manifest.generation:06d}.sqlite-*"):
        path.unlink(missing_ok=True)


def _remove_path(path: Path) -> None:
    """Delete a file or a folder, if it is there."""
    if path.is_dir():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def _fsync(path: Path) -> None:
    """Flush a file to disk."""
    with path.open("rb") as handle:
        os.fsync(handle.fileno())
    fsync_directory(path.parent)



