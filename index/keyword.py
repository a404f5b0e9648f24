"""The keyword side of an index generation: BM25 over chunks and over whole articles, with tantivy.

Each generation has its own folder. A write starts from hard links to the previous generation's files (tantivy never
changes a file it has written: deletions and merges make new ones), applies its deletions and additions, commits and
flushes, so it costs what changed and the previous generation stays whole for the readers that still hold it.
"""

from __future__ import annotations

import os
import shutil
import string
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

import tantivy
from tantivy import Document, FieldType, Occur, Query

from index.manifest import fsync_directory
from index.stopwords import STOPWORDS
from qa.errors import IndexCorruptError
from qa.types import Article, Chunk

ANALYZER = "news_en"
CHUNKS = "chunks"
ARTICLES = "articles"
TITLE_BOOST = 0.5
HEADING_BOOST = 0.5
_WRITER_HEAP_BYTES = 64_000_000
_LONGEST_TERM = 40
_EARLIEST_DAY = date(1677, 9, 22)  # tantivy keeps dates as nanoseconds in 64 bits
_LATEST_DAY = date(2262, 4, 11)
_KEYWORD_STOPWORDS = sorted(STOPWORDS | set(string.ascii_lowercase))


def analyzer() -> tantivy.TextAnalyzer:
    """Words split on non-alphanumerics, lower-cased, accents folded, stop words and single letters dropped, Porter2
    stems: the same analysis for indexed text and for questions."""
    return (
        tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.simple())
        .filter(tantivy.Filter.remove_long(_LONGEST_TERM))
        .filter(tantivy.Filter.lowercase())
        .filter(tantivy.Filter.ascii_fold())
        .filter(tantivy.Filter.custom_stopword(_KEYWORD_STOPWORDS))
        .filter(tantivy.Filter.stemmer("english"))
        .build()
    )


def _schema(kind: str) -> tantivy.Schema:
    """Chunks are keyed by their database row id, articles by their id; both carry the date for range filters."""
    builder = tantivy.SchemaBuilder()
    builder.add_text_field("article_id", tokenizer_name="raw", stored=kind == ARTICLES)
    if kind == CHUNKS:
        builder.add_unsigned_field("rowid", indexed=True, fast=True)
        builder.add_text_field("heading", tokenizer_name=ANALYZER)
    builder.add_text_field("title", tokenizer_name=ANALYZER)
    builder.add_text_field("text", tokenizer_name=ANALYZER)
    builder.add_date_field("date", indexed=True, fast=True)
    return builder.build()


@dataclass(frozen=True)
class KeywordFilter:
    """Which documents a keyword search may return: a date range (dated documents only), an allow-list of article
    ids, excluded ids, and a last day after which dated documents are left out (undated ones stay)."""

    since: date | None = None
    until: date | None = None
    articles: tuple[str, ...] | None = None
    excluded: tuple[str, ...] = ()
    not_after: date | None = None


class KeywordIndex:
    """BM25 search over one generation's keyword folder, read-only; safe to share between threads."""

    def __init__(self, folder: Path) -> None:
        self._analyzer = analyzer()
        self._chunks = _Searchable(folder / CHUNKS, CHUNKS)
        self._articles = _Searchable(folder / ARTICLES, ARTICLES)

    def terms(self, question: str) -> list[str]:
        """The question's searchable terms, analysed as the indexed text was, each once, in order."""
        return list(dict.fromkeys(self._analyzer.analyze(question)))

    def chunks(self, terms: Sequence[str], k: int, only: KeywordFilter) -> list[tuple[int, float]]:
        """Top-k (chunk row id, BM25) over title, heading and text; any term may match (a full OR query)."""
        boosts = {"text": 1.0, "title": TITLE_BOOST, "heading": HEADING_BOOST}
        hits = self._chunks.search(terms, boosts, k, only)
        return list(zip(self._chunks.fast_values("rowid", [address for _, address in hits]), [score for score, _ in hits], strict=True))

    def articles(self, terms: Sequence[str], k: int, only: KeywordFilter) -> list[tuple[str, float]]:
        """Top-k (article id, BM25) over whole articles: title and full text."""
        hits = self._articles.search(terms, {"text": 1.0, "title": TITLE_BOOST}, k, only)
        return [(self._articles.stored_id(address), score) for score, address in hits]

    @property
    def chunk_count(self) -> int:
        """Chunks searchable in this generation."""
        return self._chunks.count


class _Searchable:
    """One tantivy index opened for reading, with the queries both kinds share."""

    def __init__(self, folder: Path, kind: str) -> None:
        try:
            self.schema = _schema(kind)
            index = tantivy.Index.open(str(folder))
            index.register_tokenizer(ANALYZER, analyzer())
            index.config_reader("Manual")
            self._searcher = index.searcher()
        except (ValueError, OSError) as error:
            raise IndexCorruptError(
                f"the keyword index at {folder} cannot be read ({error}); rebuild it with "
                f"`qa index --rebuild --index-dir {folder.parent.parent}`"
            ) from error

    @property
    def count(self) -> int:
        """Live documents."""
        return int(self._searcher.num_docs)

    def search(
        self, terms: Sequence[str], boosts: dict[str, float], k: int, only: KeywordFilter
    ) -> list[tuple[float, tantivy.DocAddress]]:
        """Best k documents matching at least one term in any boosted field, among those the filter lets through."""
        if not terms or k <= 0:
            return []
        should = [
            (Occur.Should, _boosted(Query.term_query(self.schema, field, term), boost))
            for term in terms
            for field, boost in boosts.items()
        ]
        query = Query.boolean_query([*should, *self._filter_clauses(only)], minimum_number_should_match=1)
        return list(self._searcher.search(query, k, count=False).hits)

    def fast_values(self, field: str, addresses: list[tantivy.DocAddress]) -> list[int]:
        """A numeric fast field of some documents, in order."""
        return [int(value) for value in self._searcher.fast_field_values(field, addresses)] if addresses else []

    def stored_id(self, address: tantivy.DocAddress) -> str:
        """The article id stored with a document."""
        return str(self._searcher.doc(address)["article_id"][0])

    def _filter_clauses(self, only: KeywordFilter) -> list[tuple[Occur, Query]]:
        """Filter clauses that constrain matches without adding to their score."""
        clauses: list[tuple[Occur, Query]] = []
        if only.since or only.until:
            window = Query.range_query(
                self.schema, "date", FieldType.Date, _midnight(only.since), _midnight(only.until)
            )
            clauses.append((Occur.Must, Query.const_score_query(window, 0.0)))
        if only.articles is not None:
            allowed = Query.term_set_query(self.schema, "article_id", list(only.articles))
            clauses.append((Occur.Must, Query.const_score_query(allowed, 0.0)))
        if only.excluded:
            clauses.append((Occur.MustNot, Query.term_set_query(self.schema, "article_id", list(only.excluded))))
        if only.not_after and only.not_after < _LATEST_DAY:
            later = Query.range_query(self.schema, "date", FieldType.Date, _midnight(only.not_after + timedelta(days=1)), None)
            clauses.append((Occur.MustNot, later))
        return clauses


class KeywordWriter:
    """Writes the next generation's keyword folder from the previous one (hard links) plus this write's changes."""

    def __init__(self, folder: Path, previous: Path | None = None) -> None:
        self.folder = folder
        if folder.exists():
            shutil.rmtree(folder)
        if previous is not None:
            link_tree(previous, folder)
        self._indexes = {kind: _open_for_writing(folder / kind, kind) for kind in (CHUNKS, ARTICLES)}
        self._writers = {kind: index.writer(heap_size=_WRITER_HEAP_BYTES, num_threads=1) for kind, index in self._indexes.items()}

    def delete(self, article_ids: Iterable[str]) -> None:
        """Remove these articles and their chunks."""
        for article_id in article_ids:
            for writer in self._writers.values():
                writer.delete_documents_by_term("article_id", article_id)

    def add(self, article: Article, chunks: Sequence[tuple[int, Chunk]]) -> None:
        """Add an article and its chunks (each with its database row id)."""
        published = _midnight(article.date)
        self._writers[ARTICLES].add_document(_document(article.id, published, title=article.title, text=article.text))
        for rowid, chunk in chunks:
            document = _document(article.id, published, title=article.title, heading=chunk.heading, text=chunk.text)
            document.add_unsigned("rowid", rowid)
            self._writers[CHUNKS].add_document(document)

    def commit(self) -> None:
        """Commit both indexes, let pending merges finish, drop files nothing uses, and flush everything to disk."""
        for writer in self._writers.values():
            writer.commit()
            writer.wait_merging_threads()
        for kind, index in self._indexes.items():
            cleaner = index.writer(heap_size=_WRITER_HEAP_BYTES, num_threads=1)
            cleaner.garbage_collect_files()
            del cleaner
            _fsync_tree(self.folder / kind)


def _open_for_writing(folder: Path, kind: str) -> tantivy.Index:
    """The tantivy index in folder, created empty when there is none."""
    folder.mkdir(parents=True, exist_ok=True)
    index = tantivy.Index(_schema(kind), path=str(folder), reuse=True)
    index.register_tokenizer(ANALYZER, analyzer())
    return index


def _document(article_id: str, published: datetime | None, **fields: str) -> Document:
    """A document with the article id, the date when there is one, and text fields."""
    document = Document()
    document.add_text("article_id", article_id)
    for name, value in fields.items():
        document.add_text(name, value)
    if published is not None:
        document.add_date("date", published)
    return document


def _boosted(query: Query, boost: float) -> Query:
    """The query with its score scaled (unchanged at 1)."""
    return query if boost == 1.0 else Query.boost_query(query, boost)


def _midnight(day: date | None) -> datetime | None:
    """A date as the datetime tantivy stores for it, within the years it can store (dates beyond are clamped, for the
    articles and the filters alike)."""
    if day is None:
        return None
    day = min(max(day, _EARLIEST_DAY), _LATEST_DAY)
    return datetime(day.year, day.month, day.day)


def link_tree(source: Path, target: Path) -> None:
    """Hard-link every index file of source into target (lock files excluded: each folder takes its own)."""
    for path in source.rglob("*"):
        destination = target / path.relative_to(source)
        if path.is_dir():
            destination.mkdir(parents=True, exist_ok=True)
        elif not path.name.startswith(".tantivy-"):
            destination.parent.mkdir(parents=True, exist_ok=True)
            os.link(path, destination)


def _fsync_tree(folder: Path) -> None:
    """Flush every file of a folder, then the folder itself."""
    for path in folder.iterdir():
        if path.is_file():
            with path.open("rb") as handle:
                os.fsync(handle.fileno())
    fsync_directory(folder)
