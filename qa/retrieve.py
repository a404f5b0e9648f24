"""Retrieval: dense and keyword candidates, fused on standardised scores, with an optional recency preference."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date

import numpy as np

from index.store import ChunkRow, IndexSnapshot
from qa.types import Passage, SearchFilters


@dataclass(frozen=True)
class RetrievalPolicy:
    """How candidates are gathered and fused; the defaults are what `qa eval` measured best (docs/benchmarks.md)."""

    candidates: int = 100
    keyword_weight: float = 0.3
    recency_weight: float = 1.0
    recency_half_life_days: float = 14.0

    def __post_init__(self) -> None:
        if self.candidates < 1:
            raise ValueError("candidates must be at least 1")
        if not 0.0 <= self.keyword_weight <= 1.0:
            raise ValueError("keyword_weight must be between 0 and 1")
        if self.recency_weight < 0 or self.recency_half_life_days <= 0:
            raise ValueError("recency_weight must be >= 0 and recency_half_life_days > 0")


@dataclass(frozen=True)
class Retrieved:
    """Ranked passages and the raw cosine of each, which (unlike fused scores) is comparable across questions."""

    passages: list[Passage]
    cosines: dict[str, float]


def retrieve(
    snapshot: IndexSnapshot,
    question: str,
    query_vector: np.ndarray,
    k: int,
    filters: SearchFilters,
    policy: RetrievalPolicy,
    as_of: date | None = None,
) -> Retrieved:
    """The k best passages: standardised dense + keyword scores, plus a decay bonus for recent articles."""
    if as_of and (filters.until is None or filters.until > as_of):
        filters = replace(filters, until=as_of)
    allowed = snapshot.allowed_ids(filters)
    pool = max(k, policy.candidates)
    dense = dict(snapshot.dense(query_vector, pool, allowed))
    keyword = dict(snapshot.keyword(snapshot.keyword_terms(question), pool, filters)) if policy.keyword_weight > 0 else {}
    scores = fuse(dense, keyword, policy.keyword_weight)
    rows = snapshot.chunks(list(scores))
    if as_of and policy.recency_weight > 0:
        scores = {rowid: score + policy.recency_weight * _decay(rows[rowid].date, as_of, policy) for rowid, score in scores.items() if rowid in rows}
    ranked = sorted((rowid for rowid in scores if rowid in rows), key=lambda rowid: scores[rowid], reverse=True)[:k]
    passages = [to_passage(rows[rowid], scores[rowid]) for rowid in ranked]
    missing = [rowid for rowid in ranked if rowid not in dense]
    if missing:
        dense.update(zip(missing, (snapshot.vectors_for(missing) @ query_vector).tolist(), strict=True))
    return Retrieved(passages, {passage.chunk_id: dense[rowid] for passage, rowid in zip(passages, ranked, strict=True)})


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


def standardised(scores: dict[int, float]) -> dict[int, float]:
    """Scores as z-scores within this candidate list (a single candidate scores 0)."""
    if not scores:
        return {}
    values = np.fromiter(scores.values(), dtype=np.float64)
    spread = float(values.std()) or 1.0
    mean = float(values.mean())
    return {rowid: (value - mean) / spread for rowid, value in scores.items()}


def _decay(published: date | None, as_of: date, policy: RetrievalPolicy) -> float:
    """1 for an article from the as-of day, halving every half-life before it; 0 when undated."""
    if published is None:
        return 0.0
    age = max((as_of - published).days, 0)
    return float(0.5 ** (age / policy.recency_half_life_days))


def to_passage(row: ChunkRow, score: float) -> Passage:
    """A stored chunk as a scored passage."""
    return Passage(
        article_id=row.article_id, title=row.title, date=row.date, source=row.source, url=row.url,
        chunk_id=f"{row.article_id}#{row.ordinal}", heading=row.heading, text=row.text,
        start=row.start, end=row.end, score=round(float(score), 6),
    )
