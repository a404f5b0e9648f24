"""`qa index` in one process against `qa index --dask local:2` on rtqa-passages: throughput, the chunks and vectors
they store, and nDCG@10 over every question.

Both index the corpus from scratch into their own folder under .qa/bench/dask (the real model through ONNX, the real
speaker pass); the chunk rows are compared exactly and the stored vectors to 1e-5.
Run: python -m bench.dask_ingest [--workers 2] [--limit N] [--json bench/results/dask_ingest.json]
"""

from __future__ import annotations

import argparse
import shutil
import sqlite3
import time
from pathlib import Path
from typing import Any

import numpy as np

from bench.machine import describe, write_results
from qa.config import Settings
from qa.evaluate import load_questions, ranking_metrics
from qa.service import QAService

REPO = Path(__file__).resolve().parent.parent
CORPUS = REPO.parent / "shared" / "eval" / "rtqa-passages"
SCRATCH = REPO / ".qa" / "bench" / "dask"


def build(folder: Path, dask: str | None) -> tuple[QAService, float, int]:
    """A fresh index of the corpus; the service, the seconds it took and the chunks it holds."""
    shutil.rmtree(folder, ignore_errors=True)
    service = QAService(Settings(index_dir=folder, as_of_today=False))
    started = time.perf_counter()
    report = service.index_paths([CORPUS / "corpus.jsonl"], show_progress=True, parallel=dask is None, dask=dask)
    return service, time.perf_counter() - started, report.chunks


def stored(folder: Path) -> tuple[list[tuple[Any, ...]], dict[str, np.ndarray]]:
    """Every chunk row (article, ordinal, offsets, text, embedding key) and every cached vector by key."""
    database = next(path for path in folder.iterdir() if path.name.startswith("store-") and path.suffix == ".sqlite")
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as connection:
        chunks = sorted(connection.execute('SELECT article_id, ordinal, heading, start, "end", text, embedding_key FROM chunks'))
        vectors = {str(key): np.frombuffer(blob, dtype=np.float32) for key, blob in connection.execute("SELECT key, vector FROM embeddings")}
    return chunks, vectors


def ndcg(service: QAService, limit: int | None) -> dict[str, float]:
    """Retrieval metrics over the questions (no dates)."""
    questions = load_questions(CORPUS / "questions.jsonl")[:limit]
    rankings = {question.id: service.search(question.text, 30) for question in questions}
    return ranking_metrics(rankings, questions, 10)


def main() -> None:
    """Build both ways, compare, print a table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--limit", type=int, default=None, help="Only the first N questions.")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    one, one_seconds, one_chunks = build(SCRATCH / "one-process", None)
    dask, dask_seconds, dask_chunks = build(SCRATCH / f"dask-local-{args.workers}", f"local:{args.workers}")
    one_rows, one_vectors = stored(SCRATCH / "one-process")
    dask_rows, dask_vectors = stored(SCRATCH / f"dask-local-{args.workers}")
    same_vectors = one_vectors.keys() == dask_vectors.keys() and all(
        np.allclose(one_vectors[key], dask_vectors[key], atol=1e-5) for key in one_vectors
    )
    results = {
        "machine": describe(),
        "one_process": {"seconds": round(one_seconds, 1), "chunks": one_chunks, "chunks_per_s": round(one_chunks / one_seconds, 1), **ndcg(one, args.limit)},
        f"dask_local_{args.workers}": {"seconds": round(dask_seconds, 1), "chunks": dask_chunks, "chunks_per_s": round(dask_chunks / dask_seconds, 1), **ndcg(dask, args.limit)},
        "same_chunk_rows": one_rows == dask_rows,
        "same_vectors": same_vectors,
    }
    print(f"{'run':<16} {'seconds':>8} {'chunks':>7} {'chunks/s':>9} {'nDCG@10':>8} {'recall@5':>9}")
    for name in ("one_process", f"dask_local_{args.workers}"):
        row = results[name]
        print(f"{name:<16} {row['seconds']:>8} {row['chunks']:>7} {row['chunks_per_s']:>9} {row['ndcg@10']:>8} {row['recall@5']:>9}")
    print(f"same chunk rows: {results['same_chunk_rows']}; same vectors (1e-5): {results['same_vectors']}")
    if args.json:
        write_results(args.json, results)


if __name__ == "__main__":
    main()
