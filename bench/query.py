"""Query latency of search and ask at growing index sizes, IVF recall against exact search, writes and cold starts.

The rtqa-passages chunks (embedded with the real model) are padded with synthetic one-chunk articles up to each size.
A padding vector is a real chunk's vector plus Gaussian noise (cosine ≈ 0.7 to its source), so the padded index is
as clustered as real news and approximate search is tested on hard neighbourhoods; the table says so.
Run: python -m bench.query [--sizes 10000,100000,1000000] [--queries 200] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import httpx
import numpy as np

from bench.machine import describe
from index import database
from index.articles import make_article
from index.build import update_index
from index.chunking import ChunkingPolicy
from index.embedder import Embedder, ModelIdentity, PassageVectors, embed_sentences_separately
from index.manifest import read_manifest
from index.span_pooling import CharSpan, normalised
from index.compaction import compact_index
from index.files import live_file_names
from index.speakers import SentenceNote, SpeakerFinder
from index.store import IndexSnapshot
from index.vectors import FLAT
from qa.config import Settings
from qa.evaluate import load_questions
from qa.service import QAService
from qa.types import Article

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared" / "eval" / "rtqa-passages"
WORK = REPO / ".qa" / "bench" / "query"
NOISE = 1.0
PADDING_BATCH = 100_000


class PaddingEmbedder(ModelIdentity):
    """Noisy copies of real chunk vectors under the real model's name, so padded indexes open with the real model."""

    def __init__(self, real: Embedder, sources: np.ndarray, seed: int) -> None:
        super().__init__(real.name, real.precision, real.dimension, real.max_tokens)
        self._sources = sources
        self._rng = np.random.default_rng(seed)

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        """Words stand in for tokens (padding text is short)."""
        return [len(text.split()) for text in texts]

    def embed(self, texts: Sequence[str], show_progress: bool = False) -> np.ndarray:
        """A random real vector plus noise of norm NOISE, renormalised."""
        picked = self._sources[self._rng.integers(0, len(self._sources), len(texts))]
        noise = self._rng.standard_normal(picked.shape).astype(np.float32) * (NOISE / np.sqrt(self.dimension))
        return normalised(picked + noise)

    def embed_passages(
        self, texts: Sequence[str], sentence_spans: Sequence[Sequence[CharSpan]], show_progress: bool = False
    ) -> PassageVectors:
        """Padding texts and sentences, each a noisy copy."""
        return embed_sentences_separately(self, texts, sentence_spans, show_progress)


class PaddingSpeakers(SpeakerFinder):
    """No sentence notes for padding: its text is random words (spaCy over a million of them would take hours)."""

    def annotate(
        self, texts: Sequence[str], sentences: Sequence[Sequence[tuple[int, int]]], done: Callable[[int], None] | None = None
    ) -> list[list[SentenceNote]]:
        """Nothing to note."""
        if done is not None:
            done(len(texts))
        return [[] for _ in texts]


def real_vectors(directory: Path, dimension: int) -> np.ndarray:
    """Every chunk vector of an index."""
    return all_vectors(directory, dimension)[1]


def all_vectors(directory: Path, dimension: int) -> tuple[np.ndarray, np.ndarray]:
    """Every live chunk's row id and stored (exact) vector."""
    manifest = read_manifest(directory)
    connection = database.connect(manifest.database_path(directory))
    try:
        return database.chunk_vectors(connection, dimension)
    finally:
        connection.close()


def padding_articles(start: int, count: int, vocabulary: list[str], seed: int) -> list[Article]:
    """Synthetic one-chunk articles pad-<start> … : 40 words drawn from the corpus vocabulary."""
    words = random.Random(seed)
    return [
        make_article(f"pad-{number}", f"Padding {number}", " ".join(words.choices(vocabulary, k=40)) + ".", "padding", None)
        for number in range(start, start + count)
    ]


def padded_index(size: int, base: Path, real: Embedder, vocabulary: list[str], work: Path = WORK) -> Path:
    """A copy of the real index padded with synthetic one-chunk articles up to size chunks, written in batches and
    compacted (cached between runs)."""
    target = work / f"size-{size}"
    if (target / "manifest.json").exists() and read_manifest(target).segmented:
        return target
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(base, target)
    have = IndexSnapshot.open(target, real.name, real.dimension).size
    embedder = PaddingEmbedder(real, real_vectors(base, real.dimension), seed=size)
    missing = max(size - have, 0)
    for start in range(0, max(missing, 1), PADDING_BATCH):
        batch = padding_articles(start, min(PADDING_BATCH, missing - start), vocabulary, seed=size + start)
        update_index(target, embedder, ChunkingPolicy(200, 0), batch, show_progress=True, speakers=PaddingSpeakers(), compact=False)
        print(f"padding: {start + len(batch):,} of {missing:,}", flush=True)
    compact_index(target, force=True)
    return target


def segments_bytes(directory: Path) -> int:
    """Bytes of the live vector segment files."""
    return sum((directory / name).stat().st_size for name in live_file_names(directory) if name.endswith(".faiss") and (directory / name).exists())


def percentiles(values: list[float]) -> dict[str, float]:
    """p50/p95/p99 in milliseconds."""
    return {f"p{q}": round(float(np.percentile(values, q)), 2) for q in (50, 95, 99)}


def timed_ms(call: Callable[[], Any]) -> float:
    """Milliseconds one call takes."""
    started = time.perf_counter()
    call()
    return (time.perf_counter() - started) * 1000


def recall_against_exact(service: QAService, questions: list[str]) -> float | None:
    """recall@10 of the live vector segments against exact inner product over the same stored vectors (None when
    every segment is exact already)."""
    snapshot = service.snapshot()
    if all(segment.kind == FLAT for segment in snapshot.state.segments):
        return None
    ids, vectors = all_vectors(snapshot.directory, snapshot.manifest.dimension)
    queries = service.embedder.embed(questions)
    found = 0
    for query in queries:
        exact = set(ids[np.argpartition(-(vectors @ query), 10)[:10]].tolist())
        found += len(exact & {rowid for rowid, _ in snapshot.dense(query, 10, None)})
    return round(found / (10 * len(questions)), 4)


def add_one_article_ms(service: QAService, repeats: int = 3) -> dict[str, float]:
    """Median milliseconds to add one new article (a few sentences) and to delete it again, index restored."""
    added, deleted = [], []
    for number in range(repeats):
        article = make_article(
            f"bench-new-{number}", f"New report {number}",
            f"Officials met on day {number} to discuss grain exports. Talks ended without a deal. More meetings follow.",
            "bench", None,
        )
        added.append(timed_ms(lambda: service.upsert_articles([article])))
        deleted.append(timed_ms(lambda: service.delete_articles([article.id])))
    return {"add_ms": round(float(np.median(added)), 1), "delete_ms": round(float(np.median(deleted)), 1)}


def resident_mb() -> float:
    """This process's resident memory in MiB."""
    for line in Path("/proc/self/status").read_text(encoding="utf-8").splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


def cold_ask_s(directory: Path) -> float:
    """Seconds for a fresh `qa ask` process on an existing index."""
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "qa", "ask", "what did Russia say about the GCC?", "--index-dir", str(directory), "--json"],
        check=True, capture_output=True, cwd=REPO, env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )
    return round(time.perf_counter() - started, 2)


def serve_ready_s(directory: Path, patience_s: float = 120.0) -> float:
    """Seconds from starting `qa serve` on an existing index until /readyz answers 200."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    started = time.perf_counter()
    server = subprocess.Popen(
        [sys.executable, "-m", "qa", "serve", "--port", str(port), "--index-dir", str(directory)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=REPO, env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )
    try:
        while time.perf_counter() - started < patience_s:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1.0).status_code == 200:
                    return round(time.perf_counter() - started, 2)
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"qa serve was not ready within {patience_s} s")
    finally:
        server.terminate()
        server.wait(timeout=30)


def measure(directory: Path, questions: list[str]) -> dict[str, Any]:
    """Every figure for one index size."""
    cold = {"cold_qa_ask_s": cold_ask_s(directory), "serve_ready_s": serve_ready_s(directory)}  # before any write
    rss_before = resident_mb()
    service = QAService(Settings(index_dir=directory))
    service.search(questions[0])
    snapshot = service.snapshot()
    search = [timed_ms(lambda question=question: service.search(question, 10)) for question in questions]
    ask = [timed_ms(lambda question=question: service.ask(question)) for question in questions]
    embed = [timed_ms(lambda question=question: service.embedder.embed([question])) for question in questions]
    rss_after = resident_mb()
    return {
        "chunks": snapshot.size,
        "faiss": " + ".join(segment.kind for segment in snapshot.state.segments),
        "embed_question_ms": percentiles(embed),
        "search_ms": percentiles(search),
        "ask_ms": percentiles(ask),
        "recall@10_vs_exact": recall_against_exact(service, questions[:100]),
        "vectors_file_mb": round(segments_bytes(directory) / 2**20, 1),
        "rss_mb_after_queries": rss_after,
        "rss_mb_growth": round(rss_after - rss_before, 1),
        **add_one_article_ms(service),
        **cold,
    }


def padding_base(queries: int) -> tuple[Path, QAService, list[str], list[str]]:
    """The rtqa-passages index every padded index starts from (built or reused), the first questions of its set, and
    the vocabulary padding is drawn from."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    base = WORK / "base"
    base_service = QAService(Settings(index_dir=base))
    base_service.index_paths([SHARED / "corpus.jsonl"], show_progress=True)
    questions = [question.text for question in load_questions(SHARED / "questions.jsonl")[:queries]]
    vocabulary = sorted({word for article in base_service.articles(limit=2000) for word in article.text.split()})
    return base, base_service, questions, vocabulary


def main() -> None:
    """Build (or reuse) each padded index and measure it."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--build-only", action="store_true", help="Only build (and cache) the padded indexes.")
    arguments = parser.parse_args()
    base, base_service, questions, vocabulary = padding_base(arguments.queries)
    machine = describe()
    rows = []
    for size in (int(value) for value in arguments.sizes.split(",")):
        started = time.perf_counter()
        directory = padded_index(size, base, base_service.embedder, vocabulary)
        if arguments.build_only:
            print(f"{size:,} chunks: built or reused in {time.perf_counter() - started:.1f} s", flush=True)
            continue
        row = {"size": size, "real_chunks": base_service.snapshot().size, "build_s": round(time.perf_counter() - started, 1)}
        row.update(measure(directory, questions))
        rows.append(row)
        print(json.dumps(row), flush=True)
    print_table(rows, machine)
    if arguments.json:
        arguments.json.write_text(json.dumps({"machine": machine, "rows": rows}, indent=2), encoding="utf-8")


def print_table(rows: list[dict[str, Any]], machine: dict[str, Any]) -> None:
    """The figures as a Markdown table."""
    print(f"\nmachine: {machine}\n")
    print("| chunks | FAISS | embed p50 | search p50/p95/p99 ms | ask p50/p95/p99 ms | recall@10 vs exact | vectors MB | RSS MB | add / delete one ms | cold `qa ask` s | `qa serve` ready s |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for row in rows:
        search, ask = row["search_ms"], row["ask_ms"]
        print(
            f"| {row['chunks']:,} | {row['faiss']} | {row['embed_question_ms']['p50']} | "
            f"{search['p50']} / {search['p95']} / {search['p99']} | {ask['p50']} / {ask['p95']} / {ask['p99']} | "
            f"{row['recall@10_vs_exact'] or 'exact'} | {row['vectors_file_mb']} | {row['rss_mb_after_queries']} | "
            f"{row['add_ms']} / {row['delete_ms']} | {row['cold_qa_ask_s']} | {row['serve_ready_s']} |"
        )


if __name__ == "__main__":
    main()
