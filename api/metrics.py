"""Prometheus metrics of one app: requests and latencies by route template and status, and the index size."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.answer_slots import AnswerSlots

UNMATCHED = "unmatched"
INDEX_GAUGES = {
    "articles": "Articles in the live index",
    "chunks": "Chunks in the live index",
    "segments": "Vector segments live in the index",
    "tombstones": "Deleted chunks a live segment still holds until compaction",
}
WRITE_COUNTERS = {
    "writes": "Writes (indexing runs, article adds and deletes) this server committed",
    "written_bytes": "Bytes this server's writes wrote to storage (/proc/self/io)",
    "compactions": "Segment merges this server committed",
    "compaction_written_bytes": "Bytes this server's background compactions wrote to storage",
}
SOURCE_COUNTERS = {
    "passes": "Passes over followed feeds and folders",
    "fetched": "Feeds, pages and files fetched or read with new content",
    "not_modified": "Feed and page requests answered 304 Not Modified",
    "errors": "Feeds, pages and files that failed (fetch, parse or load errors)",
    "added": "Articles added from sources",
    "updated": "Articles re-indexed because their page or file changed",
    "merged": "Wire copies merged into the article they republish (one more outlet listed)",
    "deleted": "Articles deleted because their file was removed",
}
QUERY_COUNTERS = {
    "cache_hits": "Question vectors served from the cache (QA_QUERY_CACHE_SIZE)",
    "cache_misses": "Question vectors the model had to compute",
    "model_calls": "Model calls that embedded questions (several questions share one under load)",
    "embedded": "Questions embedded by those calls",
}


class Metrics:
    """A private registry (never the global default one), so every app counts only its own requests."""

    def __init__(
        self,
        index_figures: Callable[[], dict[str, int]],
        slots: AnswerSlots,
        source_figures: Callable[[], dict[str, int]] | None = None,
        query_figures: Callable[[], dict[str, int]] | None = None,
    ) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "qa_http_requests", "HTTP requests by method, route template and status.",
            ["method", "route", "status"], registry=self.registry,
        )
        self.latency = Histogram(
            "qa_http_request_duration_seconds", "Time to answer an HTTP request, by method and route template.",
            ["method", "route"], registry=self.registry,
        )
        for name, description in INDEX_GAUGES.items():
            gauge = Gauge(f"qa_index_{name}", f"{description} (0 until ready).", registry=self.registry)
            gauge.set_function(lambda name=name: index_figures().get(name, 0))
        self.registry.register(_Counters("qa_index_", WRITE_COUNTERS, index_figures))
        if source_figures is not None:
            self.registry.register(_Counters("qa_source_", SOURCE_COUNTERS, source_figures))
        if query_figures is not None:
            self.registry.register(_Counters("qa_query_", QUERY_COUNTERS, query_figures))
        busy = Gauge("qa_answers_in_progress", "Questions being answered now (at most QA_CONCURRENT_ANSWERS).",
                     registry=self.registry)
        waiting = Gauge("qa_answers_waiting", "Questions waiting for an answer slot now.", registry=self.registry)
        busy.set_function(slots.busy)
        waiting.set_function(slots.waiting)

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        """Count one finished request."""
        self.requests.labels(method, route, str(status)).inc()
        self.latency.labels(method, route).observe(seconds)

    def render(self) -> tuple[bytes, str]:
        """The text exposition format and its content type."""
        return generate_latest(self.registry), CONTENT_TYPE_LATEST


class _Counters(Collector):
    """Counters read from a tally at each scrape (the service's writes, the watcher's passes)."""

    def __init__(self, prefix: str, described: dict[str, str], figures: Callable[[], dict[str, int]]) -> None:
        self._prefix, self._described, self._figures = prefix, described, figures

    def collect(self) -> Iterator[CounterMetricFamily]:
        """One counter per tally."""
        figures = self._figures()
        for name, description in self._described.items():
            yield CounterMetricFamily(f"{self._prefix}{name}", description + ".", value=figures.get(name, 0))


class MetricsMiddleware:
    """Time every HTTP request and label it with the route template it matched (not the raw path)."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_and_note_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_note_status)
        finally:
            route = getattr(scope.get("route"), "path", None) or UNMATCHED
            self.metrics.observe(scope["method"], route, status, time.perf_counter() - started)
