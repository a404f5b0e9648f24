"""The loop that keeps sources indexed: feeds polled when due, folders synced as their files change."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import watchfiles

from qa.errors import FeedError, FetchError, QAError, SourceError
from qa.service import QAService
from index.locking import exclusive
from index.speakers import load_english
from qa.sources.extract import extract_page
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
LOCK_NAME = "sources.lock"
_WARM_UP_PAGE = "<html><body><article><h1>Warm up</h1><p>" + "The model is loaded before the first article. " * 20 + "</p></article></body></html>"
Reporter = Callable[[PassReport], None]


class Watcher:
    """Runs passes over an index's sources and counts what they did; one per index at a time (a lock in the index
    folder), the only writer of what sources give."""

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

    def run_once(self, names: Iterable[str] = (), on_done: Reporter | None = None) -> list[PassReport]:
        """One pass over every source (or the named ones), feeds in parallel; each report as it finishes."""
        wanted = set(names)
        sources = self.registry.list()
        unknown = wanted - {source.name for source in sources}
        if unknown:
            raise SourceError(f"no source named {', '.join(map(repr, sorted(unknown)))}; list them with `qa sources list`")
        with self._exclusive():
            return self._run([source for source in sources if not wanted or source.name in wanted], on_done)

    def run_due(self, on_done: Reporter | None = None) -> list[PassReport]:
        """One pass over the feeds that are due."""
        now = self._clock()
        with self._exclusive():
            return self._run([source for source in self.registry.list() if source.kind == "feed" and source.next_fetch <= now], on_done)

    def warm_up(self) -> float:
        """Load what the first article would otherwise wait for (the speaker model, the page extractor); seconds."""
        started = time.monotonic()
        load_english()
        extract_page(_WARM_UP_PAGE, "http://warm.up/")
        return time.monotonic() - started

    def run(self, stop: threading.Event, on_done: Reporter | None = None) -> None:
        """Until stop is set: each feed polled when it is due (a slow one never holds up the others), each folder
        synced as its files change (and once its watch is set up; a missing folder is looked for again)."""
        folders: dict[str, threading.Thread] = {}
        polling: dict[str, Future[PassReport]] = {}
        with self._exclusive(), ThreadPoolExecutor(max_workers=FEED_WORKERS, thread_name_prefix="feed") as pool:
            self.warm_up()
            while not stop.is_set():
                sources = self.registry.list()
                self._follow_folders(sources, folders, stop, on_done)
                polling = {name: future for name, future in polling.items() if not future.done()}
                now = self._clock()
                for source in sources:
                    if source.kind == "feed" and source.next_fetch <= now and source.name not in polling:
                        polling[source.name] = pool.submit(self._reported, source, on_done)
                upcoming = [source.next_fetch - now for source in sources if source.kind == "feed" and source.name not in polling]
                stop.wait(max(0.05, min([IDLE_CHECK_SECONDS, *upcoming, *([1.0] if polling else [])])))
            pool.shutdown(wait=True, cancel_futures=True)
        for thread in folders.values():
            thread.join(timeout=5)

    def pass_over(self, source: Source) -> PassReport:
        """One pass over one source; its errors are reported, never raised."""
        report = PassReport(source.name)
        started = time.monotonic()
        with self._source_locks.setdefault(source.name, threading.Lock()):
            try:
                if source.kind == "feed":
                    pending, document = read_feed(source, self.registry, self.fetcher, report, self.ingester.indexed)
                    self.ingester.commit(pending, report, remember=[document] if document else [])
                else:
                    found = read_folder(source, self.registry, report, self.ingester.indexed)
                    self.ingester.commit(found.pending, report, found.gone, incomplete=found.incomplete)
            except (FetchError, FeedError) as error:
                report.errors.insert(0, str(error))
            except QAError as error:
                report.errors.insert(0, f"{source.location}: {error}")
            except Exception as error:  # one bad source never stops the others
                logger.exception("source %s failed", source.name)
                report.errors.insert(0, f"{source.location}: unexpected {type(error).__name__}: {error}")
        report.seconds = time.monotonic() - started
        self.registry.record_fetch(
            source.name, report.errors[0] if report.errors else "", report.not_modified, self._clock() + source.every_seconds
        )
        with self._tally_lock:
            self.tally.count(report)
        return report

    def _reported(self, source: Source, on_done: Reporter | None) -> PassReport:
        """A pass, handed to the reporter."""
        report = self.pass_over(source)
        if on_done:
            on_done(report)
        return report

    def _run(self, sources: list[Source], on_done: Reporter | None = None) -> list[PassReport]:
        """Passes over these sources, feeds in parallel, folders after; reports in the order they finish."""
        feeds = [source for source in sources if source.kind == "feed"]
        with ThreadPoolExecutor(max_workers=FEED_WORKERS, thread_name_prefix="feed") as pool:
            reports = list(pool.map(lambda source: self._reported(source, on_done), feeds))
        return reports + [self._reported(source, on_done) for source in sources if source.kind == "folder"]

    def _follow_folders(
        self, sources: list[Source], folders: dict[str, threading.Thread], stop: threading.Event, on_done: Reporter | None
    ) -> None:
        """Start watching each folder source not watched yet (again after its watch ended); a folder that does not
        exist is reported once and looked for again on the next round."""
        for source in sources:
            running = folders.get(source.name)
            if source.kind != "folder" or (running is not None and running.is_alive()):
                continue
            if not Path(source.location).is_dir():
                if running is None:
                    folders[source.name] = threading.Thread(target=lambda: None)  # reported once, not watched
                    self._reported(source, on_done)
                continue
            folders[source.name] = threading.Thread(
                target=self._follow_folder, args=(source, stop, on_done), name=f"watch-{source.name}", daemon=True
            )
            folders[source.name].start()

    def _follow_folder(self, source: Source, stop: threading.Event, on_done: Reporter | None = None) -> None:
        """Sync a folder once its watch is set up (so no change falls between the two) and after every batch of
        changes to its files, until stop is set, the source is removed or the folder goes."""
        synced = False
        try:
            for changes in watchfiles.watch(
                Path(source.location), stop_event=stop, debounce=self._debounce_ms, step=50,
                rust_timeout=WATCH_TIMEOUT_MS, yield_on_timeout=True,
            ):
                if not any(known.name == source.name for known in self.registry.list()):
                    return
                if changes or not synced:
                    self._reported(source, on_done)
                    synced = True
        except (FileNotFoundError, RuntimeError) as error:
            logger.warning("stopped watching %s: %s", source.location, error)

    @contextmanager
    def _exclusive(self) -> Iterator[None]:
        """Hold the index's sources lock: two watchers on one index would fetch everything twice and race."""
        folder = self.registry.path.parent
        with exclusive(folder, wait=False, name=LOCK_NAME) as held:
            if not held:
                raise SourceError(
                    f"another `qa watch` or `qa serve --watch` is keeping the sources of {folder} indexed; stop it, "
                    "or let it do the work"
                )
            yield
