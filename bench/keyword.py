"""Keyword search latency on a real index: the whole question as one OR query over chunks (top 300, as retrieval
asks) and over whole articles (top 100), unfiltered and filtered to the 14 days before each question's date.

Run: python -m bench.keyword [--set rtqa-articles] [--repeats 5] [--json bench/results/keyword.json]
The set's eval index must exist (`qa eval` or `python -m bench.eval_sets` builds it under .qa/eval/).
"""

from __future__ import annotations

import argparse
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from bench.machine import describe, write_results
from index.manifest import read_manifest
from index.store import IndexSnapshot, index_exists
from qa.config import Settings
from qa.evaluate import eval_index_dir, load_questions
from qa.retrieve import RetrievalPolicy
from qa.types import SearchFilters

SHARED = Path(__file__).resolve().parent.parent.parent / "shared" / "eval"


def percentiles(samples: list[float]) -> dict[str, float]:
    """p50, p95 and p99 of millisecond samples."""
    values = np.asarray(samples)
    return {name: round(float(np.percentile(values, q)), 2) for name, q in (("p50", 50), ("p95", 95), ("p99", 99))}


def measure(snapshot: IndexSnapshot, questions: list[tuple[str, date | None]], repeats: int) -> dict[str, Any]:
    """Milliseconds per keyword search of each kind, every question asked `repeats` times."""
    policy = RetrievalPolicy()
    timings: dict[str, list[float]] = {"chunk search": [], "article search": [], "chunk search, 14-day window": []}
    for _ in range(repeats):
        for text, asked in questions:
            window = SearchFilters(since=asked - timedelta(days=14), until=asked) if asked else SearchFilters()
            started = time.perf_counter()
            terms = snapshot.keyword_terms(text)
            snapshot.keyword(terms, policy.candidates, SearchFilters())
            middle = time.perf_counter()
            snapshot.keyword_articles(terms, policy.article_candidates, SearchFilters())
            after = time.perf_counter()
            snapshot.keyword(terms, policy.candidates, window)
            timings["chunk search"].append((middle - started) * 1000)
            timings["article search"].append((after - middle) * 1000)
            timings["chunk search, 14-day window"].append((time.perf_counter() - after) * 1000)
    return {name: percentiles(samples) for name, samples in timings.items()}


def main() -> None:
    """Open the set's eval index, time the searches, print the table."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--set", default="rtqa-articles", choices=("rtqa-articles", "rtqa-passages"))
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--json", type=Path, default=None)
    arguments = parser.parse_args()
    settings = Settings()
    corpus = SHARED / arguments.set / "corpus.jsonl"
    directory = eval_index_dir(settings.index_dir.parent / "eval", corpus, settings)
    if not index_exists(directory):
        raise SystemExit(f"no eval index at {directory}: run `python -m bench.eval_sets --sets {arguments.set}` first")
    manifest = read_manifest(directory)
    snapshot = IndexSnapshot.open(directory, manifest.model, manifest.dimension)
    questions = [
        (question.text, date.fromisoformat(question.date[:10]) if question.date else None)
        for question in load_questions(SHARED / arguments.set / "questions.jsonl")
    ]
    snapshot.keyword(snapshot.keyword_terms(questions[0][0]), 10, SearchFilters())  # open the files once
    result = {"set": arguments.set, "chunks": snapshot.keyword_size, "questions": len(questions), **measure(snapshot, questions, arguments.repeats)}
    print(f"\n{arguments.set}: {result['chunks']:,} chunks, {len(questions)} questions x {arguments.repeats}")
    print("| search | p50 ms | p95 ms | p99 ms |\n| --- | --- | --- | --- |")
    for name in ("chunk search", "article search", "chunk search, 14-day window"):
        row = result[name]
        print(f"| {name} | {row['p50']} | {row['p95']} | {row['p99']} |")
    if arguments.json:
        write_results(arguments.json, {"machine": describe(), **result})


if __name__ == "__main__":
    main()
