"""Ingestion throughput: plain sentence-transformers vs our torch, onnx and onnx-int8 embedders and update_index.

Chunks the first --stories Reuters-21578 stories and the first --articles rtqa-articles with our chunker, takes an
evenly spaced sample of those articles (about --sample-chunks chunks), and times, on exactly the same chunk texts:
(a) SentenceTransformer.encode (torch fp32, default batch size), (b) SentenceTransformerEmbedder, (c) OnnxEmbedder
fp32, (d) OnnxEmbedder int8, and the whole update_index pipeline (chunk, embed, SQLite, FAISS, publish) per backend.
Medians of --runs runs, with the load average around each measurement and the share of the machine's GEMM peak.

Run from the repository root: python -m bench.ingest [--runs 3] [--sample-chunks 800] [--json bench/results/ingest.json]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

from bench import machine  # noqa: E402
from index.articles import load_paths  # noqa: E402
from index.backends import BACKENDS, make_embedder  # noqa: E402
from index.build import embedding_text, update_index  # noqa: E402
from index.chunking import ChunkingPolicy, chunk_article  # noqa: E402
from index.embedder import Embedder, bundled_model_path  # noqa: E402
from qa.types import Article  # noqa: E402

SHARED = Path(__file__).resolve().parent.parent.parent / "shared" / "eval"
REUTERS = SHARED / "reuters21578" / "corpus.jsonl"
RTQA_ARTICLES = SHARED / "rtqa-articles" / "corpus.jsonl"
POLICY = ChunkingPolicy(160, 1)


@dataclass(frozen=True)
class Workload:
    """The articles the pipeline indexes and the exact texts every encoder embeds."""

    articles: list[Article]
    texts: list[str]
    model_tokens: list[int]


@dataclass(frozen=True)
class ModelShape:
    """Sizes that give an encoder's matmul FLOPs."""

    layers: int = 6
    hidden: int = 384
    intermediate: int = 1536

    def flops(self, lengths: Sequence[int]) -> float:
        """Forward FLOPs for texts of these lengths (special tokens included).

        Per token and layer: 2·(4·h² + 2·h·f) for the Q, K, V, output and feed-forward matmuls, plus 4·n·h for
        the attention scores and the weighted sum over a text of n tokens. Embeddings, softmax, GELU and layer
        norms are not counted.
        """
        per_token = 2 * (4 * self.hidden**2 + 2 * self.hidden * self.intermediate) * self.layers
        return float(sum(n * per_token + self.layers * 4 * n * n * self.hidden for n in lengths))


def first_lines(source: Path, count: int, target: Path) -> Path:
    """Copy the first count JSONL records of source to a temporary file (outside the project)."""
    with source.open(encoding="utf-8") as reader, target.open("w", encoding="utf-8") as writer:
        for number, line in enumerate(reader):
            if number >= count:
                break
            writer.write(line)
    return target


def chunk_texts(articles: Sequence[Article], embedder: Embedder) -> list[str]:
    """The texts update_index embeds for these articles: chunk, prefix title and heading, fall back when too long."""
    texts: list[str] = []
    for article in articles:
        chunks = chunk_article(article, embedder.count_tokens, POLICY)
        candidates = [embedding_text(article.title, chunk.heading, chunk.text) for chunk in chunks]
        sizes = embedder.count_tokens(candidates)
        texts.extend(text if size <= embedder.max_tokens else chunk.text
                     for chunk, text, size in zip(chunks, candidates, sizes, strict=True))
    return texts


def workload(stories: int, rtqa: int, sample_chunks: int, embedder: Embedder, folder: Path) -> tuple[Workload, dict[str, Any]]:
    """Load and chunk the slices, then keep every k-th article so that about sample_chunks chunks remain."""
    started = time.perf_counter()
    paths = [first_lines(REUTERS, stories, folder / "reuters.jsonl"), first_lines(RTQA_ARTICLES, rtqa, folder / "rtqa.jsonl")]
    articles = load_paths(paths).articles
    texts_per_article = [chunk_texts([article], embedder) for article in articles]
    chunking_seconds = time.perf_counter() - started
    total = sum(len(texts) for texts in texts_per_article)
    stride = max(1, round(total / sample_chunks)) if sample_chunks else 1
    chosen = list(range(0, len(articles), stride))
    texts = [text for index in chosen for text in texts_per_article[index]]
    limit = embedder.max_tokens + 2
    lengths = [min(size + 2, limit) for size in embedder.count_tokens(texts)]
    all_tokens = sum(min(size + 2, limit) for texts in texts_per_article for size in embedder.count_tokens(texts))
    corpus = {
        "articles": len(articles), "chunks": total, "model_tokens": all_tokens,
        "load_and_chunk_seconds": round(chunking_seconds, 2),
        "sample_articles": len(chosen), "sample_chunks": len(texts), "sample_model_tokens": sum(lengths), "stride": stride,
    }
    return Workload([articles[index] for index in chosen], texts, lengths), corpus


def pipeline(folder: Path, embedder: Embedder, articles: Sequence[Article]) -> Callable[[], object]:
    """A call that indexes the articles into a new, empty index folder each time (everything is embedded)."""
    runs = iter(range(10**9))
    return lambda: update_index(folder / f"index-{embedder.name}-{embedder.precision}-{id(embedder)}-{next(runs)}",
                                embedder, POLICY, articles)


def timed_run(label: str, run: int, function: Callable[[], object], log: list[dict[str, Any]]) -> None:
    """Time one call, logging it with the load average before and after."""
    before = machine.load_average()
    started, cpu_started = time.perf_counter(), time.process_time()
    function()
    seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu_started
    log.append({"config": label, "run": run, "seconds": seconds, "cpu_seconds": cpu_seconds, "load_before": before,
                "load_after": machine.load_average()})
    print(f"  {label:<34} run {run + 1}: {seconds:7.2f} s  ({cpu_seconds:6.2f} CPU s)  load {before[0]:.2f}", flush=True)


def summarise(log: list[dict[str, Any]], work: Workload, shape: ModelShape, fp32_peak: float, int8_peak: float) -> list[dict[str, Any]]:
    """Median seconds per configuration, throughput, ratio to (a) and share of the GEMM peaks."""
    flops = shape.flops(work.model_tokens)
    rows: list[dict[str, Any]] = []
    for label in dict.fromkeys(entry["config"] for entry in log):
        entries = [entry for entry in log if entry["config"] == label]
        seconds = statistics.median(entry["seconds"] for entry in entries)
        cpu_seconds = statistics.median(entry["cpu_seconds"] for entry in entries)
        rows.append({
            "config": label, "runs": len(entries), "median_seconds": round(seconds, 3),
            "median_cpu_seconds": round(cpu_seconds, 3), "chunks_per_cpu_s": round(len(work.texts) / cpu_seconds, 1),
            "chunks_per_s": round(len(work.texts) / seconds, 1), "tokens_per_s": round(sum(work.model_tokens) / seconds),
            "gflops": round(flops / seconds / 1e9, 1), "share_fp32_gemm": round(flops / seconds / fp32_peak, 3),
            "share_int8_gemm": round(flops / seconds / int8_peak, 3),
            "load_1min_max": max(max(entry["load_before"][0], entry["load_after"][0]) for entry in entries),
        })
    baseline, cpu_baseline = rows[0]["median_seconds"], rows[0]["median_cpu_seconds"]
    for row in rows:
        row["speedup_vs_a"] = round(baseline / row["median_seconds"], 2)
        row["cpu_speedup_vs_a"] = round(cpu_baseline / row["median_cpu_seconds"], 2)
    return rows


def print_table(rows: list[dict[str, Any]]) -> None:
    """The results as a Markdown table."""
    print("\n| configuration | chunks/s | tokens/s | × (a) | CPU s | × (a) in CPU s | GFLOP/s | share of fp32 GEMM "
          "| share of int8 GEMM | max 1-min load |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for row in rows:
        print(f"| {row['config']} | {row['chunks_per_s']} | {row['tokens_per_s']} | {row['speedup_vs_a']} | "
              f"{row['median_cpu_seconds']} | {row['cpu_speedup_vs_a']} | {row['gflops']} | {row['share_fp32_gemm']:.0%} | "
              f"{row['share_int8_gemm']:.0%} | {row['load_1min_max']} |")


def main() -> None:
    """Measure and print; with --json, also write every run and the summary."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stories", type=int, default=2000, help="First Reuters-21578 stories to chunk.")
    parser.add_argument("--articles", type=int, default=300, help="First rtqa-articles to chunk.")
    parser.add_argument("--sample-chunks", type=int, default=800, help="About this many chunks are timed (0 = all).")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--max-load", type=float, default=1.0, help="Wait for the 1-minute load to drop to this.")
    parser.add_argument("--patience", type=float, default=300.0, help="Seconds to wait for a quiet machine.")
    parser.add_argument("--cache-dir", type=Path, default=None, help="ONNX cache (default ~/.cache/grounded-qa/onnx).")
    parser.add_argument("--json", type=Path, default=None, help="Write the results here as JSON.")
    arguments = parser.parse_args()
    for path in (REUTERS, RTQA_ARTICLES):
        if not path.exists():
            raise SystemExit(f"{path} not found: this benchmark reads ../shared/eval next to the repository")
    from sentence_transformers import SentenceTransformer

    started = time.perf_counter()
    quiet = machine.wait_for_quiet(arguments.max_load, arguments.patience)
    description = machine.describe()
    print(f"machine: {description}  (quiet: {quiet})", flush=True)
    fp32_peak, int8_peak = machine.float32_gemm_flops(), machine.int8_gemm_ops()
    print(f"GEMM peaks: fp32 {fp32_peak / 1e9:.1f} GFLOP/s, int8 {int8_peak / 1e9:.1f} GOP/s", flush=True)
    embedders = {backend: make_embedder("all-MiniLM-L6-v2", backend, arguments.cache_dir) for backend in BACKENDS}
    plain = SentenceTransformer(str(bundled_model_path()), device="cpu")
    with tempfile.TemporaryDirectory(prefix="ingest-bench-") as scratch:
        folder = Path(scratch)
        work, corpus = workload(arguments.stories, arguments.articles, arguments.sample_chunks, embedders["onnx"], folder)
        print(f"corpus: {corpus}", flush=True)
        configs: dict[str, Callable[[], object]] = {
            "(a) SentenceTransformer.encode": lambda: plain.encode(work.texts),
            "(b) torch embedder": lambda: embedders["torch"].embed(work.texts),
            "(c) onnx fp32": lambda: embedders["onnx"].embed(work.texts),
            "(d) onnx int8": lambda: embedders["onnx-int8"].embed(work.texts),
        }
        for backend in BACKENDS:
            configs[f"update_index, {backend}"] = pipeline(folder, embedders[backend], work.articles)
        plain.encode(work.texts[:64])  # warm-up: first calls allocate buffers and pick kernels
        for embedder in embedders.values():
            embedder.embed(work.texts[:64])
        log: list[dict[str, Any]] = []
        for run in range(arguments.runs):
            for label, function in configs.items():
                timed_run(label, run, function, log)
    rows = summarise(log, work, ModelShape(), fp32_peak, int8_peak)
    print_table(rows)
    elapsed = round(time.perf_counter() - started, 1)
    per_token = ModelShape().flops([1]) - 4 * ModelShape().layers * ModelShape().hidden
    print(f"\nFLOPs per token (matmuls): {per_token / 1e6:.2f} M, plus attention 4·n·h per layer; "
          f"fp32 GEMM {fp32_peak / 1e9:.1f} GFLOP/s, int8 GEMM {int8_peak / 1e9:.1f} GOP/s; took {elapsed} s; "
          f"load now {machine.load_average()}")
    if arguments.json:
        machine.write_results(arguments.json, {
            "machine": description, "quiet_at_start": quiet, "corpus": corpus, "gemm_fp32_flops": fp32_peak,
            "gemm_int8_ops": int8_peak, "rows": rows, "runs": log, "seconds": elapsed,
            "load_average_end": machine.load_average(),
        })


if __name__ == "__main__":
    main()
