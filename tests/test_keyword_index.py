"""The tantivy keyword index: the whole question searched, filters inside the search, generations that share files."""

from __future__ import annotations

import json
import sqlite3
from datetime import date
from pathlib import Path

import pytest

from index import database
from index.articles import make_article
from index.build import update_index
from index.chunking import ChunkingPolicy
from index.compaction import compact_index
from index.embedder import HashingEmbedder
from index.keyword import KeywordFilter, KeywordIndex, KeywordWriter, analyzer
from index.files import live_file_names
from index.manifest import read_manifest
from index.store import IndexSnapshot
from qa.errors import IndexCorruptError, IndexMismatchError
from qa.types import Article, Chunk, SearchFilters
from tests.legacy_index import as_generation

ARTICLES = [
    make_article("wheat", "Wheat exports resume", "Ukraine resumed wheat exports from Odesa. Ministers met in Istanbul.", "cnn", date(2022, 7, 22)),
    make_article("ferry", "Ferry strike", "The ferry workers went on strike. Ministers met the union.", "bbc", date(2022, 8, 1)),
    make_article("undated", "Café owners", "Café owners in Zürich met ministers about rents.", "local", None),
]


def _chunks(article: Article, first_rowid: int) -> list[tuple[int, Chunk]]:
    """One chunk per sentence, numbered from first_rowid."""
    sentences = [part + "." for part in article.text.split(".") if part.strip()]
    chunks, offset = [], 0
    for ordinal, sentence in enumerate(sentences):
        start = article.text.index(sentence.strip(), offset)
        end = start + len(sentence.strip())
        chunks.append((first_rowid + ordinal, Chunk(article.id, ordinal, start, end, article.text[start:end])))
        offset = end
    return chunks


def _write(folder: Path, articles: list[Article], previous: Path | None = None, deleted: tuple[str, ...] = ()) -> KeywordIndex:
    """Write a keyword folder (from a previous one) and open it."""
    writer = KeywordWriter(folder, previous)
    writer.delete(deleted)
    for number, article in enumerate(articles):
        writer.add(article, _chunks(article, 100 * (number + 1) + (1000 if previous else 0)))
    writer.commit()
    return KeywordIndex(folder)


def _rows(index: KeywordIndex, question: str, only: KeywordFilter = KeywordFilter()) -> list[int]:
    return [rowid for rowid, _ in index.chunks(index.terms(question), 50, only)]


def test_questions_and_text_are_analysed_alike() -> None:
    tokens = analyzer().analyze("What did Russia's Foreign Ministry say about the cafés in Zürich?")
    assert tokens == ["russia", "foreign", "ministri", "cafe", "zurich"]


def test_every_word_of_the_question_counts_even_the_common_ones(tmp_path: Path) -> None:
    index = _write(tmp_path / "keyword", ARTICLES)
    assert set(_rows(index, "where did ministers meet?")) == {101, 201, 300}  # "ministers" is in every article
    assert set(_rows(index, "ministers met about wheat")[:2]) == {100, 101}  # the rarer word decides the order
    assert [article for article, _ in index.articles(index.terms("ferry union strike"), 5, KeywordFilter())][0] == "ferry"
    assert index.chunks([], 5, KeywordFilter()) == [] and _rows(index, "the of and") == []


def test_filters_apply_inside_the_search(tmp_path: Path) -> None:
    index = _write(tmp_path / "keyword", ARTICLES)
    july = KeywordFilter(since=date(2022, 7, 1), until=date(2022, 7, 31))
    assert _rows(index, "ministers", july) == [101]
    assert set(_rows(index, "ministers", KeywordFilter(since=date(2022, 7, 25)))) == {201}  # undated never in a range
    assert set(_rows(index, "ministers", KeywordFilter(articles=("ferry", "undated")))) == {201, 300}
    assert set(_rows(index, "ministers", KeywordFilter(excluded=("wheat",)))) == {201, 300}
    assert set(_rows(index, "ministers", KeywordFilter(not_after=date(2022, 7, 31)))) == {101, 300}  # undated stays
    far = KeywordFilter(since=date(1, 1, 1), until=date(9999, 12, 31))  # beyond what tantivy stores: clamped
    assert set(_rows(index, "ministers", far)) == {101, 201}


def test_a_new_generation_changes_only_its_own_folder(tmp_path: Path) -> None:
    first = _write(tmp_path / "gen-1", ARTICLES)
    replacement = make_article("wheat", "Wheat", "Grain ships left Odesa under the deal.", "cnn", date(2022, 7, 23))
    second = _write(tmp_path / "gen-2", [replacement], previous=tmp_path / "gen-1", deleted=("wheat", "ferry"))
    assert _rows(second, "grain ships") == [1100] and _rows(second, "ferry strike") == []
    assert second.chunk_count == 2
    reopened = KeywordIndex(tmp_path / "gen-1")  # the older generation still reads as it was written
    assert set(_rows(reopened, "ferry strike")) == {200, 201} and _rows(reopened, "grain ships") == []
    assert reopened.chunk_count == first.chunk_count == 5


def test_a_damaged_keyword_folder_is_a_clear_error(tmp_path: Path) -> None:
    _write(tmp_path / "keyword", ARTICLES)
    (tmp_path / "keyword" / "chunks" / "meta.json").write_text("{broken", encoding="utf-8")
    with pytest.raises(IndexCorruptError, match="qa index --rebuild"):
        KeywordIndex(tmp_path / "keyword")


def test_an_interrupted_write_leaves_nothing_behind(tmp_path: Path) -> None:
    embedder, policy = HashingEmbedder(), ChunkingPolicy()
    update_index(tmp_path, embedder, policy, ARTICLES)
    live = read_manifest(tmp_path)
    [current] = [tmp_path / name for name in live_file_names(tmp_path) if ".kw-" in name]
    stray = KeywordWriter(tmp_path / f"store-{live.generation:06d}.kw-999999", current)
    stray.delete(["wheat"])  # a write that never committed
    (tmp_path / f"store-{live.generation:06d}.seg-999998.faiss").write_bytes(b"half a segment")
    update_index(tmp_path, embedder, policy, [*ARTICLES, make_article("new", "New", "Fresh words.", "api", None)])
    assert {path.name for path in tmp_path.glob("store-*")} <= live_file_names(tmp_path)
    snapshot = IndexSnapshot.open(tmp_path, embedder.name, embedder.dimension)
    assert {article for article, _ in snapshot.keyword_articles(snapshot.keyword_terms("wheat fresh"), 9, SearchFilters())} == {"wheat", "new"}


def test_sources_filter_the_keyword_search_by_article(tmp_path: Path) -> None:
    embedder = HashingEmbedder()
    update_index(tmp_path, embedder, ChunkingPolicy(), ARTICLES)
    snapshot = IndexSnapshot.open(tmp_path, embedder.name, embedder.dimension)
    terms = snapshot.keyword_terms("ministers")
    rows = snapshot.keyword(terms, 10, SearchFilters(sources=("BBC",)))
    assert {snapshot.chunks([rowid])[rowid].article_id for rowid, _ in rows} == {"ferry"}
    assert snapshot.keyword(terms, 10, SearchFilters(sources=("nowhere",))) == []
    assert snapshot.keyword_articles(terms, 10, SearchFilters(sources=("nowhere",))) == []


def test_a_format_2_index_says_how_to_convert_and_qa_index_converts_it_without_embedding(tmp_path: Path) -> None:
    embedder = HashingEmbedder()
    update_index(tmp_path, embedder, ChunkingPolicy(), ARTICLES)
    as_generation(tmp_path, format_version=2)
    with pytest.raises(IndexMismatchError, match="run `qa index --index-dir .*` once to convert it to format 5"):
        IndexSnapshot.open(tmp_path, embedder.name, embedder.dimension)
    before = embedder.embedded_texts
    report = update_index(tmp_path, embedder, ChunkingPolicy(), ARTICLES)
    assert (report.unchanged, report.embedded, embedder.embedded_texts) == (3, 0, before)
    manifest = read_manifest(tmp_path)
    assert manifest.format_version == 5 and not list(tmp_path.glob("gen-*"))
    snapshot = IndexSnapshot.open(tmp_path, embedder.name, embedder.dimension)
    assert snapshot.keyword_size == snapshot.size == snapshot.state.chunks
    assert [article for article, _ in snapshot.keyword_articles(snapshot.keyword_terms("ferry strike"), 1, SearchFilters())] == ["ferry"]
    with database.connect(manifest.database_path(tmp_path)) as connection:
        assert connection.execute("SELECT count(*) FROM sqlite_master WHERE name = 'chunk_terms'").fetchone() == (0,)


def test_a_format_4_index_is_read_as_before_and_converted_by_the_next_write_without_embedding(tmp_path: Path) -> None:
    embedder = HashingEmbedder()
    update_index(tmp_path, embedder, ChunkingPolicy(), ARTICLES)
    as_generation(tmp_path, format_version=4)
    old = IndexSnapshot.open(tmp_path, embedder.name, embedder.dimension)
    terms = old.keyword_terms("ferry strike")
    assert old.size == old.keyword_size == 3 and [a for a, _ in old.keyword_articles(terms, 1, SearchFilters())] == ["ferry"]
    assert old.dense(embedder.embed(["ferry strike"])[0], 1, None)
    old_sentences = old.sentence_vectors("ferry", 0)
    assert old_sentences and all(vector.shape == (embedder.dimension,) for _, _, vector in old_sentences)
    before = embedder.embedded_texts
    report = update_index(tmp_path, embedder, ChunkingPolicy(), ARTICLES)
    assert (report.unchanged, report.embedded, embedder.embedded_texts, report.segments) == (3, 0, before, 1)
    assert read_manifest(tmp_path).format_version == 5 and not list(tmp_path.glob("gen-*"))
    assert not old.is_current()
    new = IndexSnapshot.open(tmp_path, embedder.name, embedder.dimension)
    assert new.size == new.keyword_size == new.state.chunks == 3
    assert [a for a, _ in new.keyword_articles(terms, 1, SearchFilters())] == ["ferry"]
    new_sentences = new.sentence_vectors("ferry", 0)
    assert [(start, end) for start, end, _ in new_sentences] == [(start, end) for start, end, _ in old_sentences]
    assert all((a == b).all() for (_, _, a), (_, _, b) in zip(new_sentences, old_sentences, strict=True))
    update_index(tmp_path, embedder, ChunkingPolicy(), ARTICLES[:2], prune=True, compact=False)
    newest = IndexSnapshot.open(tmp_path, embedder.name, embedder.dimension)
    assert (newest.size, len(newest.state.tombstones), newest.state.articles) == (2, 1, 2)
    [step] = compact_index(tmp_path)
    assert (step.reason, step.purged, step.vectors) == ("tombstones purged", 1, 2)
    compacted = IndexSnapshot.open(tmp_path, embedder.name, embedder.dimension)
    assert (compacted.size, compacted.state.tombstones, len(compacted.state.segments)) == (2, frozenset(), 1)
    assert {path.name for path in tmp_path.glob("store-*")} <= live_file_names(tmp_path)
