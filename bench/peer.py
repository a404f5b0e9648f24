"""txtai side by side with ours on rtqa-passages: index build time, query latency p50/p95 and nDCG@10.

Both use the bundled all-MiniLM-L6-v2 folder. txtai runs with its defaults (dense, Faiss) and with hybrid=True
(dense + its BM25); ours runs with QA_EMBED_BACKEND=torch and with the default backend, each scored dense-only and
with our default hybrid fusion. Scores use qa.evaluate.ranking_metrics (the same ir-measures definitions as qa eval).
Latency is one search call per question (k = 30, as qa eval asks), query embedding included.

Needs the benchmark extra: pip install -e '.[bench]'.
Run from the repository root: python -m bench.peer [--limit N] [--json bench/results/peer.json]
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from collections.abc import Callable, Sequence
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

from bench import machine  # noqa: E402
from index.backends import BACKENDS, Backend  # noqa: E402
from index.embedder import bundled_model_path  # noqa: E402
from qa.config import Settings  # noqa: E402
from qa.evaluate import Question, latency_summary, load_questions, ranking_metrics  # noqa: E402
from qa.retrieve import RetrievalPolicy  # noqa: E402
from qa.service import QAService  # noqa: E402
from qa.types import Passage  # noqa: E402

PASSAGES = Path(__file__).resolve().parent.parent.parent / "shared" / "eval" / "rtqa-passages"
SEARCH_K = 30
Search = Callable[[str], list[str]]


def run_queries(search: Search, questions: Sequence[Question]) -> tuple[dict[str, float], dict[str, float]]:
    """nDCG@10 and friends, and latency, for a search function that returns article ids best first."""
    rankings: dict[str, list[Passage]] = {}
    latencies: list[float] = []
    for question in questions:
        started = time.perf_counter()
        ids = search(question.text)
        latencies.append((time.perf_counter() - started) * 1000)
        rankings[question.id] = [cast(Passage, SimpleNamespace(article_id=article_id)) for article_id in ids]
    return ranking_metrics(rankings, list(questions), 10), latency_summary(latencies)


def txtai_index(records: Sequence[dict[str, Any]], hybrid: bool) -> tuple[Any, float]:
    """A txtai Embeddings over the passages with the bundled model; returns it with the build seconds."""
    from txtai import Embeddings

    embeddings = Embeddings(path=str(bundled_model_path()), hybrid=hybrid)
    started = time.perf_counter()
    embeddings.index([(record["id"], record["text"], None) for record in records])
    return embeddings, time.perf_counter() - started


def ours_index(corpus: Path, backend: Backend, folder: Path) -> tuple[QAService, float]:
    """Our index of the corpus (chunk, embed, SQLite + FTS5, FAISS); returns the service with the build seconds."""
    service = QAService(Settings(index_dir=folder / f"ours-{backend}", embed_backend=backend))
    service.embedder.embed(["warm up"])  # model loading (and a first ONNX export) is not index build time
    started = time.perf_counter()
    report = service.index_paths([corpus])
    if report.errors:
        raise SystemExit(f"{corpus} did not load: {report.errors[0]}")
    return service, time.perf_counter() - started


def ours_search(service: QAService, keyword_weight: float) -> Search:
    """Article ids best first from our retrieval with the given BM25 weight (0 = dense only)."""
    service.retrieval = RetrievalPolicy(keyword_weight=keyword_weight)
    return lambda text: [passage.article_id for passage in service.search(text, SEARCH_K)]


def row(system: str, build_seconds: float, metrics: dict[str, float], latency: dict[str, float], load: list[float]) -> dict[str, Any]:
    """One line of the comparison."""
    return {"system": system, "build_seconds": round(build_seconds, 1), **metrics, **latency, "load_1min": load[0]}


def main() -> None:
    """Build every index, run every question through each, print a table and optionally write JSON."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=PASSAGES, help="Folder with corpus.jsonl and questions.jsonl.")
    parser.add_argument("--limit", type=int, default=None, help="Only the first N questions.")
    parser.add_argument("--backends", nargs="+", default=["torch", Settings().embed_backend], choices=BACKENDS,
                        help="Our embedding backends to index with.")
    parser.add_argument("--txtai-modes", nargs="+", default=["dense", "hybrid"], choices=["dense", "hybrid"],
                        help="txtai configurations: its defaults, and hybrid=True.")
    parser.add_argument("--max-load", type=float, default=1.0, help="Wait for the 1-minute load to drop to this.")
    parser.add_argument("--patience", type=float, default=300.0, help="Seconds to wait for a quiet machine.")
    parser.add_argument("--json", type=Path, default=None, help="Write the results here as JSON.")
    arguments = parser.parse_args()
    corpus, questions_path = arguments.data / "corpus.jsonl", arguments.data / "questions.jsonl"
    if not corpus.exists():
        raise SystemExit(f"{corpus} not found: this benchmark reads ../shared/eval next to the repository")
    try:
        txtai_version = version("txtai")
    except PackageNotFoundError as error:
        raise SystemExit("txtai is not installed: pip install -e '.[bench]'") from error
    started = time.perf_counter()
    quiet = machine.wait_for_quiet(arguments.max_load, arguments.patience)
    description = machine.describe()
    print(f"machine: {description} (quiet: {quiet}); txtai {txtai_version}", flush=True)
    records = [json.loads(line) for line in corpus.read_text(encoding="utf-8").splitlines() if line.strip()]
    questions = load_questions(questions_path)[: arguments.limit]
    rows: list[dict[str, Any]] = []
    for hybrid in (mode == "hybrid" for mode in arguments.txtai_modes):
        embeddings, seconds = txtai_index(records, hybrid)
        metrics, latency = run_queries(lambda text: [str(hit[0]) for hit in embeddings.search(text, SEARCH_K)], questions)
        rows.append(row(f"txtai {txtai_version}{' hybrid' if hybrid else ''}", seconds, metrics, latency, machine.load_average()))
        print(rows[-1], flush=True)
    with tempfile.TemporaryDirectory(prefix="peer-bench-") as scratch:
        for backend in dict.fromkeys(cast(list[Backend], arguments.backends)):
            service, seconds = ours_index(corpus, backend, Path(scratch))
            for label, weight in (("dense", 0.0), ("hybrid (default)", Settings().keyword_weight)):
                metrics, latency = run_queries(ours_search(service, weight), questions)
                rows.append(row(f"ours, {backend}, {label}", seconds, metrics, latency, machine.load_average()))
                print(rows[-1], flush=True)
    print(f"\n{arguments.data.name}: {len(records)} passages, {len(questions)} questions")
    print("| system | index build s | nDCG@10 | recall@5 | MRR@10 | query p50 ms | query p95 ms | 1-min load |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for entry in rows:
        print(f"| {entry['system']} | {entry['build_seconds']} | {entry['ndcg@10']} | {entry['recall@5']} | {entry['mrr@10']} | "
              f"{entry['latency_ms_p50']} | {entry['latency_ms_p95']} | {entry['load_1min']} |")
    elapsed = round(time.perf_counter() - started, 1)
    print(f"took {elapsed} s; load now {machine.load_average()}")
    if arguments.json:
        machine.write_results(arguments.json, {
            "machine": description, "quiet_at_start": quiet, "txtai": txtai_version, "passages": len(records),
            "questions": len(questions), "rows": rows, "seconds": elapsed, "load_average_end": machine.load_average(),
        })


if __name__ == "__main__":
    main()
