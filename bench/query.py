"""Query latency of search and ask at growing index sizes, IVF recall against exact search, and cold starts.

Real rtqa-passages chunks (embedded with the real model) are padded with synthetic chunks whose vectors are random
unit vectors (said so in the table). Run: python bench/query.py [--sizes 10000,100000] [--queries 200] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from index.articles import make_article
from index.build import update_index
from index.chunking import ChunkingPolicy
from index.embedder import SentenceTransformerEmbedder
from index.store import IndexSnapshot
from index.vectors import FLAT
from qa.config import Settings
from qa.evaluate import load_questions
from qa.service import QAService

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared" / "eval" / "rtqa-passages"
WORK = REPO / ".qa" / "bench" / "query"


class PaddingEmbedder:
    """Random unit vectors under the real model's name, so padded indexes open with the real model."""

    def __init__(self, real: SentenceTransformerEmbedder) -> None:
        self.name, self.dimension, self.max_tokens = real.name, real.dimension, real.max_tokens
        self._rng = np.random.default_rng(7)

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        """Words stand in for tokens (padding text is short)."""
        return [len(text.split()) for text in texts]

    def embed(self, texts: Sequence[str], show_progress: bool = False) -> np.ndarray:
        """Random unit vectors."""
        vectors = self._rng.standard_normal((len(texts), self.dimension)).astype(np.float32)
        return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def padded_index(size: int, base: Path, real: SentenceTransformerEmbedder, vocabulary: list[str]) -> Path:
    """A copy of the real index padded with synthetic one-chunk articles up to size chunks (cached)."""
    target = WORK / f"size-{size}"
    if (target / "manifest.json").exists():
        return target
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(base, target)
    have = IndexSnapshot.open(target, real.name, real.dimension).size
    words = random.Random(size)
    padding = [
        make_article(f"pad-{number}", f"Padding {number}", " ".join(words.choices(vocabulary, k=40)) + ".", "padding", None)
        for number in range(max(size - have, 0))
    ]
    update_index(target, PaddingEmbedder(real), ChunkingPolicy(200, 0), padding, show_progress=True)
    return target


def percentiles(values: list[float]) -> dict[str, float]:
    """p50/p95/p99 in milliseconds."""
    return {f"p{q}": round(float(np.percentile(values, q)), 2) for q in (50, 95, 99)}


def timed_calls(service: QAService, questions: list[str], ask: bool) -> list[float]:
    """Milliseconds per search (or ask) call."""
    latencies = []
    for question in questions:
        started = time.perf_counter()
        service.ask(question) if ask else service.search(question, 10)
        latencies.append((time.perf_counter() - started) * 1000)
    return latencies


def recall_against_exact(directory: Path, real: SentenceTransformerEmbedder, questions: list[str]) -> float | None:
    """recall@10 of the live FAISS index against exact inner product over the same stored vectors."""
    from index import database

    snapshot = IndexSnapshot.open(directory, real.name, real.dimension)
    if snapshot.manifest.faiss_kind == FLAT:
        return None
    with database.connect(snapshot.manifest.database_path(directory), read_only=True) as connection:
        ids, vectors = database.chunk_vectors(connection, real.dimension)
    queries = real.embed(questions)
    found = 0
    for query in queries:
        exact = set(ids[np.argpartition(-(vectors @ query), 10)[:10]].tolist())
        found += len(exact & {rowid for rowid, _ in snapshot.dense(query, 10, None)})
    return found / (10 * len(questions))


def cold_ask(directory: Path) -> float:
    """Seconds for a fresh `qa ask` process on an existing index."""
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "qa", "ask", "what did Russia say about the GCC?", "--index-dir", str(directory), "--json"],
        check=True, capture_output=True, cwd=REPO, env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )
    return time.perf_counter() - started


def main() -> None:
    """Build (or reuse) each padded index and measure it."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--json", type=Path, default=None)
    arguments = parser.parse_args()
    real = SentenceTransformerEmbedder()
    base = WORK / "base"
    base_service = QAService(Settings(index_dir=base), embedder=real)
    base_service.index_paths([SHARED / "corpus.jsonl"], show_progress=True)
    questions = [question.text for question in load_questions(SHARED / "questions.jsonl")[: arguments.queries]]
    vocabulary = sorted({word for article in base_service.articles(limit=2000) for word in article.text.split()})
    rows = []
    for size in (int(value) for value in arguments.sizes.split(",")):
        directory = padded_index(size, base, real, vocabulary)
        service = QAService(Settings(index_dir=directory), embedder=real)
        service.search(questions[0])
        snapshot = service.snapshot()
        rows.append(
            {
                "chunks": snapshot.size,
                "real_chunks": 5009,
                "faiss": snapshot.manifest.faiss_kind,
                "search_ms": percentiles(timed_calls(service, questions, ask=False)),
                "ask_ms": percentiles(timed_calls(service, questions, ask=True)),
                "recall@10_vs_exact": recall_against_exact(directory, real, questions[:100]),
                "cold_qa_ask_s": round(cold_ask(directory), 2),
                "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
            }
        )
        print(json.dumps(rows[-1]))
    print(f"\n{'chunks':>9} {'faiss':>12} {'search p50/p95/p99 ms':>24} {'ask p50/p95/p99 ms':>22} {'recall@10':>10} {'cold ask s':>10}")
    for row in rows:
        search, ask = row["search_ms"], row["ask_ms"]
        print(
            f"{row['chunks']:>9} {row['faiss']:>12} {search['p50']:>8}/{search['p95']}/{search['p99']:<8} "
            f"{ask['p50']:>8}/{ask['p95']}/{ask['p99']:<8} {str(row['recall@10_vs_exact']):>10} {row['cold_qa_ask_s']:>10}"
        )
    if arguments.json:
        arguments.json.write_text(json.dumps(rows, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
