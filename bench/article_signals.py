"""Which chunk evidence ranks articles best: each signal alone and weighted blends, on rtqa-articles and rtqa-passages,
with no date and as of each question's date (no later articles, recency decay), questions split even/odd.

Run: python -m bench.article_signals [--sets rtqa-articles rtqa-passages] [--json bench/results/article_signals.json]

Candidates are gathered once per question from the set's eval index (build it with `python -m bench.eval_sets`):
the 1,000 best chunks by cosine and by BM25, the 300 best articles by whole-article BM25. Per article: the best chunk
cosine (max), the second best, the mean of the best three, the best chunk BM25 and the whole-article BM25; each
signal is z-scored over the candidate articles (a missing one gets the lowest), blends are weighted sums.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np

from bench.machine import describe, write_results
from index.store import IndexSnapshot
from qa.config import Settings
from qa.evaluate import Question, article_ranking_metrics, eval_index_dir, load_questions
from qa.retrieve import standardised
from qa.service import QAService
from qa.types import SearchFilters

SHARED = Path(__file__).resolve().parent.parent.parent / "shared" / "eval"
BLENDS: dict[str, dict[str, float]] = {
    "max cosine": {"max": 1.0},
    "second cosine": {"second": 1.0},
    "mean of best 3 cosines": {"mean3": 1.0},
    "best chunk BM25": {"chunk_bm25": 1.0},
    "whole-article BM25": {"article_bm25": 1.0},
    "max 0.7 + chunk BM25 0.3 (chunk-level weights)": {"max": 0.7, "chunk_bm25": 0.3},
    "max 0.7 + article BM25 0.3": {"max": 0.7, "article_bm25": 0.3},
    "max 0.7 + chunk BM25 0.1 + article BM25 0.2 (default)": {"max": 0.7, "chunk_bm25": 0.1, "article_bm25": 0.2},
    "max 0.6 + chunk BM25 0.1 + article BM25 0.3": {"max": 0.6, "chunk_bm25": 0.1, "article_bm25": 0.3},
    "max 0.5 + second 0.2 + chunk BM25 0.1 + article BM25 0.2": {"max": 0.5, "second": 0.2, "chunk_bm25": 0.1, "article_bm25": 0.2},
    "max 0.5 + mean3 0.2 + chunk BM25 0.1 + article BM25 0.2": {"max": 0.5, "mean3": 0.2, "chunk_bm25": 0.1, "article_bm25": 0.2},
}
RECENCY_WEIGHT, HALF_LIFE_DAYS = 4.0, 14.0


@dataclass
class Candidates:
    """One question's per-article signals (raw), with each article's date."""

    signals: dict[str, dict[str, float]] = field(default_factory=dict)
    dates: dict[str, date | None] = field(default_factory=dict)


def gather(snapshot: IndexSnapshot, text: str, vector: np.ndarray, filters: SearchFilters) -> Candidates:
    """Per-article signals from the candidate chunks and articles of one question."""
    terms = snapshot.keyword_terms(text)
    dense = snapshot.dense(vector, 1000, snapshot.allowed_ids(filters), filters)
    keyword = snapshot.keyword(terms, 1000, filters)
    owners = snapshot.owners({rowid for rowid, _ in dense} | {rowid for rowid, _ in keyword})
    found = Candidates()
    cosines: dict[str, list[float]] = {}
    for rowid, score in dense:
        if rowid in owners:
            cosines.setdefault(owners[rowid].article_id, []).append(score)
    for article_id, scores in cosines.items():
        ordered = sorted(scores, reverse=True)
        found.signals.setdefault("max", {})[article_id] = ordered[0]
        found.signals.setdefault("mean3", {})[article_id] = float(np.mean(ordered[:3]))
        if len(ordered) > 1:
            found.signals.setdefault("second", {})[article_id] = ordered[1]
    for rowid, score in keyword:
        if rowid in owners:
            best = found.signals.setdefault("chunk_bm25", {})
            best[owners[rowid].article_id] = max(score, best.get(owners[rowid].article_id, score))
    articles = {owner.article_id for owner in owners.values()}
    found.signals["article_bm25"] = {
        article_id: score for article_id, score in snapshot.keyword_articles(terms, 300, filters) if article_id in articles
    }
    found.dates = {owner.article_id: owner.date for owner in owners.values()}
    return found


def rank(found: Candidates, weights: dict[str, float], as_of: date | None) -> list[str]:
    """The ten best articles under a blend (plus the recency decay when as_of is given)."""
    totals = dict.fromkeys(found.dates, 0.0)
    for name, weight in weights.items():
        signal = found.signals.get(name) or {}
        if not signal:
            continue
        standard = standardised(signal)
        floor = min(standard.values())
        for article_id in totals:
            totals[article_id] += weight * standard.get(article_id, floor)  # type: ignore[call-overload]
    if as_of:
        for article_id, published in found.dates.items():
            if published:
                totals[article_id] += RECENCY_WEIGHT * 0.5 ** (max((as_of - published).days, 0) / HALF_LIFE_DAYS)
    return sorted(totals, key=lambda article_id: totals[article_id], reverse=True)[:10]


def evaluate(name: str) -> list[dict[str, Any]]:
    """Every blend on one set, both protocols, all questions and each half."""
    settings = Settings()
    corpus = SHARED / name / "corpus.jsonl"
    service = QAService(settings.model_copy(update={"index_dir": eval_index_dir(settings.index_dir.parent / "eval", corpus, settings)}))
    snapshot = service.snapshot()
    questions = load_questions(SHARED / name / "questions.jsonl")
    vectors = service.embedder.embed([question.text for question in questions])
    rows = []
    for protocol in ("no date", "as of"):
        found: list[tuple[Question, Candidates, date | None]] = []
        for question, vector in zip(questions, vectors, strict=True):
            as_of = date.fromisoformat(question.date[:10]) if protocol == "as of" and question.date else None
            found.append((question, gather(snapshot, question.text, vector, SearchFilters(until=as_of)), as_of))
        for label, weights in BLENDS.items():
            runs = {question.id: rank(candidates, weights, as_of) for question, candidates, as_of in found}
            row: dict[str, Any] = {"set": name, "protocol": protocol, "blend": label}
            for part, keep in (("all", lambda n: True), ("even", lambda n: n % 2 == 0), ("odd", lambda n: n % 2 == 1)):
                chosen = [question for number, question in enumerate(questions) if keep(number)]
                metrics = article_ranking_metrics({question.id: runs[question.id] for question in chosen}, chosen, 10)
                row[part] = {"ndcg@10": metrics["ndcg@10"], "recall@5": metrics["recall@5"]}
            rows.append(row)
            print(json.dumps(row), flush=True)
    return rows


def main() -> None:
    """Evaluate every blend on each set, print the table, optionally write JSON."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sets", nargs="+", default=["rtqa-articles", "rtqa-passages"])
    parser.add_argument("--json", type=Path, default=None)
    arguments = parser.parse_args()
    rows = [row for name in arguments.sets for row in evaluate(name)]
    print("\n| set | protocol | blend | nDCG@10 | recall@5 | nDCG@10 even / odd |\n| --- | --- | --- | --- | --- | --- |")
    for row in rows:
        print(
            f"| {row['set']} | {row['protocol']} | {row['blend']} | {row['all']['ndcg@10']:.4f} | {row['all']['recall@5']:.4f} | "
            f"{row['even']['ndcg@10']:.4f} / {row['odd']['ndcg@10']:.4f} |"
        )
    if arguments.json:
        write_results(arguments.json, {"machine": describe(), "rows": rows})


if __name__ == "__main__":
    main()
