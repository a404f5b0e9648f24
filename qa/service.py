"""QAService: the one object every front end calls to index, search and ask."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path

import numpy as np
import redis

from index.articles import load_paths
from index.build import IndexReport, update_index
from index.chunking import ChunkingPolicy
from index.backends import make_embedder
from index.embedder import Embedder
from index.speakers import SpeakerFinder
from index.compaction import CompactionStep, compact_index
from index.store import IndexSnapshot, index_exists
from qa.answer import (
    AnswerPolicy,
    abstention,
    cite,
    answer_probability,
    compose_answer,
    rank_evidence,
    stored_notes,
    stored_previous,
    stored_sentences,
    supporting_sentence,
)
from qa.abstain import load_model
from qa.chat import ConversationStore, Turn, follow_up_vector, resolve_follow_up
from qa.compactor import BackgroundCompactor, WriteTally
from qa.config import Settings
from qa.dask_ingest import prepare_on_dask
from qa.query_vectors import QueryVectors
from qa.redis_conversations import RedisConversationStore
from qa.errors import ArticleNotFoundError, InvalidQuestionError
from qa.evidence import SentenceVectors
from qa.generate import NOT_FOUND_REPLY, ChatEndpoint, GenerationError, build_messages, parse_reply, request_completion
from qa.retrieve import RetrievalPolicy, Retrieved, retrieve
from qa.time_text import window_note
from qa import timeframe
from qa.timeframe import find_time
from qa.types import Answer, Article, Found, Passage, SearchFilters, TimeWindow


@dataclass(frozen=True)
class Asked:
    """A question as searched: its words without the time phrase, the period it names, the date it is asked as of."""

    text: str
    window: TimeWindow | None
    as_of: date | None


def make_conversations(settings: Settings) -> ConversationStore | RedisConversationStore:
    """Conversations in Redis when QA_REDIS_URL is set (replicas share them), else in this process's memory."""
    if settings.redis_url:
        return RedisConversationStore(redis.Redis.from_url(settings.redis_url), settings.conversation_ttl_seconds)
    return ConversationStore(settings.conversation_ttl_seconds)


class QAService:
    """Index articles and answer questions from them, with citations."""

    def __init__(
        self,
        settings: Settings,
        embedder: Embedder | None = None,
        retrieval: RetrievalPolicy | None = None,
        answering: AnswerPolicy | None = None,
        conversations: ConversationStore | RedisConversationStore | None = None,
        today: Callable[[], date] = date.today,
    ) -> None:
        self.settings = settings
        self._today = today
        self._embedder = embedder
        self.retrieval = retrieval or RetrievalPolicy(
            keyword_weight=settings.keyword_weight,
            recency_weight=settings.recency_weight,
            recency_half_life_days=settings.recency_half_life_days,
        )
        self.answering = answering or AnswerPolicy(
            max_sentences=settings.answer_sentences, min_confidence=settings.min_confidence, model=load_model()
        )
        self.conversations = make_conversations(settings) if conversations is None else conversations
        self._snapshot: IndexSnapshot | None = None
        self._lock = threading.Lock()
        self._write_lock = threading.Lock()
        self.writes = WriteTally()
        self._compactor = BackgroundCompactor(settings.index_dir, self._compacted)
        self._query_vectors: QueryVectors | None = None

    @property
    def embedder(self) -> Embedder:
        """The embedding model, loaded on first use."""
        with self._lock:
            if self._embedder is None:
                self._embedder = make_embedder(
                    self.settings.model, self.settings.embed_backend, self.settings.onnx_cache_dir
                )
            return self._embedder

    @property
    def query_vectors(self) -> QueryVectors:
        """Question embeddings (cached, batched), set up with the model on first use."""
        embedder = self.embedder
        with self._lock:
            if self._query_vectors is None:
                settings = self.settings
                self._query_vectors = QueryVectors(
                    embedder, settings.query_cache_size, settings.embed_batch_max, settings.embed_batch_wait_ms / 1000
                )
            return self._query_vectors

    def query_figures(self) -> dict[str, int]:
        """Question-vector cache hits and misses, and the model calls that embedded questions (0 before the first)."""
        vectors = self._query_vectors
        if vectors is None:
            return {}
        tally = vectors.batcher.tally
        return {"cache_hits": vectors.hits, "cache_misses": vectors.misses, "model_calls": tally.calls, "embedded": tally.texts}

    @property
    def index_dir(self) -> Path:
        """Where the index lives."""
        return self.settings.index_dir

    @property
    def chunking(self) -> ChunkingPolicy:
        """Chunk sizes from the settings."""
        return ChunkingPolicy(self.settings.chunk_tokens, self.settings.chunk_overlap, self.settings.chunk_context)

    def index_paths(
        self,
        paths: Sequence[Path],
        prune: bool = True,
        show_progress: bool = False,
        rebuild: bool = False,
        parallel: bool = False,
        dask: str | None = None,
    ) -> IndexReport:
        """Index the articles under paths; with prune, drop articles no longer there; with rebuild, start afresh
        (the live index keeps answering until the new one is published). Load errors and skipped files are reported;
        a load error stops the pruning, a skipped file does not (what it held is no longer a source). With parallel,
        large batches find speakers in forked worker processes, one per core up to two (command-line use, not from a
        server's threads). With dask (tcp://HOST:PORT or local:N), new and changed articles are chunked, embedded and
        annotated on the Dask cluster's workers, then written here in one write."""
        started = time.perf_counter()
        loaded = load_paths(paths)
        prepared = None
        if dask:
            todo = loaded.articles if rebuild else self._changed(loaded.articles)
            known = set() if rebuild or not index_exists(self.index_dir) else self.snapshot().chunk_keys([a.id for a in todo])
            prepared = prepare_on_dask(todo, self.settings, self.chunking, dask, show_progress, known_keys=known)
        with self._write_lock:
            report = update_index(
                self.index_dir, self.embedder, self.chunking, loaded.articles,
                prune=prune and not loaded.errors, show_progress=show_progress, rebuild=rebuild,
                speakers=SpeakerFinder(processes=min(2, os.cpu_count() or 1) if parallel else 1), prepared=prepared,
                vector_store=self.settings.vector_store_config,
            )
        report.errors, report.skipped = loaded.errors, loaded.skipped
        if dask:
            report.seconds = round(time.perf_counter() - started, 3)  # the cluster's work included
        self._written(report)
        return report

    def _changed(self, articles: Sequence[Article]) -> list[Article]:
        """The articles the index does not hold as they are (all of them when there is no index yet)."""
        if not index_exists(self.index_dir):
            return list(articles)
        stored = self.snapshot().article_hashes(article.id for article in articles)
        return [article for article in articles if stored.get(article.id) != article.content_hash]

    def ensure_index(self, show_progress: bool = False) -> IndexReport | None:
        """Build the default index from the seeds when there is none yet."""
        if index_exists(self.index_dir):
            return None
        return self.index_paths([self.settings.seeds_dir], show_progress=show_progress)

    def upsert_articles(self, articles: Sequence[Article]) -> IndexReport:
        """Add or replace articles; they are searchable when this returns."""
        with self._write_lock:
            report = update_index(
                self.index_dir, self.embedder, self.chunking, articles, clean_up_in_background=True, compact=False,
                vector_store=self.settings.vector_store_config,
            )
        self._written(report, compact_later=True)
        return report

    def delete_articles(self, article_ids: Sequence[str]) -> IndexReport:
        """Remove articles; they are never cited once this returns."""
        with self._write_lock:
            snapshot = self.snapshot()
            missing = [article_id for article_id in dict.fromkeys(article_ids) if snapshot.article(article_id) is None]
            if missing:
                raise ArticleNotFoundError(f"no article with id {', '.join(map(repr, missing))} in the index")
            report = update_index(
                self.index_dir, self.embedder, self.chunking, deletes=article_ids, clean_up_in_background=True,
                compact=False, vector_store=self.settings.vector_store_config,
            )
        self._written(report, compact_later=True)
        return report

    def compact(self, everything: bool = False) -> list[CompactionStep]:
        """Run the merges the index calls for now (with everything, down to one segment without tombstones)."""
        with self._write_lock:
            steps = compact_index(self.index_dir, force=everything)
        self._compacted(steps, 0)
        return steps

    def wait_for_compaction(self) -> None:
        """Block until no background compaction runs (at shutdown, and in tests)."""
        self._compactor.wait()

    def _written(self, report: IndexReport, compact_later: bool = False) -> None:
        """Count a write and (for a server's writes) compact on a background thread; the next question opens the new
        state, which `snapshot` sees committed."""
        with self._lock:
            self.writes.writes += 1
            self.writes.bytes_written += report.bytes_written or 0
            self.writes.compactions += len(report.compactions)
        if compact_later:
            self._compactor.request()

    def _compacted(self, steps: list[CompactionStep], written: int) -> None:
        """Count a compaction's merges (the next question opens the compacted state)."""
        with self._lock:
            self.writes.compactions += len(steps)
            self.writes.compaction_bytes += written

    def search(
        self, question: str, k: int | None = None, filters: SearchFilters | None = None, as_of: date | None = None
    ) -> list[Passage]:
        """The best-matching passages with their citations' data."""
        return self.find(question, k, filters, as_of).passages

    def find(
        self, question: str, k: int | None = None, filters: SearchFilters | None = None, as_of: date | None = None
    ) -> Found:
        """The best-matching passages, the period the question named and, when no passage is from it, a note."""
        asked = self._read_time(self.validate_question(question), filters, as_of)
        retrieved = self._retrieve(asked.text, self._query_vector(asked.text), k, filters, asked.as_of, window=asked.window)
        return Found(retrieved.passages, asked.window, window_note(asked.window, retrieved.passages))

    def ask(
        self,
        question: str,
        k: int | None = None,
        filters: SearchFilters | None = None,
        as_of: date | None = None,
        conversation_id: str | None = None,
    ) -> Answer:
        """A short answer whose every sentence cites the passage it was taken from; follow-ups use the conversation
        (and its period, unless they name their own)."""
        text = self.validate_question(question)
        conversation = self.conversations.get_or_create(conversation_id)
        previous = conversation.turns[-1].window if conversation.turns else None
        asked = self._read_time(text, filters, as_of, previous)
        resolved = resolve_follow_up(asked.text, conversation.turns)
        window = asked.window or (previous if resolved != asked.text else None)
        if resolved == asked.text:
            vector = self._query_vector(asked.text)
        else:
            own, context = self.query_vectors.embed([asked.text, conversation.turns[-1].resolved])
            vector = follow_up_vector(own, context)
        snapshot = self.snapshot()
        retrieved = self._retrieve(resolved, vector, k, filters, asked.as_of, snapshot, window)
        sentence_vectors = stored_sentences(snapshot)
        answer = self._generate(resolved, vector, retrieved, sentence_vectors) if self.settings.llm_url else None
        answer = answer or compose_answer(
            resolved, vector, retrieved, sentence_vectors, self.answering, asked=asked.text, notes=stored_notes(snapshot),
            window=window, previous_passage=stored_previous(snapshot),
            previous_speaker=conversation.turns[-1].speaker if conversation.turns else "",
        )
        cited = {citation.article_id for citation in answer.citations}
        used = [passage for passage in retrieved.passages if passage.article_id in cited] or retrieved.passages
        note = window_note(window, used, retrieved.passages)  # judged by what the answer cites
        answer = replace(
            answer, question=text, resolved_question=resolved, conversation_id=conversation.id, time_window=window,
            time_note=note, answer=f"{note} {answer.answer}" if note else answer.answer,
        )
        quoted = next((citation.speaker.name for citation in answer.citations if citation.speaker), "")
        self.conversations.record(conversation, Turn(text, resolved, answer.answer, window, quoted))
        return answer

    def warm_up(self) -> IndexSnapshot:
        """Load what the first question would otherwise wait for: the index and its chunk catalog, the model, and the
        date reader; the live snapshot."""
        snapshot = self.snapshot()
        snapshot.owners([])
        self.embedder.embed(["warm up"])
        timeframe.warm_up()
        return snapshot

    def default_as_of(self) -> date | None:
        """Today, when questions are asked as of today by default (QA_AS_OF_TODAY), else None."""
        return self._today() if self.settings.as_of_today else None

    def _read_time(
        self, text: str, filters: SearchFilters | None, as_of: date | None, previous: TimeWindow | None = None
    ) -> Asked:
        """The question's period and what is left to search for; explicit date filters win over the words."""
        as_of = as_of or self.default_as_of()
        if filters and (filters.since or filters.until):
            return Asked(text, None, as_of)
        found = find_time(text, as_of, previous)
        return Asked(found.remainder, found.window, as_of) if found else Asked(text, None, as_of)

    def article(self, article_id: str) -> Article:
        """One indexed article with its full text."""
        found = self.snapshot().article(article_id)
        if found is None:
            raise ArticleNotFoundError(f"no article with id {article_id!r}; list them with GET /v1/articles")
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
        """The live index state, reopened when a write has been committed since."""
        embedder = self.embedder
        with self._lock:
            if self._snapshot is None or not self._snapshot.is_current():
                # let go of the old snapshot first: its read transaction ends now (or when the last request holding
                # it finishes), so the new one can start after a full checkpoint and the log does not grow
                reuse, self._snapshot = (self._snapshot.reusable() if self._snapshot else None), None
                self._snapshot = IndexSnapshot.open(
                    self.index_dir, embedder.name, embedder.dimension, reuse=reuse,
                    vector_store=self.settings.vector_store_config,
                )
            return self._snapshot

    def _retrieve(
        self,
        text: str,
        vector: np.ndarray,
        k: int | None,
        filters: SearchFilters | None,
        as_of: date | None,
        snapshot: IndexSnapshot | None = None,
        window: TimeWindow | None = None,
    ) -> Retrieved:
        """Retrieve from a snapshot (the live one by default) with the service's policy."""
        return retrieve(
            snapshot or self.snapshot(), text, vector, k or self.settings.top_k, filters or SearchFilters(),
            self.retrieval, as_of, window,
        )

    def _generate(
        self, question: str, vector: np.ndarray, retrieved: Retrieved, sentence_vectors: SentenceVectors
    ) -> Answer | None:
        """A generated answer whose sentences cite existing passages, or None to fall back to the extractive one."""
        ranked = rank_evidence(question, vector, retrieved.passages, sentence_vectors, self.answering)
        score, _ = answer_probability(question, retrieved, ranked, self.answering)
        if score < self.answering.min_confidence:
            return None
        key = self.settings.llm_api_key
        endpoint = ChatEndpoint(
            str(self.settings.llm_url), self.settings.llm_model, key.get_secret_value() if key else None,
            self.settings.llm_timeout_seconds,
        )
        passages = retrieved.passages
        try:
            reply = request_completion(endpoint, build_messages(question, passages))
        except GenerationError:
            return None
        if reply.strip() == NOT_FOUND_REPLY:
            return abstention(question, retrieved, score)
        generated = parse_reply(reply, len(passages))
        if not generated:
            return None
        claims = self.embedder.embed([sentence.text for sentence in generated])
        supported = [
            (sentence.text, supporting_sentence(claim, passages[number - 1], number - 1, sentence_vectors))
            for sentence, claim in zip(generated, claims, strict=True)
            for number in sentence.passages[:1]
        ]
        cited = [(text, evidence) for text, evidence in supported if evidence is not None]
        return cite(question, cited, retrieved, score, mode="generative") if cited else None

    def _query_vector(self, question: str) -> np.ndarray:
        """The question's embedding."""
        vector: np.ndarray = self.query_vectors.embed([question])[0]
        return vector
