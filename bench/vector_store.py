"""The vector stores side by side at one index size: FAISS segments (the default) against Milvus (QA_VECTOR_STORE=
milvus; a Milvus Lite file unless --milvus-uri names a server), on the padded rtqa-passages index bench/query.py builds
(real chunks padded with noisy copies of their vectors).

Each store is measured in a fresh process, so memory is comparable: the time to open the index (and, for Milvus, to
copy it into a new collection, once), the dense top-10 search alone (unfiltered, a 31-day window, one source),
`search` and `ask` end to end, resident memory, bytes on disk, and how many of FAISS's top-10 chunks Milvus returns.
Run: python -m bench.vector_store [--size 100000] [--queries 200] [--milvus-uri URI] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Any

from bench.machine import describe
from bench.query import WORK, padded_index, padding_base, percentiles, resident_mb, segments_bytes, timed_ms
from index.manifest import read_manifest
from index.milvus_vectors import MilvusVectors
from qa.config import Settings
from qa.service import QAService
from qa.types import SearchFilters

REPO = Path(__file__).resolve().parent.parent
STORES = ("faiss", "milvus")


def folder_bytes(path: Path) -> int:
    """Bytes of the files under a folder (or of one file)."""
    if path.is_file():
        return path.stat().st_size
    return sum(item.stat().st_size for item in path.rglob("*") if item.is_file()) if path.exists() else 0


def filters_for(service: QAService) -> dict[str, SearchFilters]:
    """The filtered searches measured: none, the 31 days up to the newest real article, and its most common source."""
    articles = service.articles(limit=5000)
    newest = max(article.date for article in articles if article.date)
    source = Counter(article.source for article in articles if article.source != "padding").most_common(1)[0][0]
    return {
        "none": SearchFilters(),
        "31 days": SearchFilters(since=newest - timedelta(days=30), until=newest),
        "one source": SearchFilters(sources=(source,)),
    }


def measure_store(store: str, directory: Path, questions: list[str], milvus_uri: str) -> dict[str, Any]:
    """Every figure for one store, in this (fresh) process."""
    rss_start = resident_mb()
    settings = Settings(index_dir=directory, vector_store=store, milvus_uri=milvus_uri)  # type: ignore[arg-type]
    service = QAService(settings)
    service.embedder.embed(["warm up the model"])
    rss_model = resident_mb()
    copy_s = None
    if store == "milvus":
        manifest = read_manifest(directory)
        mirror = MilvusVectors(settings.vector_store_config, directory, manifest.generation, manifest.dimension)
        started = time.perf_counter()
        copied = mirror.sync(manifest.database_path(directory), show_progress=True)
        copy_s = round(time.perf_counter() - started, 1) if copied else None
        mirror.close()
    started = time.perf_counter()
    snapshot = service.snapshot()
    open_s = round(time.perf_counter() - started, 2)
    rss_open = resident_mb()
    vectors = service.embedder.embed(questions)
    dense_ms: dict[str, dict[str, float]] = {}
    top10: dict[str, list[list[int]]] = {}
    for name, filters in filters_for(service).items():
        snapshot.dense(vectors[0], 10, snapshot.allowed_ids(filters), filters)
        times, hits = [], []
        for vector in vectors:
            started = time.perf_counter()
            found = snapshot.dense(vector, 10, snapshot.allowed_ids(filters), filters)
            times.append((time.perf_counter() - started) * 1000)
            hits.append([rowid for rowid, _ in found])
        dense_ms[name], top10[name] = percentiles(times), hits
    search = [timed_ms(lambda question=question: service.search(question, 10)) for question in questions]
    ask = [timed_ms(lambda question=question: service.ask(question)) for question in questions]
    return {
        "store": store,
        "chunks": snapshot.size,
        "copy_into_collection_s": copy_s,
        "open_s": open_s,
        "dense_top10_ms": dense_ms,
        "search_ms": percentiles(search),
        "ask_ms": percentiles(ask),
        "rss_mb": {"start": rss_start, "model": rss_model, "index_open": rss_open, "after_queries": resident_mb()},
        "vectors_disk_mb": round(
            (folder_bytes(Path(settings.vector_store_config.uri_for(directory))) if store == "milvus" else segments_bytes(directory)) / 2**20, 1
        ),
        "top10": top10,
    }


def run_in_fresh_process(store: str, directory: Path, questions: list[str], milvus_uri: str) -> dict[str, Any]:
    """measure_store in a new Python process."""
    with tempfile.TemporaryDirectory() as scratch:
        asked, out = Path(scratch) / "questions.json", Path(scratch) / "out.json"
        asked.write_text(json.dumps(questions), encoding="utf-8")
        subprocess.run(
            [sys.executable, "-m", "bench.vector_store", "--measure", store, "--index", str(directory),
             "--questions", str(asked), "--milvus-uri", milvus_uri, "--out", str(out)],
            check=True, cwd=REPO,
        )
        return dict(json.loads(out.read_text(encoding="utf-8")))


def overlap(found: list[list[int]], expected: list[list[int]]) -> float:
    """The share of the expected top-10 chunks found."""
    hits = sum(len(set(mine) & set(theirs)) for mine, theirs in zip(found, expected, strict=True))
    return round(hits / max(sum(len(theirs) for theirs in expected), 1), 4)


def main() -> None:
    """Measure each store on the padded index of the given size."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--milvus-uri", default="", help="A Milvus server; default a Milvus Lite file under .qa/bench.")
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--measure", choices=STORES, help=argparse.SUPPRESS)
    parser.add_argument("--index", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--questions", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.measure:
        questions = json.loads(arguments.questions.read_text(encoding="utf-8"))
        row = measure_store(arguments.measure, arguments.index, questions, arguments.milvus_uri)
        arguments.out.write_text(json.dumps(row), encoding="utf-8")
        return
    base, base_service, questions, vocabulary = padding_base(arguments.queries)
    directory = padded_index(arguments.size, base, base_service.embedder, vocabulary)
    milvus_uri = arguments.milvus_uri or str(WORK.parent / "vector_store" / f"milvus-{arguments.size}.db")
    if not arguments.milvus_uri:
        Path(milvus_uri).parent.mkdir(parents=True, exist_ok=True)
    rows = [run_in_fresh_process(store, directory, questions, milvus_uri) for store in STORES]
    expected = rows[0]["top10"]
    for row in rows:
        row["top10_overlap_with_faiss"] = {name: overlap(hits, expected[name]) for name, hits in row.pop("top10").items()}
        print(json.dumps(row), flush=True)
    machine = describe()
    print_table(rows, machine, milvus_uri)
    if arguments.json:
        arguments.json.write_text(json.dumps({"machine": machine, "milvus_uri": milvus_uri, "rows": rows}, indent=2), encoding="utf-8")


def print_table(rows: list[dict[str, Any]], machine: dict[str, Any], milvus_uri: str) -> None:
    """The figures as a Markdown table."""
    print(f"\nmachine: {machine}\nMilvus: {milvus_uri}\n")
    print("| store | chunks | copy in s | open s | dense top-10 p50 / p95 ms: none · 31 days · one source | search p50 / p95 ms | ask p50 / p95 ms | RSS MB (model → open → after) | vectors on disk MB | top-10 = FAISS's |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for row in rows:
        dense = " · ".join(f"{value['p50']} / {value['p95']}" for value in row["dense_top10_ms"].values())
        rss = row["rss_mb"]
        print(
            f"| {row['store']} | {row['chunks']:,} | {row['copy_into_collection_s'] or '–'} | {row['open_s']} | {dense} | "
            f"{row['search_ms']['p50']} / {row['search_ms']['p95']} | {row['ask_ms']['p50']} / {row['ask_ms']['p95']} | "
            f"{rss['model']} → {rss['index_open']} → {rss['after_queries']} | {row['vectors_disk_mb']} | "
            f"{min(row['top10_overlap_with_faiss'].values()):.4f} |"
        )


if __name__ == "__main__":
    main()
