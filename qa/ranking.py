"""Candidate chunks ranked as arrays: dense and keyword scores fused per chunk, chunks grouped by article, and each
article scored on its evidence (best cosine, best chunk BM25, whole-article BM25, each standardised over the
candidate articles) plus a time bonus. One question's few hundred candidates cost a few numpy calls, not a few
thousand dictionary lookups."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from index.store import IndexSnapshot
from qa.types import TimeWindow

UNDATED = -1


@dataclass(frozen=True)
class RankedArticles:
    """Candidate articles best first, each with its chunks best first, its evidence and its time bonus."""

    ranked: list[str]
    chunks: dict[str, list[int]]
    relevance: dict[str, float]
    bonus: dict[str, float]

    def score(self, article_id: str) -> float:
        """An article's evidence plus its time bonus."""
        return self.relevance[article_id] + self.bonus.get(article_id, 0.0)


@dataclass(frozen=True)
class Weights:
    """How much each signal counts, and how the time bonus decays."""

    keyword: float
    article_keyword_share: float
    recency: float
    half_life_days: float


def rank_articles(
    snapshot: IndexSnapshot,
    dense: dict[int, float],
    keyword: dict[int, float],
    article_keyword: dict[str, float],
    weights: Weights,
    preferred: TimeWindow | None,
) -> RankedArticles:
    """Fuse, group and score the candidates; chunks the snapshot does not hold are left out, ties go to the lower
    row id."""
    rowids, fused, dense_scores, keyword_scores = _fused(dense, keyword, weights.keyword)
    slots, days = snapshot.chunk_articles(rowids)
    held = slots >= 0
    rowids, fused, dense_scores, keyword_scores, slots, days = (
        values[held] for values in (rowids, fused, dense_scores, keyword_scores, slots, days)
    )
    order = np.lexsort((rowids, -fused))  # best fused score first
    rowids, dense_scores, keyword_scores, slots, days = (
        values[order] for values in (rowids, dense_scores, keyword_scores, slots, days)
    )
    article_slots, first, position = np.unique(slots, return_index=True, return_inverse=True)
    by_appearance = np.argsort(first, kind="stable")  # articles in the order of their best chunk
    article_ids = snapshot.article_ids_at(article_slots)
    relevance = np.zeros(len(article_slots))
    best_keyword = _best_per_article(keyword_scores, position, len(article_slots))
    whole_article = np.array([article_keyword.get(article_id, np.nan) for article_id in article_ids])
    for weight, signal in (
        (1 - weights.keyword, _best_per_article(dense_scores, position, len(article_slots))),
        (weights.keyword * (1 - weights.article_keyword_share), best_keyword),
        (weights.keyword * weights.article_keyword_share, whole_article),
    ):
        if weight and not np.isnan(signal).all():
            standard = _standardised(signal)
            relevance += weight * np.where(np.isnan(standard), np.nanmin(standard), standard)
    bonus = np.zeros(len(article_slots))
    if preferred is not None and weights.recency > 0:
        bonus = weights.recency * _closeness(days[first], preferred, weights.half_life_days)
    ranked = by_appearance[np.argsort(-(relevance + bonus)[by_appearance], kind="stable")]
    chunks: dict[str, list[int]] = {article_ids[number]: [] for number in by_appearance.tolist()}
    for rowid, number in zip(rowids.tolist(), position.tolist(), strict=True):
        chunks[article_ids[number]].append(rowid)
    return RankedArticles(
        [article_ids[number] for number in ranked.tolist()], chunks,
        dict(zip(article_ids, relevance.tolist(), strict=True)),
        dict(zip(article_ids, bonus.tolist(), strict=True)) if preferred is not None and weights.recency > 0 else {},
    )


def _fused(
    dense: dict[int, float], keyword: dict[int, float], weight: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Candidate row ids, their fused scores (weighted z-scores; a candidate missing from one list gets that list's
    lowest), and their dense and keyword scores (NaN where missing). Without keywords, the dense candidates alone."""
    use_keyword = weight > 0 and bool(keyword)
    rowids = np.fromiter(dense.keys() | keyword.keys() if use_keyword else dense.keys(), dtype=np.int64)
    dense_scores = np.array([dense.get(rowid, np.nan) for rowid in rowids.tolist()], dtype=np.float64)
    keyword_scores = np.array([keyword.get(rowid, np.nan) for rowid in rowids.tolist()], dtype=np.float64)
    if not len(rowids):
        return rowids, dense_scores, dense_scores, keyword_scores
    fused = _filled(_standardised(dense_scores)) if dense else np.zeros(len(rowids))
    if use_keyword:
        fused = (1 - weight) * fused + weight * _filled(_standardised(keyword_scores))
    return rowids, fused, dense_scores, keyword_scores


def _standardised(values: np.ndarray) -> np.ndarray:
    """z-scores of the present values (NaN stays NaN; a single value scores 0)."""
    present = values[~np.isnan(values)]
    spread = float(present.std()) or 1.0
    return (values - float(present.mean())) / spread


def _filled(standard: np.ndarray) -> np.ndarray:
    """Missing z-scores replaced by the lowest present one."""
    return np.where(np.isnan(standard), np.nanmin(standard), standard)


def _best_per_article(scores: np.ndarray, position: np.ndarray, articles: int) -> np.ndarray:
    """Each article's highest score among its chunks (NaN when none of them has one)."""
    best = np.full(articles, -np.inf)
    present = ~np.isnan(scores)
    np.maximum.at(best, position[present], scores[present])
    return np.where(np.isneginf(best), np.nan, best)


def _closeness(days: np.ndarray, window: TimeWindow, half_life_days: float) -> np.ndarray:
    """1 inside the window, halving every half-life of days outside it; 0 when undated."""
    distance = np.zeros(len(days))
    if window.since:
        distance = np.maximum(distance, window.since.toordinal() - days)
    if window.until:
        distance = np.maximum(distance, days - window.until.toordinal())
    return np.where(days == UNDATED, 0.0, 0.5 ** (distance / half_life_days))
