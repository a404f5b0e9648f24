"""The indexing pipeline: chunk, embed only what changed, and publish a new generation atomically."""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import sqlite3
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from tqdm import tqdm

from index import database
from index.chunking import ChunkingPolicy, chunk_article
from index.embedder import Embedder
from index.manifest import Manifest, fsync_directory, read_manifest, write_manifest
from index.vectors import build_vector_index, save_vector_index
from qa.errors import IndexNotFoundError
from qa.types import Article, Chunk

EMBED_BATCH = 256


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
    errors: list[str] = field(default_factory=list)


def embedding_text(title: str, heading: str, text: str) -> str:
    """The text a chunk is embedded as: its article title and section heading give it context."""
    context = " — ".join(part for part in (title.strip(), heading.strip()) if part)
    return f"{context}\n\n{text}" if context else text


def update_index(
    directory: Path,
    embedder: Embedder,
    policy: ChunkingPolicy,
    upserts: Sequence[Article] = (),
    deletes: Sequence[str] = (),
    prune: bool = False,
    show_progress: bool = False,
) -> IndexReport:
    """Add or replace articles, delete ids (or, with prune, every article not in upserts), and publish."""
    started = time.perf_counter()
    directory.mkdir(parents=True, exist_ok=True)
    with _exclusive(directory):
        previous = _current_manifest(directory, embedder)
        generation = previous.generation + 1 if previous else 1
        draft = Manifest(embedder.name, embedder.dimension, generation, chunk_tokens=policy.max_tokens)
        _remove_unpublished(directory, previous)
        database_path = draft.database_path(directory)
        if previous:
            _copy_database(previous.database_path(directory), database_path)
        connection = database.connect(database_path)
        try:
            report = _apply(connection, embedder, policy, upserts, deletes, prune, show_progress)
            articles, chunks = database.counts(connection)
            ids, vectors = database.all_chunk_vectors(connection, embedder.dimension)
        finally:
            connection.close()
        _fsync(database_path)
        save_vector_index(build_vector_index(ids, vectors, embedder.dimension), draft.vectors_path(directory))
        write_manifest(directory, Manifest(**{**draft.__dict__, "articles": articles, "chunks": chunks}))
        if previous:
            _remove_generation(directory, previous)
    report.chunks = chunks
    report.seconds = round(time.perf_counter() - started, 3)
    return report


def _apply(
    connection: sqlite3.Connection,
    embedder: Embedder,
    policy: ChunkingPolicy,
    upserts: Sequence[Article],
    deletes: Sequence[str],
    prune: bool,
    show_progress: bool,
) -> IndexReport:
    """Do the whole change in one transaction."""
    report = IndexReport()
    existing = database.article_hashes(connection)
    incoming = {article.id: article for article in upserts}
    changed = [article for article in incoming.values() if existing.get(article.id) != article.content_hash]
    report.added = sum(1 for article in changed if article.id not in existing)
    report.updated = len(changed) - report.added
    report.unchanged = len(incoming) - len(changed)
    removed = {article_id for article_id in deletes if article_id in existing}
    if prune:
        removed |= set(existing) - set(incoming)
    report.removed = len(removed)
    chunked = _chunk_all(changed, embedder, policy, show_progress)
    keys = {article_id: [_key(text) for _, text in pairs] for article_id, pairs in chunked.items()}
    report.embedded = _embed_missing(connection, embedder, chunked, keys, show_progress)
    with connection:
        database.delete_articles(connection, removed | {article.id for article in changed if article.id in existing})
        for article in changed:
            database.insert_article(connection, article, [chunk for chunk, _ in chunked[article.id]], keys[article.id])
        database.drop_unused_vectors(connection)
    return report


def _chunk_all(
    articles: Sequence[Article], embedder: Embedder, policy: ChunkingPolicy, show_progress: bool
) -> dict[str, list[tuple[Chunk, str]]]:
    """Chunk every article; pair each chunk with the text it is embedded as, never over the model's limit."""
    effective = ChunkingPolicy(min(policy.max_tokens, embedder.max_tokens), policy.overlap_sentences)
    chunked: dict[str, list[tuple[Chunk, str]]] = {}
    for article in tqdm(articles, desc="Chunking", unit="article", disable=not show_progress):
        chunks = chunk_article(article, embedder.count_tokens, effective)
        texts = [embedding_text(article.title, chunk.heading, chunk.text) for chunk in chunks]
        sizes = embedder.count_tokens(texts)
        chunked[article.id] = [
            (chunk, text if size <= embedder.max_tokens else chunk.text)
            for chunk, text, size in zip(chunks, texts, sizes, strict=True)
        ]
    return chunked


def _embed_missing(
    connection: sqlite3.Connection,
    embedder: Embedder,
    chunked: dict[str, list[tuple[Chunk, str]]],
    keys: dict[str, list[str]],
    show_progress: bool,
) -> int:
    """Embed only texts whose vectors are not cached yet; store them. Returns how many were embedded."""
    texts_by_key = {
        key: text for article_id, pairs in chunked.items() for key, (_, text) in zip(keys[article_id], pairs, strict=True)
    }
    cached = database.cached_vectors(connection, list(texts_by_key))
    missing = sorted((key for key in texts_by_key if key not in cached), key=lambda key: len(texts_by_key[key]))
    progress = tqdm(total=len(missing), desc="Embedding", unit="chunk", disable=not show_progress)
    with progress:
        for offset in range(0, len(missing), EMBED_BATCH):
            batch = missing[offset : offset + EMBED_BATCH]
            vectors = embedder.embed([texts_by_key[key] for key in batch])
            with connection:
                database.store_vectors(connection, dict(zip(batch, vectors, strict=True)))
            progress.update(len(batch))
    return len(missing)


def _key(text: str) -> str:
    """Content address of an embedded text."""
    return hashlib.sha256(text.encode()).hexdigest()


def _current_manifest(directory: Path, embedder: Embedder) -> Manifest | None:
    """The live manifest, if any, checked against the embedder."""
    try:
        manifest = read_manifest(directory)
    except IndexNotFoundError:
        return None
    manifest.check_compatible(directory, embedder.name, embedder.dimension)
    return manifest


def _copy_database(source: Path, target: Path) -> None:
    """Copy a live database consistently with SQLite's backup API."""
    target.unlink(missing_ok=True)
    origin, copy = database.connect(source, read_only=True), sqlite3.connect(target)
    try:
        origin.backup(copy)
    finally:
        origin.close()
        copy.close()


def _remove_unpublished(directory: Path, current: Manifest | None) -> None:
    """Delete generation files left by an interrupted run."""
    keep = {current.database_path(directory).name, current.vectors_path(directory).name} if current else set()
    for path in directory.glob("gen-*"):
        if path.name not in keep:
            path.unlink(missing_ok=True)
    for path in directory.glob(".*.tmp"):
        path.unlink(missing_ok=True)


def _remove_generation(directory: Path, manifest: Manifest) -> None:
    """Delete a superseded generation (open readers keep their file handles)."""
    for path in (manifest.database_path(directory), manifest.vectors_path(directory)):
        path.unlink(missing_ok=True)
    for path in directory.glob(f"gen-{manifest.generation:06d}.sqlite-*"):
        path.unlink(missing_ok=True)


def _fsync(path: Path) -> None:
    """Flush a file to disk."""
    with path.open("rb") as handle:
        os.fsync(handle.fileno())
    fsync_directory(path.parent)


@contextmanager
def _exclusive(directory: Path) -> Iterator[None]:
    """One writer at a time per index directory."""
    with (directory / ".lock").open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def remove_index(directory: Path) -> None:
    """Delete an index directory entirely (for rebuilds)."""
    if directory.exists():
        shutil.rmtree(directory)

