"""Retrieval: dense and keyword candidates gathered per chunk, then ranked per article (an article is what a reader
wants, and one long article must not crowd the list), with an optional recency preference."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date

import numpy as np

from index.store import ChunkRow, IndexSnapshot
from qa.ranking import Weights, rank_articles
from qa.types import Passage, SearchFilters, TimeWindow


@dataclass(frozen=True)
class RetrievalPolicy:
    """How candidates are gathered and ranked; the defaults are what `qa eval` measured best on rtqa-passages and
    rtqa-articles together (docs/benchmarks.md)."""

    candidates: int = 300
    article_candidates: int = 100
    keyword_weight: float = 0.3
    article_keyword_share: float = 2 / 3
    passages_per_article: int = 2
    recency_weight: float = 4.0
    recency_half_life_days: float = 14.0

    def __post_init__(self) -> None:
        if self.candidates < 1 or self.article_candidates < 0:
            raise ValueError("candidates must be at least 1 and article_candidates at least 0")
        if not 0.0 <= self.keyword_weight <= 1.0 or not 0.0 <= self.article_keyword_share <= 1.0:
            raise ValueError("keyword_weight and article_keyword_share must be between 0 and 1")
        if self.passages_per_article < 1:
            raise ValueError("passages_per_article must be at least 1")
        if self.recency_weight < 0 or self.recency_half_life_days <= 0:
            raise ValueError("recency_weight must be >= 0 and recency_half_life_days > 0")


@dataclass(frozen=True)
class Retrieved:
    """Ranked passages and the raw cosine of each, which (unlike fused scores) is comparable across questions; and each
    candidate article's evidence before any time bonus (how far it stands out from the other candidates)."""

    passages: list[Passage]
    cosines: dict[str, float]
    relevance: dict[str, float] = field(default_factory=dict)
    time_bonus: dict[str, float] = field(default_factory=dict)


def retrieve(
    snapshot: IndexSnapshot,
    question: str,
    query_vector: np.ndarray,
    k: int,
    filters: SearchFilters,
    policy: RetrievalPolicy,
    as_of: date | None = None,
    window: TimeWindow | None = None,
) -> Retrieved:
    """The best passages of the k best articles. Chunks come from dense and BM25 search; an article scores by its best
    chunk's cosine, its best chunk's BM25 and its whole-text BM25 (each standardised over the candidates), plus a time
    bonus: with a window (the period a question names), articles inside it are searched for on their own as well and
    gain the full bonus, others less the further away they are; a window that reaches the as-of date, or an as-of
    date alone, favours the newest articles. Nothing published after as_of is used. An article's passages are its
    best chunks."""
    if as_of and (filters.as_of is None or filters.as_of > as_of):
        filters = replace(filters, as_of=as_of)
    preferred = _preferred_days(window, as_of)
    searches = [filters]
    if window is not None:
        inside = _within(filters, window)
        searches = [inside, filters] if inside is not None else searches
    pool = max(k, policy.candidates)
    dense: dict[int, float] = {}
    keyword: dict[int, float] = {}
    article_keyword: dict[str, float] = {}
    terms = snapshot.keyword_terms(question) if policy.keyword_weight > 0 else []
    for searched in searches:
        dense.update(snapshot.dense(query_vector, pool, snapshot.allowed_ids(searched), searched))
        if terms:
            keyword.update(snapshot.keyword(terms, pool, searched))
            if policy.article_keyword_share > 0:
                article_keyword.update(snapshot.keyword_articles(terms, max(k, policy.article_candidates), searched))
    weights = Weights(policy.keyword_weight, policy.article_keyword_share, policy.recency_weight, policy.recency_half_life_days)
    articles = rank_articles(snapshot, dense, keyword, article_keyword, weights, preferred)
    chosen = _passages(articles.ranked, articles.chunks, k, policy.passages_per_article)
    rows = snapshot.chunks(chosen)
    chosen = [rowid for rowid in chosen if rowid in rows]
    passages = [to_passage(rows[rowid], articles.score(rows[rowid].article_id)) for rowid in chosen]
    missing = [rowid for rowid in chosen if rowid not in dense]
    if missing:
        dense.update(zip(missing, (snapshot.vectors_for(missing) @ query_vector).tolist(), strict=True))
    cosines = {passage.chunk_id: dense[rowid] for passage, rowid in zip(passages, chosen, strict=True)}
    return Retrieved(passages, cosines, articles.relevance, articles.bonus)



def _preferred_days(window: TimeWindow | None, as_of: date | None) -> TimeWindow | None:
    """The days that earn the full time bonus: a past period the question named ("in May 2021", "last week"); or,
    for a period that reaches the as-of date ("this week", "recently") or none, that date itself, so the newest
    articles come first (measured: a flat 'this week' ranked below plain recency on rtqa)."""
    reaches_as_of = window is not None and as_of is not None and (window.until is None or window.until >= as_of)
    if window is not None and not reaches_as_of:
        return window
    return TimeWindow(as_of, as_of, "") if as_of else None


def _within(filters: SearchFilters, window: TimeWindow) -> SearchFilters | None:
    """The filters narrowed to the window, or None when the two do not overlap."""
    since = max((day for day in (filters.since, window.since) if day), default=None)
    until = min((day for day in (filters.until, window.until) if day), default=None)
    if since and until and since > until:
        return None
    return replace(filters, since=since, until=until)



def fuse(dense: dict[int, float], keyword: dict[int, float], weight: float) -> dict[int, float]:
    """Weighted sum of z-scored dense and keyword scores; a candidate missing from one list gets that list's minimum."""
    dense_z = standardised(dense)
    if weight == 0 or not keyword:
        return dense_z
    keyword_z = standardised(keyword)
    dense_floor, keyword_floor = min(dense_z.values(), default=0.0), min(keyword_z.values())
    return {
        rowid: (1 - weight) * dense_z.get(rowid, dense_floor) + weight * keyword_z.get(rowid, keyword_floor)
        for rowid in dense_z.keys() | keyword_z.keys()
    }


def standardised(scores: dict[int, float] | dict[str, float]) -> dict[int, float] | dict[str, float]:
    """Scores as z-scores within this candidate list (a single candidate scores 0)."""
    if not scores:
        return {}
    values = np.fromiter(scores.values(), dtype=np.float64)
    spread = float(values.std()) or 1.0
    mean = float(values.mean())
    return {key: (value - mean) / spread for key, value in scores.items()}  # type: ignore[misc]



def _passages(ranked: list[str], by_article: dict[str, list[int]], k: int, per_article: int) -> list[int]:
    """k chunks in article order, at most per_article from each; when the articles run out first (a small corpus),
    the ranked articles' further chunks fill the list."""
    chosen = [rowid for article_id in ranked for rowid in by_article[article_id][:per_article]][:k]
    if len(chosen) < k:
        chosen += [rowid for article_id in ranked for rowid in by_article[article_id][per_article:]][: k - len(chosen)]
    return chosen



def to_passage(row: ChunkRow, score: float) -> Passage:
    """A stored chunk as a scored passage."""
    return Passage(
        article_id=row.article_id, title=row.title, date=row.date, source=row.source, url=row.url,
        chunk_id=f"{row.article_id}#{row.ordinal}", heading=row.heading, text=row.text,
        start=row.start, end=row.end, score=round(float(score), 6), outlets=row.outlets,
    )
