"""Watched folders: files added, changed, broken and deleted, once and through watchfiles as they happen."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from index.store import index_exists
from qa.service import QAService
from qa.sources.fetch import Fetcher, FetchPolicy
from qa.sources.guard import AddressGuard
from qa.sources.registry import SourceRegistry
from qa.sources.watcher import Watcher


@pytest.fixture
def watcher(fake_service: QAService) -> Iterator[Watcher]:
    """A watcher over the fake service's index (folders need no fetching)."""
    fetcher = Fetcher(FetchPolicy(), AddressGuard())
    yield Watcher(fake_service, SourceRegistry(fake_service.index_dir), fetcher, debounce_ms=50)
    fetcher.close()


def story(folder: Path, name: str, title: str, body: str, day: str = "2026-11-30") -> Path:
    """Write an article in the seed format."""
    path = folder / name
    path.write_text(f" date {day} {title}\n{body}\n", encoding="utf-8")
    return path


def indexed(service: QAService) -> set[str]:
    """The ids of the indexed articles (none before the first write)."""
    return {article.id for article in service.articles()} if index_exists(service.index_dir) else set()


def wait_for(condition: Callable[[], bool], timeout: float = 30.0) -> float:
    """Seconds until the condition held (fails after timeout)."""
    started = time.monotonic()
    while not condition():
        assert time.monotonic() - started < timeout, "condition not met in time"
        time.sleep(0.05)
    return time.monotonic() - started


def test_a_folder_pass_adds_updates_and_deletes(watcher: Watcher, fake_service: QAService, tmp_path: Path) -> None:
    folder = tmp_path / "drop"
    folder.mkdir()
    story(folder, "bridge.txt", "Bridge reopens", "The old river bridge in Harlow reopened to traffic on Sunday after repairs.")
    story(folder, "library.md", "Library extends hours", "The central library of Harlow will open until ten in the evening.")
    watcher.registry.add("drop", str(folder), "folder", 600)
    first = watcher.run_once()[0]
    assert sorted(first.added) == ["bridge", "library"] and first.errors == []
    bridge = fake_service.search("river bridge reopened", k=1)[0]
    assert (bridge.article_id, bridge.source, bridge.date.isoformat()) == ("bridge", "drop/bridge.txt", "2026-11-30")  # type: ignore[union-attr]
    assert watcher.run_once()[0].fetched == 0  # unchanged files are not read into the index again
    story(folder, "bridge.txt", "Bridge reopens", "The old river bridge in Harlow reopened on Sunday; tolls return in May.")
    (folder / "library.md").unlink()
    second = watcher.run_once()[0]
    assert second.updated == ["bridge"] and second.deleted == ["library"]
    assert "tolls return in May" in fake_service.article("bridge").text
    assert [article.id for article in fake_service.articles()] == ["bridge"]


def test_a_broken_file_is_reported_and_its_article_kept(watcher: Watcher, fake_service: QAService, tmp_path: Path) -> None:
    folder = tmp_path / "drop"
    folder.mkdir()
    story(folder, "bridge.txt", "Bridge reopens", "The old river bridge in Harlow reopened to traffic on Sunday.")
    watcher.registry.add("drop", str(folder), "folder", 600)
    watcher.run_once()
    (folder / "bridge.txt").write_bytes(b" date 2026-13-45 Bad date\nText.\n")
    report = watcher.run_once()[0]
    assert report.errors and "bridge.txt" in report.errors[0]
    assert "reopened to traffic" in fake_service.article("bridge").text  # nothing lost
    assert watcher.registry.get("drop").last_error


def test_a_file_dropped_in_a_watched_folder_becomes_searchable(watcher: Watcher, fake_service: QAService, tmp_path: Path) -> None:
    folder = tmp_path / "drop"
    folder.mkdir()
    watcher.registry.add("drop", str(folder), "folder", 600)
    stop = threading.Event()
    loop = threading.Thread(target=watcher.run, args=(stop,), daemon=True)
    loop.start()
    try:
        wait_for(lambda: watcher.registry.get("drop").last_fetch is not None)  # the first sync has run
        story(folder, "ferry.txt", "Ferry service resumes", "The island ferry to Marsk resumed sailings on Friday after storms.")
        wait_for(lambda: "ferry" in indexed(fake_service))
        assert fake_service.search("island ferry sailings", k=1)[0].article_id == "ferry"
        (folder / "ferry.txt").unlink()
        wait_for(lambda: "ferry" not in indexed(fake_service))
    finally:
        stop.set()
        loop.join(timeout=10)
    assert not loop.is_alive()
