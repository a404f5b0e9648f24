"""Retrieval: dense search, keyword search and their fusion into a ranked list of passages."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from index.store import ChunkRow, IndexSnapshot
from qa.types import Passage, SearchFilters


@dataclass(frozen=True)
class RetrievalPolicy:
    """How candidates are gathered and fused; the defaults are what `qa eval` measured best."""

    candidates: int = 50
    keyword_weight: float = 0.0

    def __post_init__(self) -> None:
        if self.candidates < 1:
            raise ValueError("candidates must be at least 1")
        if not 0.0 <= self.keyword_weight <= 1.0:
            raise ValueError("keyword_weight must be between 0 and 1")


def retrieve(
    snapshot: IndexSnapshot,
    question: str,
    query_vector: np.ndarray,
    k: int,
    filters: SearchFilters,
    policy: RetrievalPolicy,
) -> list[Passage]:
    """The k best passages for a question."""
    allowed = snapshot.allowed_ids(filters)
    pool = max(k, policy.candidates)
    dense = dict(snapshot.dense(query_vector, pool, allowed))
    scores = dict(dense)
    if policy.keyword_weight > 0:
        keyword = dict(snapshot.keyword(question, pool, allowed))
        scores = fuse(dense, keyword, policy.keyword_weight)
    ranked = sorted(scores, key=lambda rowid: scores[rowid], reverse=True)[:k]
    rows = snapshot.chunks(ranked)
    return [to_passage(rows[rowid], scores[rowid]) for rowid in ranked if rowid in rows]


def fuse(dense: dict[int, float], keyword: dict[int, float], weight: float) -> dict[int, float]:
    """Cosine plus weight times BM25 scaled to [0, 1] by the best keyword score."""
    best = max(keyword.values(), default=0.0)
    candidates = set(dense) | set(keyword)
    floor = min(dense.values(), default=0.0)
    return {
        rowid: (1 - weight) * dense.get(rowid, floor) + weight * (keyword.get(rowid, 0.0) / best if best > 0 else 0.0)
        for rowid in candidates
    }


def to_passage(row: ChunkRow, score: float) -> Passage:
    """A stored chunk as a scored passage."""
    return Passage(
        article_id=row.article_id, title=row.title, date=row.date, source=row.source, url=row.url,
        chunk_id=f"{row.article_id}#{row.ordinal}", heading=row.heading, text=row.text,
        start=row.start, end=row.end, score=round(float(score), 6),
    )
