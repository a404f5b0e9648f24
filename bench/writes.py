"""What writes cost in the segment store, at growing index sizes: add, replace and delete one article, 1,000 new
articles, search with many small segments live, compaction, and disk against the live data.

Each size starts from a copy of bench.query's padded index (the rtqa-passages chunks padded with synthetic ones,
compacted into one segment). The articles added, replaced and deleted are real rtqa-articles news (the real model,
the real speaker pass); `qa index`'s path is measured with 1,000 more of them (their vectors remembered on disk
between runs, so the first run embeds them once) and with 1,000 synthetic one-chunk articles. Bytes are what the process
wrote to storage (/proc/self/io write_bytes) from the write until the service has opened the new state (the log pages are
copied into the database then), background compaction excluded (waited for first); `requested` is what it passed to
write calls over the same span (wchar).
Run: python -m bench.writes [--sizes 100000,1000000] [--queries 200] [--json bench/results/writes.json] [--search-only]
"""

from __future__ import annotations

import argparse
import json
import pickle
import shutil
import statistics
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from bench.machine import describe, write_results
from bench.query import (
    PaddingEmbedder, PaddingSpeakers, padded_index, padding_articles, padding_base, percentiles, real_vectors,
    recall_against_exact, segments_bytes, timed_ms,
)
from index import database
from index.articles import make_article
from index.build import IndexReport, update_index
from index.embedder import Embedder, ModelIdentity, PassageVectors
from index.span_pooling import CharSpan
from index.chunking import ChunkingPolicy
from index.compaction import compact_index
from index.files import committed_state, live_file_names
from index.io_counters import requested_write_bytes, written_bytes
from index.manifest import read_manifest
from qa.config import Settings
from qa.service import QAService
from qa.types import Article

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared" / "eval"
SCRATCH = REPO / ".qa" / "bench" / "writes"
SMALL_SEGMENTS = 20
REPEATS = 10
THOUSAND = 1_000


class MemoEmbedder(ModelIdentity):
    """The real embedder, its passage vectors kept on disk between runs: the writes are measured, not the model."""

    def __init__(self, real: Embedder, path: Path) -> None:
        super().__init__(real.name, real.precision, real.dimension, real.max_tokens)
        self._real, self._path = real, path
        self._memo: dict[tuple[str, tuple[tuple[int, int], ...]], tuple[np.ndarray, np.ndarray]] = (
            pickle.loads(path.read_bytes()) if path.exists() else {}
        )

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        """The real tokenizer's counts."""
        return self._real.count_tokens(texts)

    def embed(self, texts: Sequence[str], show_progress: bool = False) -> np.ndarray:
        """The real model's vectors."""
        return self._real.embed(texts, show_progress)

    def embed_passages(
        self, texts: Sequence[str], sentence_spans: Sequence[Sequence[CharSpan]], show_progress: bool = False
    ) -> PassageVectors:
        """Remembered vectors; the real model's for texts not seen before (then remembered on disk)."""
        keys = [(text, tuple((start, end) for start, end in spans)) for text, spans in zip(texts, sentence_spans, strict=True)]
        missing = [key for key in dict.fromkeys(keys) if key not in self._memo]
        if missing:
            found = self._real.embed_passages([text for text, _ in missing], [list(spans) for _, spans in missing], show_progress)
            self._memo.update({key: (vector, sentences) for key, vector, sentences in zip(missing, found.vectors, found.sentences, strict=True)})
            self._path.parent.mkdir(parents=True, exist_ok=True)
            self._path.write_bytes(pickle.dumps(self._memo))
        return PassageVectors(np.stack([self._memo[key][0] for key in keys]), [self._memo[key][1] for key in keys])


def real_articles(count: int, skip: int = 0) -> list[Article]:
    """rtqa-articles news articles under new ids (so they are added, not matched to anything indexed), from the
    skip-th one of 1,500 to 4,000 characters on."""
    articles: list[Article] = []
    with (SHARED / "rtqa-articles" / "corpus.jsonl").open(encoding="utf-8") as handle:
        for line in handle:
            row = json.loads(line)
            if 1_500 <= len(row["text"]) <= 4_000:
                articles.append(make_article(f"bench-{row['id']}", row["title"], row["text"], "bench", None))
            if len(articles) == count + skip:
                break
    return articles[skip:]


def folder_bytes(directory: Path) -> int:
    """Bytes of every file under a folder."""
    return sum(path.stat().st_size for path in directory.rglob("*") if path.is_file())


def live_data_bytes(directory: Path) -> int:
    """What the live content needs: the database's pages in use, the live share of each segment file, and the
    keyword commit (deleted chunks still in it count as waste only through the other two)."""
    manifest = read_manifest(directory)
    state = committed_state(directory, manifest)
    assert state is not None, "a segment store"
    connection = database.connect(manifest.database_path(directory))
    pages, free, size = (connection.execute(f"PRAGMA {name}").fetchone()[0] for name in ("page_count", "freelist_count", "page_size"))
    connection.close()
    keyword = sum(folder_bytes(directory / name) for name in live_file_names(directory) if ".kw-" in name)
    live_share = (state.vectors - len(state.tombstones)) / max(state.vectors, 1)
    return (pages - free) * size + round(segments_bytes(directory) * live_share) + keyword


def timed_write(service: QAService, write: Callable[[], Any]) -> dict[str, float]:
    """Seconds one write through the service takes (after any background compaction has finished), and the MB it
    wrote, counted until the service has opened the new state: the log pages the write added are copied into the
    database then, once the reader of the old state has let go (a checkpoint right after the commit cannot)."""
    service.wait_for_compaction()
    before, requested = written_bytes() or 0, requested_write_bytes() or 0
    seconds = timed_ms(write) / 1000
    service.snapshot()
    return {"s": seconds, "mb": ((written_bytes() or 0) - before) / 2**20, "requested_mb": ((requested_write_bytes() or 0) - requested) / 2**20}


def first_search_after_write(service: QAService, article: Article, question: str) -> dict[str, float]:
    """The first search after a write, which opens the new state (and reads its chunk catalog for the as-of
    filter), against a search on a state already open; medians of five."""
    first, warm = [], []
    for version in range(5):
        changed = make_article(article.id, article.title, f"{article.text} Revision {version}.", "bench", None)
        service.upsert_articles([changed])
        service.wait_for_compaction()
        first.append(timed_ms(lambda: service.search(question, 10)))
        warm.append(timed_ms(lambda: service.search(question, 10)))
    return {"first_ms": round(statistics.median(first), 1), "next_ms": round(statistics.median(warm), 1)}


def summary(samples: list[dict[str, float]]) -> dict[str, float]:
    """Median and worst of seconds and MB."""
    return {
        "s_median": round(statistics.median(sample["s"] for sample in samples), 3),
        "s_max": round(max(sample["s"] for sample in samples), 3),
        "mb_median": round(statistics.median(sample["mb"] for sample in samples), 2),
        "mb_max": round(max(sample["mb"] for sample in samples), 2),
        "requested_mb_median": round(statistics.median(sample["requested_mb"] for sample in samples), 2),
    }


def search_figures(service: QAService, questions: list[str]) -> dict[str, Any]:
    """search(q, 10) latency over the questions (after one warm-up pass), and recall@10 against exact search."""
    for question in questions[:20]:
        service.search(question, 10)
    latencies = [timed_ms(lambda question=question: service.search(question, 10)) for question in questions]
    return {"search_ms": percentiles(latencies), "recall@10_vs_exact": recall_against_exact(service, questions[:100])}


def search_only(size: int, base: Path, questions: list[str], vocabulary: list[str], real: Any) -> dict[str, Any]:
    """Search latency with one segment, then with SMALL_SEGMENTS more one-article segments live (--search-only, for
    more questions than the full run can afford)."""
    directory = SCRATCH / f"search-{size}"
    shutil.rmtree(directory, ignore_errors=True)
    shutil.copytree(padded_index(size, base, real, vocabulary), directory)
    service = QAService(Settings(index_dir=directory))
    row: dict[str, Any] = {"size": size, "queries": len(questions), "one_segment": search_figures(service, questions)}
    for article in real_articles(SMALL_SEGMENTS, skip=2 * REPEATS):
        update_index(directory, service.embedder, service.chunking, [article], compact=False)
    row["small_segments"] = {**search_figures(service, questions), "segments": len(service.snapshot().state.segments)}
    print(json.dumps(row), flush=True)
    return row


def measure(size: int, base: Path, questions: list[str], vocabulary: list[str], real: Any) -> dict[str, Any]:
    """Every figure for one size."""
    source = padded_index(size, base, real, vocabulary)
    directory = SCRATCH / f"size-{size}"
    shutil.rmtree(directory, ignore_errors=True)
    shutil.copytree(source, directory)
    service = QAService(Settings(index_dir=directory))
    row: dict[str, Any] = {"size": size, "chunks": service.snapshot().size}
    row["one_segment"] = {**search_figures(service, questions), "segments": len(service.snapshot().state.segments)}
    articles = real_articles(2 * REPEATS + SMALL_SEGMENTS)
    service.upsert_articles(articles[-1:])  # loads the model and spaCy outside the timings
    service.delete_articles([articles[-1].id])
    row["add_one"] = summary([timed_write(service, lambda article=article: service.upsert_articles([article])) for article in articles[:REPEATS]])
    row["first_search_after_a_write_ms"] = first_search_after_write(service, articles[0], questions[0])
    replaced = [make_article(article.id, article.title, article.text + " An update followed later that day.", "bench", None) for article in articles[:REPEATS]]
    row["replace_one"] = summary([timed_write(service, lambda article=article: service.upsert_articles([article])) for article in replaced])
    row["delete_one"] = summary([timed_write(service, lambda article=article: service.delete_articles([article.id])) for article in articles[:REPEATS]])
    service.wait_for_compaction()
    compact_index(directory, force=True)
    for article in articles[REPEATS : REPEATS + SMALL_SEGMENTS]:  # one segment each, left uncompacted
        update_index(directory, service.embedder, service.chunking, [article], compact=False)
    service.snapshot()
    row["small_segments"] = {**search_figures(service, questions), "segments": len(service.snapshot().state.segments)}
    before, started = written_bytes() or 0, time.perf_counter()
    steps = compact_index(directory)
    row["compaction"] = {"steps": len(steps), "s": round(time.perf_counter() - started, 2), "mb": round(((written_bytes() or 0) - before) / 2**20, 1)}
    memo = MemoEmbedder(service.embedder, SCRATCH / "memo.pkl")
    row["thousand_new"] = batch_cost(directory, service, lambda: update_index(directory, memo, service.chunking, real_articles(THOUSAND, skip=100)))
    row["thousand_synthetic"] = thousand_synthetic(directory, service, size, vocabulary, real)
    compact_index(directory, force=True)
    row["disk"] = {"folder_mb": round(folder_bytes(directory) / 2**20, 1), "live_data_mb": round(live_data_bytes(directory) / 2**20, 1)}
    row["disk"]["ratio"] = round(row["disk"]["folder_mb"] / row["disk"]["live_data_mb"], 3)
    print(json.dumps(row), flush=True)
    return row


def thousand_synthetic(directory: Path, service: QAService, size: int, vocabulary: list[str], real: Any) -> dict[str, float]:
    """The same for 1,000 synthetic one-chunk articles (the worst case: little data per article)."""
    articles = padding_articles(10_000_000, THOUSAND, vocabulary, seed=size)
    embedder = PaddingEmbedder(real, real_vectors(directory, real.dimension)[:5_000], seed=size)
    return batch_cost(directory, service, lambda: update_index(directory, embedder, ChunkingPolicy(200, 0), articles, speakers=PaddingSpeakers()))


def batch_cost(directory: Path, service: QAService, write: Callable[[], IndexReport]) -> dict[str, float]:
    """A write's bytes (until the service has opened the new state, so its log pages are in the database) against
    the growth of the live data, its seconds and compactions."""
    live_before, before, requested = live_data_bytes(directory), written_bytes() or 0, requested_write_bytes() or 0
    report = write()
    service.snapshot()
    written, requested = (written_bytes() or 0) - before, (requested_write_bytes() or 0) - requested
    growth = live_data_bytes(directory) - live_before
    return {"written_mb": round(written / 2**20, 2), "new_data_mb": round(growth / 2**20, 2), "ratio": round(written / max(growth, 1), 2),
            "requested_mb": round(requested / 2**20, 2), "requested_ratio": round(requested / max(growth, 1), 2),
            "s": report.seconds, "write_s": report.write_seconds, "chunks_added": report.embedded, "compactions": len(report.compactions)}


def main() -> None:
    """Measure each size and print the table."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="100000,1000000")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--search-only", action="store_true", help="Only search with one segment and with 21.")
    arguments = parser.parse_args()
    base, base_service, questions, vocabulary = padding_base(arguments.queries)
    machine = describe()
    run = search_only if arguments.search_only else measure
    rows = [run(int(size), base, questions, vocabulary, base_service.embedder) for size in arguments.sizes.split(",")]
    if not arguments.search_only:
        print_table(rows, machine)
    if arguments.json:
        write_results(arguments.json, {"machine": machine, "rows": rows})


def print_table(rows: list[dict[str, Any]], machine: dict[str, Any]) -> None:
    """The figures as Markdown tables."""
    print(f"\nmachine: {machine}\n")
    print("| chunks | add one s (median / max) | MB | replace one s | MB | delete one s | MB | 1,000 new: written / new data MB (ratio) | synthetic |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for row in rows:
        add, replace, delete, batch = row["add_one"], row["replace_one"], row["delete_one"], row["thousand_new"]
        synthetic = row["thousand_synthetic"]
        print(
            f"| {row['chunks']:,} | {add['s_median']} / {add['s_max']} | {add['mb_median']} / {add['mb_max']} | "
            f"{replace['s_median']} / {replace['s_max']} | {replace['mb_median']} / {replace['mb_max']} | "
            f"{delete['s_median']} / {delete['s_max']} | {delete['mb_median']} / {delete['mb_max']} | "
            f"{batch['written_mb']} / {batch['new_data_mb']} ({batch['ratio']}; requested {batch['requested_ratio']}) | "
            f"{synthetic['written_mb']} / {synthetic['new_data_mb']} ({synthetic['ratio']}; requested {synthetic['requested_ratio']}) |"
        )
    print("\n| chunks | segments | search p50 / p95 / p99 ms | recall@10 vs exact | compaction s / MB | disk MB / live data MB (ratio) |")
    print("| --- | --- | --- | --- | --- | --- |")
    for row in rows:
        for state in ("one_segment", "small_segments"):
            figures = row[state]
            search = figures["search_ms"]
            print(
                f"| {row['chunks']:,} | {figures['segments']} | {search['p50']} / {search['p95']} / {search['p99']} | "
                f"{figures['recall@10_vs_exact'] or 'exact'} | {row['compaction']['s']} / {row['compaction']['mb']} | "
                f"{row['disk']['folder_mb']} / {row['disk']['live_data_mb']} ({row['disk']['ratio']}) |"
            )


if __name__ == "__main__":
    main()
