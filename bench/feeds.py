"""How soon a new feed entry and a file dropped in a watched folder can be found and answered, on a copy of the
rtqa-passages eval index with the real model.

A loopback server (tests/feed_server.py) serves an RSS feed whose entries link to pages holding real rtqa-articles
news (not in the rtqa-passages index); each trial adds one entry and runs one watcher pass. "fetch → searchable" runs
from the end of the entry page's fetch to the end of the first search that returns the new article (extraction,
chunking, embedding, speakers, the write, the new state opened, the search). For the folder, a watcher loop runs
(watchfiles, 200 ms debounce) and each trial drops one article file; the watcher warms up first, as `qa watch` does; "drop → answerable" runs from the write of the
file to the end of the first `ask` that cites it.
Run: python -m bench.feeds [--trials 10] [--json bench/results/feeds.json]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.machine import describe, write_results
from qa.config import Settings
from qa.service import QAService
from qa.sources.fetch import Fetched, Fetcher, FetchPolicy
from qa.sources.guard import AddressGuard
from qa.sources.registry import SourceRegistry
from qa.sources.watcher import Watcher
from qa.types import Answer, SearchFilters
from tests.feed_server import FeedServer, Route, page, rss

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared" / "eval"
EVAL_INDEXES = REPO / ".qa" / "eval"
SCRATCH = REPO / ".qa" / "bench" / "feeds"


class TimedFetcher(Fetcher):
    """A fetcher that remembers when each URL's fetch ended."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.finished: dict[str, float] = {}

    def fetch(self, url: str, etag: str | None = None, last_modified: str | None = None) -> Fetched:
        """Fetch, and note the time."""
        fetched = super().fetch(url, etag, last_modified)
        self.finished[url] = time.perf_counter()
        return fetched


def fresh_index() -> Path:
    """A private copy of the rtqa-passages eval index (`qa eval` builds it)."""
    built = sorted(EVAL_INDEXES.glob("rtqa-passages-*"))
    if not built:
        raise SystemExit("no rtqa-passages eval index: run `qa eval --corpus ../shared/eval/rtqa-passages/corpus.jsonl "
                         "--questions ../shared/eval/rtqa-passages/questions.jsonl` first")
    target = SCRATCH / "index"
    shutil.rmtree(SCRATCH, ignore_errors=True)
    shutil.copytree(built[-1], target)
    return target


def news(count: int) -> list[dict[str, Any]]:
    """Real articles from rtqa-articles, medium length, with a date."""
    chosen = []
    with (SHARED / "rtqa-articles" / "corpus.jsonl").open(encoding="utf-8") as corpus:
        for line in corpus:
            record = json.loads(line)
            if record.get("date") and 1500 <= len(record["text"]) <= 4000:
                chosen.append(record)
            if len(chosen) == count:
                break
    return chosen


def summary(values: list[float]) -> dict[str, float]:
    """Median and worst, in seconds."""
    return {"median_s": round(statistics.median(values), 3), "max_s": round(max(values), 3)}


def cites(answer: Answer, article_id: str) -> bool:
    """Whether an answer cites the article."""
    return any(citation.article_id == article_id for citation in answer.citations)


def until(condition: Callable[[], bool], timeout: float = 60.0) -> None:
    """Poll until the condition holds; fail after timeout."""
    deadline = time.perf_counter() + timeout
    while not condition():
        if time.perf_counter() > deadline:
            raise SystemExit("gave up after a minute: the dropped file was not indexed (see the watcher's log)")
        time.sleep(0.02)


def feed_trials(service: QAService, records: list[dict[str, Any]]) -> dict[str, Any]:
    """Each trial: one new entry in the feed, one pass, searched until found."""
    latencies, passes, writes, found_by_title = [], [], [], 0
    with FeedServer() as server:
        fetcher = TimedFetcher(FetchPolicy(host_delay_seconds=0.0), AddressGuard(["127.0.0.1"]))
        watcher = Watcher(service, SourceRegistry(service.index_dir), fetcher)
        warm_up = watcher.warm_up()  # as `qa watch` and `qa serve --watch` do before their first pass
        watcher.registry.add("bench-feed", server.url("/feed.xml"), "feed", 600)
        items: list[tuple[str, str, str]] = []
        for number, record in enumerate(records):
            path = f"/news/{number}.html"
            paragraphs = [part for part in record["text"].split("\n") if part.strip()]
            server.routes[path] = Route(page(record["title"], paragraphs, record["date"]))
            items.insert(0, (record["title"], path, time.strftime("%a, %d %b %Y 09:00:00 GMT", time.strptime(record["date"], "%Y-%m-%d"))))
            server.routes["/feed.xml"] = Route(rss("Bench Feed", items), content_type="application/rss+xml")
            started = time.perf_counter()
            report = watcher.run_once()[0]
            assert report.added and not report.errors, report
            article_id = report.added[0]
            found = service.search(record["title"], k=10, filters=SearchFilters(sources=("bench-feed",)))
            searched = time.perf_counter()
            assert any(passage.article_id == article_id for passage in found)
            found_by_title += any(passage.article_id == article_id for passage in service.search(record["title"], k=10))
            latencies.append(searched - fetcher.finished[server.url(path)])
            passes.append(searched - started)
            writes.append(report.seconds)
        fetcher.close()
    return {
        "trials": len(records), "fetch_to_searchable": summary(latencies), "pass_and_search": summary(passes),
        "pass": summary(writes), "found_by_title_in_top10": found_by_title, "warm_up_s": round(warm_up, 3),
    }


def folder_trials(service: QAService, records: list[dict[str, Any]]) -> dict[str, Any]:
    """Each trial: one file dropped in a watched folder, asked about until an answer cites it."""
    folder = SCRATCH / "drop"
    folder.mkdir(parents=True, exist_ok=True)
    fetcher = Fetcher(FetchPolicy(), AddressGuard())
    watcher = Watcher(service, SourceRegistry(service.index_dir), fetcher)
    watcher.registry.add("bench-drop", str(folder), "folder", 600)
    stop = threading.Event()
    loop = threading.Thread(target=watcher.run, args=(stop,), daemon=True)
    loop.start()
    while watcher.registry.get("bench-drop").last_fetch is None:
        time.sleep(0.05)
    searchable, answerable = [], []
    try:
        for number, record in enumerate(records):
            article_id = f"drop-{number}"
            dropped = time.perf_counter()
            (folder / f"{article_id}.txt").write_text(f" date {record['date']} {record['title']}\n{record['text']}\n", encoding="utf-8")
            only = SearchFilters(sources=("drop/",))
            until(lambda: any(passage.article_id == article_id for passage in service.search(record["title"], k=10, filters=only)))
            searchable.append(time.perf_counter() - dropped)
            until(lambda: cites(service.ask(record["title"], filters=only), article_id))
            answerable.append(time.perf_counter() - dropped)
    finally:
        stop.set()
        loop.join(timeout=10)
        fetcher.close()
    return {"trials": len(records), "drop_to_searchable": summary(searchable), "drop_to_answerable": summary(answerable)}


def main() -> None:
    """Run the trials and print a table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=10)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    index_dir = fresh_index()
    service = QAService(Settings(index_dir=index_dir))
    service.warm_up()
    chunks = service.snapshot().size
    records = news(2 * args.trials)
    feed = feed_trials(service, records[: args.trials])
    folder = folder_trials(service, records[args.trials :])
    service.wait_for_compaction()
    results = {"machine": describe(), "index_chunks": chunks, "feed": feed, "folder": folder}
    print(f"rtqa-passages index copy: {chunks:,} chunks; {args.trials} trials each (seconds: median / worst)")
    print(f"{'step':<40} {'median':>8} {'worst':>8}")
    for name, figures in [
        ("feed entry: fetch → searchable", feed["fetch_to_searchable"]),
        ("feed entry: whole pass + search", feed["pass_and_search"]),
        ("folder: file dropped → searchable", folder["drop_to_searchable"]),
        ("folder: file dropped → answer cites it", folder["drop_to_answerable"]),
    ]:
        print(f"{name:<40} {figures['median_s']:>8.3f} {figures['max_s']:>8.3f}")
    print(f"new entries found by their title in the top 10 (no filter): {feed['found_by_title_in_top10']}/{feed['trials']}")
    print(f"warm-up before the first pass (speaker model, page extractor): {feed['warm_up_s']:.2f} s")
    if args.json:
        write_results(args.json, results)


if __name__ == "__main__":
    main()
