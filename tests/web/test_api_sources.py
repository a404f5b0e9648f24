"""GET /v1/sources, the source counters in /metrics, and `qa serve --watch` keeping a feed and a folder indexed."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from api.app import create_app
from api.settings import ApiSettings
from index.embedder import HashingEmbedder
from qa.config import Settings
from qa.service import QAService
from qa.sources.registry import SourceRegistry
from tests.conftest import SEEDS
from tests.feed_server import FeedServer, RecordingTransport
from tests.test_sources_feeds import serve_good_feeds
from tests.web.servers import serve_in_thread, serve_subprocess


def wait_for(condition: Callable[[], bool], timeout: float = 60.0) -> None:
    """Poll until the condition holds."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.1)


def test_sources_is_empty_and_not_watching_by_default(client: httpx.Client) -> None:
    assert client.get("/v1/sources").json() == {"watching": False, "sources": []}


def test_a_watching_server_indexes_its_feed_and_folder_and_reports_them(settings: Settings, tmp_path: Path) -> None:
    allowed = settings.model_copy(update={"fetch_allow_hosts": "127.0.0.1", "fetch_host_delay_seconds": 0.0})
    service = QAService(allowed, embedder=HashingEmbedder())
    service.ensure_index()
    folder = tmp_path / "drop"
    folder.mkdir()
    transport = RecordingTransport()
    with FeedServer() as feeds:
        serve_good_feeds(feeds)
        registry = SourceRegistry(allowed.index_dir)
        registry.add("courier", feeds.url("/rss.xml"), "feed", 600)
        registry.add("drop", str(folder), "folder", 600)
        registry.close()
        app = create_app(service, ApiSettings(rate_limit_per_minute=0), watch=True, fetch_transport=transport)
        with serve_in_thread(app) as base_url, httpx.Client(base_url=base_url, timeout=30) as client:
            wait_for(lambda: client.get("/v1/sources").json()["sources"][0]["last_fetch"] is not None)
            (folder / "ferry.txt").write_text(" date 2026-11-30 Ferry resumes\nThe island ferry to Marsk resumed sailings.\n")
            wait_for(lambda: any(
                passage["article_id"] == "ferry"
                for passage in client.post("/v1/search", json={"question": "island ferry Marsk"}).json()["passages"]
            ))
            listed = client.get("/v1/sources").json()
            assert listed["watching"] is True
            courier = next(item for item in listed["sources"] if item["name"] == "courier")
            assert (courier["kind"], courier["articles"], courier["last_error"]) == ("feed", 2, "")
            assert courier["next_fetch"] > courier["last_fetch"]
            harbour = client.post("/v1/search", json={"question": "container terminal capacity", "k": 1}).json()["passages"][0]
            assert harbour["url"] == feeds.url("/news/harbour.html") and harbour["date"] == "2026-11-30"
            metrics = client.get("/metrics").text
            assert "qa_source_added_total 3.0" in metrics and "qa_source_passes_total" in metrics
    assert set(transport.attempts) == {"127.0.0.1"}


@pytest.mark.slow
def test_qa_serve_watch_with_the_real_model_answers_from_a_new_feed_entry(tmp_path: Path) -> None:
    index_dir = tmp_path / "index"
    with FeedServer() as feeds:
        serve_good_feeds(feeds)
        registry = SourceRegistry(index_dir)
        registry.add("Valdena Courier", feeds.url("/rss.xml"), "feed", 600)
        registry.close()
        settings = {"QA_FETCH_ALLOW_HOSTS": "127.0.0.1", "QA_FETCH_HOST_DELAY_SECONDS": "0"}
        with serve_subprocess(index_dir, SEEDS, tmp_path / "serve.log", settings=settings, options=["--watch"]) as base_url:
            with httpx.Client(base_url=base_url, timeout=60) as client:
                wait_for(lambda: client.get("/v1/sources").json()["sources"][0]["articles"] == 2, timeout=120)
                answer = client.post("/v1/ask", json={"question": "When will the new container terminal in Valdena open?"}).json()
    assert not answer["abstained"], answer
    cited = answer["citations"][0]
    assert (cited["url"], cited["date"], cited["source"]) == (feeds.url("/news/harbour.html"), "2026-11-30", "Valdena Courier")
    assert "April" in answer["answer"]
    assert "sources: watched" in (tmp_path / "serve.log").read_text(encoding="utf-8")
