"""The indexing pipeline: chunk, embed only what changed, and commit the changes to the segment store atomically."""

from __future__ import annotations

import hashlib
import re
import sqlite3
import time
from collections.abc import Collection, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
from tqdm import tqdm

from index import compaction, database
from index.chunking import ChunkingPolicy, chunk_article
from index.embedder import Embedder
from index.files import committed_state, remove_garbage
from index.io_counters import written_bytes
from index.locking import exclusive
from index.manifest import Manifest, read_manifest
from index.milvus_vectors import MilvusVectors
from index.segments import StoreState
from index.speakers import SentenceNote, SpeakerFinder, sentence_spans
from index.span_pooling import CharSpan
from index.store_writer import StoreWriter
from index.text import chunk_sentences, lead_sentence
from index.vector_store import VectorStoreConfig
from qa.errors import IndexNotFoundError, QAError
from qa.types import Article, Chunk

EMBED_BATCH = 256
_NUMBERED_FILE = re.compile(r"(?:gen|store)-(\d+)\.")


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
    write_seconds: float = 0.0  # the write itself, before any compaction
    tombstoned: int = 0  # chunks this write deleted or replaced, kept in their segments until compaction
    segments: int = 0  # vector segments live after the write
    tombstones: int = 0  # tombstoned chunks live after the write
    generation: int = 0  # number of the store's last committed write
    mirrored: int = 0  # chunks copied into the external vector store (QA_VECTOR_STORE=milvus) by this run
    compactions: list[dict[str, object]] = field(default_factory=list)
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
    compact: bool = True,
    prepared: PreparedArticles | None = None,
    vector_store: VectorStoreConfig = VectorStoreConfig(),
) -> IndexReport:
    """Add or replace articles, delete ids (or, with prune, every article not in upserts), and commit.

    Nothing is written when nothing changed. Otherwise the changes are one transaction of the segment store (rows
    changed in place, a new vector segment, a new keyword commit), so readers and crashes only ever see whole writes.
    A rebuild (or the conversion of an older format) fills a new store and publishes it by replacing the manifest
    atomically; the live one keeps answering meanwhile. With compact, the merges the store then calls for run before
    returning (a server leaves them to a background thread). Superseded files are deleted once no reader is opening
    them; with clean_up_in_background, only if none is right now (a later write retries). With prepared, the
    chunks, vectors and sentence notes computed elsewhere (on Dask workers) are used for the articles they cover.
    With an external vector store, its collection is brought up to the committed write before returning.
    """
    started, written_before = time.perf_counter(), written_bytes()
    directory.mkdir(parents=True, exist_ok=True)
    with exclusive(directory):
        writer = _open_writer(directory, embedder, policy, rebuild)
        try:
            involved = None if prune else [*(article.id for article in upserts), *deletes]  # a prune compares them all
            plan = _plan(database.article_hashes(writer.connection, involved), upserts, deletes, prune)
            if not writer.published or plan.changed or plan.removed:
                prepared = (prepared or PreparedArticles()).only([article for article in plan.changed])
                todo = [article for article in plan.changed if not prepared.covers(article)]
                chunked = {**prepared.chunked, **_chunk_all(todo, embedder, policy, show_progress)}
                vectors = _embed_missing(writer.connection, embedder, chunked, plan.report, show_progress, prepared.vectors)
                notes = {**prepared.notes, **_annotate(writer, plan, chunked, speakers or SpeakerFinder(), show_progress, prepared)}
                inserted = [(article, [(chunk, _key(text)) for chunk, text in chunked[article.id]]) for article in plan.changed]
                plan.report.tombstoned = writer.apply(
                    plan.removed | plan.replaced, inserted,
                    {key: (embedded.vector, embedded.sentences) for key, embedded in vectors.items()}, notes,
                )
                writer.publish()
            if vector_store.external:
                plan.report.mirrored = _mirror(directory, writer.manifest, vector_store, show_progress)
            plan.report.write_seconds = round(time.perf_counter() - started, 3)
            if compact:
                plan.report.compactions = [asdict(step) for step in compaction.compact(writer)]
            writer.collect_garbage(wait=not clean_up_in_background)
            _describe_state(plan.report, writer.state)
        finally:
            writer.close()
    plan.report.seconds = round(time.perf_counter() - started, 3)
    written = written_bytes()
    plan.report.bytes_written = written - written_before if written is not None and written_before is not None else None
    return plan.report


def _mirror(directory: Path, manifest: Manifest, vector_store: VectorStoreConfig, show_progress: bool) -> int:
    """Bring the store's Milvus collection up to its last write and drop those of rebuilt stores; the chunks copied."""
    milvus = MilvusVectors(vector_store, directory, manifest.generation, manifest.dimension)
    try:
        report = milvus.sync(manifest.database_path(directory), show_progress)
        milvus.drop_other_stores(manifest.generation)
    finally:
        milvus.close()
    return report.inserted if report else 0


def _open_writer(directory: Path, embedder: Embedder, policy: ChunkingPolicy, rebuild: bool) -> StoreWriter:
    """The writer of the live store; or of a new one for a first build, a rebuild, or the conversion of an older
    format (numbered after everything in the folder, so running readers see the change)."""
    live = _live_manifest(directory)
    previous = None if rebuild else _current_manifest(directory, embedder)
    if previous is not None and previous.segmented:
        return StoreWriter(directory, previous, published=True)
    number = max(live.generation if live else 0, _highest_number(directory)) + 1
    state = _live_state(directory, live)
    if live is not None and (state is not None or not live.segmented):  # files of interrupted writes go; a damaged
        remove_garbage(directory, live, state, wait=False)  # or unreadable index's stay until its rebuild is published
    draft = Manifest(embedder.name, embedder.dimension, number, chunk_tokens=policy.max_tokens, precision=embedder.precision)
    if previous is not None:
        return StoreWriter.convert(directory, previous, draft)
    return StoreWriter.create(directory, draft)


def _live_state(directory: Path, live: Manifest | None) -> StoreState | None:
    """The committed state of a live segment store (None for an older format, or when it cannot be read)."""
    try:
        return committed_state(directory, live) if live is not None else None
    except sqlite3.Error:
        return None


def _describe_state(report: IndexReport, state: StoreState) -> None:
    """Copy the committed state's size into the report."""
    report.chunks = state.chunks
    report.segments = len(state.segments)
    report.tombstones = len(state.tombstones)
    report.generation = state.generation


@dataclass
class _Plan:
    """What an update will change, decided from the live generation before anything is written."""

    report: IndexReport
    changed: list[Article]
    replaced: set[str]
    removed: set[str]


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


def _annotate(
    writer: StoreWriter,
    plan: _Plan,
    chunked: dict[str, list[tuple[Chunk, str]]],
    finder: SpeakerFinder,
    show_progress: bool,
    prepared: PreparedArticles,
) -> dict[str, list[SentenceNote]]:
    """Sentence notes (speakers, kinds of names) for the changed articles not prepared elsewhere, and, when
    converting an index written before notes existed (format < 4), for every article it keeps."""
    work = [(article, [chunk for chunk, _ in chunked[article.id]]) for article in plan.changed if not prepared.covers(article)]
    if writer.converted_from is not None and writer.converted_from.format_version < 4:
        skip = plan.removed | {article.id for article in plan.changed}
        work += [
            (article, [chunk for _, chunk in rows])
            for article, rows in database.stored_articles(writer.connection) if article.id not in skip
        ]
    return find_notes(work, finder, show_progress)


def find_notes(
    work: Sequence[tuple[Article, Sequence[Chunk]]], finder: SpeakerFinder, show_progress: bool = False
) -> dict[str, list[SentenceNote]]:
    """Sentence notes of each article, read sentence by sentence over its chunks."""
    spans = [
        sentence_spans((chunk.start, [(span.start, span.end) for span in chunk_sentences(chunk.text)]) for chunk in chunks)
        for _, chunks in work
    ]
    with tqdm(total=len(work), desc="Finding speakers", unit="article", disable=not show_progress or not work) as progress:
        found = finder.annotate([article.text for article, _ in work], spans, progress.update) if work else []
    return {article.id: notes for (article, _), notes in zip(work, found, strict=True)}


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
    connection: sqlite3.Connection,
    embedder: Embedder,
    chunked: dict[str, list[tuple[Chunk, str]]],
    report: IndexReport,
    show_progress: bool,
    prepared: dict[str, EmbeddedChunk] | None = None,
) -> dict[str, EmbeddedChunk]:
    """Vectors for texts the store has not cached yet (the content-addressed cache), with their sentences'; those
    prepared elsewhere are taken as they are."""
    pairs_by_key = {_key(text): (chunk, text) for pairs in chunked.values() for chunk, text in pairs}
    cached = database.cached_keys(connection, list(pairs_by_key))
    uncached = [key for key in pairs_by_key if key not in cached]
    ready = {key: (prepared or {})[key] for key in uncached if key in (prepared or {})}
    embedded = {**ready, **embed_chunks(embedder, {key: pairs_by_key[key] for key in uncached if key not in ready}, show_progress)}
    report.embedded = len(embedded)
    return embedded


def embed_chunks(
    embedder: Embedder, pairs_by_key: dict[str, tuple[Chunk, str]], show_progress: bool = False
) -> dict[str, EmbeddedChunk]:
    """Embed chunk texts (shortest first, in batches) with their sentences' vectors, by key."""
    missing = sorted(pairs_by_key, key=lambda key: len(pairs_by_key[key][1]))
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
    return embedded


@dataclass
class PreparedArticles:
    """The chunks, vectors and sentence notes of some articles, computed away from the writer (a Dask worker); an
    article is covered when its chunks were prepared from the same content."""

    chunked: dict[str, list[tuple[Chunk, str]]] = field(default_factory=dict)
    vectors: dict[str, EmbeddedChunk] = field(default_factory=dict)
    notes: dict[str, list[SentenceNote]] = field(default_factory=dict)
    hashes: dict[str, str] = field(default_factory=dict)

    def covers(self, article: Article) -> bool:
        """Whether this article was prepared, from its current content."""
        return self.hashes.get(article.id) == article.content_hash and article.id in self.chunked

    def only(self, articles: Sequence[Article]) -> PreparedArticles:
        """The work for these articles, where it was prepared from their current content (and nothing else)."""
        covered = [article.id for article in articles if self.covers(article)]
        chunked = {article_id: self.chunked[article_id] for article_id in covered}
        keys = {_key(text) for pairs in chunked.values() for _, text in pairs}
        return PreparedArticles(
            chunked, {key: vector for key, vector in self.vectors.items() if key in keys},
            {article_id: self.notes.get(article_id, []) for article_id in covered},
            {article_id: self.hashes[article_id] for article_id in covered},
        )

    def merge(self, other: PreparedArticles) -> None:
        """Add another partition's work."""
        self.chunked.update(other.chunked)
        self.vectors.update(other.vectors)
        self.notes.update(other.notes)
        self.hashes.update(other.hashes)


def prepare_articles(
    articles: Sequence[Article],
    embedder: Embedder,
    policy: ChunkingPolicy,
    finder: SpeakerFinder,
    known_keys: Collection[str] = (),
) -> PreparedArticles:
    """Chunk, embed and annotate articles exactly as update_index would (for a worker of a distributed run); chunk
    texts whose keys the index already holds (`known_keys`) are not embedded again."""
    chunked = _chunk_all(articles, embedder, policy, show_progress=False)
    pairs_by_key = {
        _key(text): (chunk, text) for pairs in chunked.values() for chunk, text in pairs if _key(text) not in known_keys
    }
    notes = find_notes([(article, [chunk for chunk, _ in chunked[article.id]]) for article in articles], finder)
    hashes = {article.id: article.content_hash for article in articles}
    return PreparedArticles(chunked, embed_chunks(embedder, pairs_by_key), notes, hashes)


def _sentence_spans(chunk: Chunk, text: str) -> tuple[list[CharSpan], list[CharSpan]]:
    """The chunk's sentences as spans of the embedded text and as spans of the chunk text."""
    shift = len(text) - len(chunk.text)
    relative = [(span.start, span.end) for span in chunk_sentences(chunk.text)]
    return [(start + shift, end + shift) for start, end in relative], relative


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


def _highest_number(directory: Path) -> int:
    """The highest store or generation number any file in the directory carries (0 when there is none)."""
    numbers = [int(match.group(1)) for path in directory.iterdir() if (match := _NUMBERED_FILE.match(path.name))]
    return max(numbers, default=0)
