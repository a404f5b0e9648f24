"""QAService: the one object every front end calls to index, search and ask."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from datetime import date
from pathlib import Path

import numpy as np

from index.articles import load_paths
from index.build import IndexReport, update_index
from index.chunking import ChunkingPolicy
from index.embedder import Embedder, SentenceTransformerEmbedder
from index.store import IndexSnapshot, index_exists
from qa.answer import AnswerPolicy, compose_answer
from qa.config import Settings
from qa.errors import ArticleNotFoundError, InvalidQuestionError
from qa.retrieve import RetrievalPolicy, Retrieved, retrieve
from qa.types import Answer, Article, Passage, SearchFilters


class QAService:
    """Index articles and answer questions from them, with citations."""

    def __init__(
        self,
        settings: Settings,
        embedder: Embedder | None = None,
        retrieval: RetrievalPolicy | None = None,
        answering: AnswerPolicy | None = None,
    ) -> None:
        self.settings = settings
        self._embedder = embedder
        self.retrieval = retrieval or RetrievalPolicy()
        self.answering = answering or AnswerPolicy(max_sentences=settings.answer_sentences)
        self._snapshot: IndexSnapshot | None = None
        self._lock = threading.Lock()

    @property
    def embedder(self) -> Embedder:
        """The embedding model, loaded on first use."""
        if self._embedder is None:
            self._embedder = SentenceTransformerEmbedder(self.settings.model)
        return self._embedder

    @property
    def index_dir(self) -> Path:
        """Where the index lives."""
        return self.settings.index_dir

    @property
    def chunking(self) -> ChunkingPolicy:
        """Chunk sizes from the settings."""
        return ChunkingPolicy(self.settings.chunk_tokens, self.settings.chunk_overlap)

    def index_paths(
        self, paths: Sequence[Path], prune: bool = True, show_progress: bool = False
    ) -> IndexReport:
        """Index the articles under paths; with prune, drop articles no longer there. Load errors are reported."""
        loaded = load_paths(paths)
        report = update_index(
            self.index_dir, self.embedder, self.chunking, loaded.articles, prune=prune and not loaded.errors,
            show_progress=show_progress,
        )
        report.errors = loaded.errors
        return report

    def ensure_index(self, show_progress: bool = False) -> IndexReport | None:
        """Build the default index from the seeds when there is none yet."""
        if index_exists(self.index_dir):
            return None
        return self.index_paths([self.settings.seeds_dir], show_progress=show_progress)

    def upsert_articles(self, articles: Sequence[Article]) -> IndexReport:
        """Add or replace articles; they are searchable when this returns."""
        report = update_index(self.index_dir, self.embedder, self.chunking, articles)
        self._refresh()
        return report

    def delete_articles(self, article_ids: Sequence[str]) -> IndexReport:
        """Remove articles; they are never cited once this returns."""
        snapshot = self.snapshot()
        missing = [article_id for article_id in dict.fromkeys(article_ids) if snapshot.article(article_id) is None]
        if missing:
            raise ArticleNotFoundError(f"no article with id {', '.join(map(repr, missing))} in the index")
        report = update_index(self.index_dir, self.embedder, self.chunking, deletes=article_ids)
        self._refresh()
        return report

    def search(
        self, question: str, k: int | None = None, filters: SearchFilters | None = None, as_of: date | None = None
    ) -> list[Passage]:
        """The best-matching passages with their citations' data."""
        text = self.validate_question(question)
        return self._retrieve(text, self._query_vector(text), k, filters, as_of).passages

    def ask(
        self, question: str, k: int | None = None, filters: SearchFilters | None = None, as_of: date | None = None
    ) -> Answer:
        """A short answer whose every sentence cites the passage it was taken from."""
        text = self.validate_question(question)
        vector = self._query_vector(text)
        retrieved = self._retrieve(text, vector, k, filters, as_of)
        return compose_answer(text, vector, retrieved, self.embedder.embed, self.answering)

    def _retrieve(
        self, text: str, vector: np.ndarray, k: int | None, filters: SearchFilters | None, as_of: date | None
    ) -> Retrieved:
        """Retrieve from the live snapshot with the service's policy."""
        return retrieve(
            self.snapshot(), text, vector, k or self.settings.top_k, filters or SearchFilters(), self.retrieval, as_of
        )

    def article(self, article_id: str) -> Article:
        """One indexed article with its full text."""
        found = self.snapshot().article(article_id)
        if found is None:
            raise ArticleNotFoundError(f"no article with id {article_id!r}; list them with `qa articles`")
        return found

    def articles(self, limit: int = 100, offset: int = 0) -> list[Article]:
        """Indexed articles, newest first."""
        return self.snapshot().articles(limit, offset)

    def validate_question(self, question: str) -> str:
        """The question without surrounding whitespace, or an error saying what is wrong."""
        text = question.strip()
        if not text:
            raise InvalidQuestionError("the question is empty; ask something like 'what did Russia say about the GCC?'")
        if len(text) > self.settings.max_question_chars:
            raise InvalidQuestionError(
                f"the question has {len(text)} characters; the limit is {self.settings.max_question_chars} "
                "(QA_MAX_QUESTION_CHARS)"
            )
        return text

    def snapshot(self) -> IndexSnapshot:
        """The live index generation, reopened when a newer one has been published."""
        with self._lock:
            if self._snapshot is None or not self._snapshot.is_current():
                self._snapshot = IndexSnapshot.open(self.index_dir, self.embedder.name, self.embedder.dimension)
            return self._snapshot

    def _refresh(self) -> None:
        """Drop the cached snapshot so the next call opens the newest generation."""
        with self._lock:
            self._snapshot = None

    def _query_vector(self, question: str) -> np.ndarray:
        """The question's embedding."""
        return self.embedder.embed([question])[0]
