"""The loop that keeps sources indexed: feeds polled when due, folders synced as their files change."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import watchfiles

from qa.errors import FeedError, FetchError, QAError
from qa.service import QAService
from qa.sources.feed_pass import read_feed
from qa.sources.fetch import Fetcher
from qa.sources.folder_pass import read_folder
from qa.sources.ingest import Ingester
from qa.sources.registry import Source, SourceRegistry
from qa.sources.report import PassReport, SourceTally

logger = logging.getLogger("qa.sources")
FEED_WORKERS = 4  # feeds polled at once (each host still gets one request at a time, paced)
DEBOUNCE_MS = 200  # a folder's changes are gathered this long before they are synced
WATCH_TIMEOUT_MS = 500  # a folder's watch wakes this often without changes (to notice it was removed)
IDLE_CHECK_SECONDS = 5.0  # how often the loop looks for sources added or removed by another process


class Watcher:
    """Runs passes over an index's sources and counts what they did; one per index and process (its one writer of
    sources)."""

    def __init__(
        self,
        service: QAService,
        registry: SourceRegistry,
        fetcher: Fetcher,
        clock: Callable[[], float] = time.time,
        debounce_ms: int = DEBOUNCE_MS,
    ) -> None:
        self.service = service
        self.registry = registry
        self.fetcher = fetcher
        self.ingester = Ingester(service, registry)
        self.tally = SourceTally()
        self._clock = clock
        self._debounce_ms = debounce_ms
        self._tally_lock = threading.Lock()
        self._source_locks: dict[str, threading.Lock] = {}

    def figures(self) -> dict[str, int]:
        """The counters since start (for /metrics)."""
        with self._tally_lock:
            return dict(vars(self.tally))

    def run_once(self, names: Iterable[str] = (), on_done: Callable[[PassReport], None] | None = None) -> list[PassReport]:
        """One pass over every source (or the named ones), feeds in parallel; each report as it finishes."""
        wanted = set(names)
        sources = [source for source in self.registry.list() if not wanted or source.name in wanted]
        return self._run(sources, on_done)

    def run_due(self, on_done: Callable[[PassReport], None] | None = None) -> list[PassReport]:
        """One pass over the feeds that are due."""
        now = self._clock()
        due = [source for source in self.registry.list() if source.kind == "feed" and source.next_fetch <= now]
        return self._run(due, on_done)

    def run(self, stop: threading.Event, on_done: Callable[[PassReport], None] | None = None) -> None:
        """Until stop is set: poll feeds when due, sync folders as their files change (and once at start)."""
        folders: dict[str, threading.Thread] = {}
        while not stop.is_set():
            sources = self.registry.list()
            for source in sources:
                if source.kind == "folder" and source.name not in folders:
                    folders[source.name] = threading.Thread(
                        target=self._follow_folder, args=(source, stop, on_done), name=f"watch-{source.name}", daemon=True
                    )
                    folders[source.name].start()
            self.run_due(on_done)
            upcoming = [source.next_fetch for source in self.registry.list() if source.kind == "feed"]
            stop.wait(max(0.05, min([IDLE_CHECK_SECONDS, *(when - self._clock() for when in upcoming)])))
        for thread in folders.values():
            thread.join(timeout=5)

    def pass_over(self, source: Source) -> PassReport:
        """One pass over one source; its errors are reported, never raised."""
        report = PassReport(source.name)
        started = time.monotonic()
        with self._source_locks.setdefault(source.name, threading.Lock()):
            try:
                if source.kind == "feed":
                    pending, document = read_feed(source, self.registry, self.fetcher, report)
                    self.ingester.commit(pending, report, remember=[document] if document else [])
                else:
                    pending, deletes, gone = read_folder(source, self.registry, report)
                    self.ingester.commit(pending, report, deletes, forget=gone)
            except (FetchError, FeedError) as error:
                report.errors.insert(0, str(error))
            except QAError as error:
                report.errors.insert(0, f"{source.location}: {error}")
            except Exception as error:  # one bad source never stops the others
                logger.exception("source %s failed", source.name)
                report.errors.insert(0, f"{source.location}: unexpected {type(error).__name__}: {error}")
        report.seconds = time.monotonic() - started
        self.registry.record_fetch(
            source.name, report.errors[0] if report.errors else "", bool(report.not_modified and not report.fetched),
            self._clock() + source.every_seconds,
        )
        with self._tally_lock:
            self.tally.count(report)
        return report

    def _run(self, sources: list[Source], on_done: Callable[[PassReport], None] | None = None) -> list[PassReport]:
        """Passes over these sources, feeds in parallel, folders after."""
        reports: list[PassReport] = []
        feeds = [source for source in sources if source.kind == "feed"]
        with ThreadPoolExecutor(max_workers=FEED_WORKERS, thread_name_prefix="feed") as pool:
            for report in pool.map(self.pass_over, feeds):
                reports.append(report)
                if on_done:
                    on_done(report)
        for source in sources:
            if source.kind == "folder":
                reports.append(self.pass_over(source))
                if on_done:
                    on_done(reports[-1])
        return reports

    def _follow_folder(
        self, source: Source, stop: threading.Event, on_done: Callable[[PassReport], None] | None = None
    ) -> None:
        """Sync a folder once its watch is set up (so no change falls between the two) and after every batch of
        changes to its files, until stop is set or the source is removed."""
        done = on_done or (lambda report: None)
        synced = False
        try:
            for changes in watchfiles.watch(
                Path(source.location), stop_event=stop, debounce=self._debounce_ms, step=50,
                rust_timeout=WATCH_TIMEOUT_MS, yield_on_timeout=True,
            ):
                if not any(known.name == source.name for known in self.registry.list()):
                    return
                if changes or not synced:
                    done(self.pass_over(source))
                    synced = True
        except (FileNotFoundError, RuntimeError) as error:
            logger.warning("cannot watch %s: %s", source.location, error)
            done(self.pass_over(source))
