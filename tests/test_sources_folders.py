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


WIRE_TEXT = (
    "Finance ministers of the Northern Trade Bloc agreed on Thursday to cut tariffs on farm machinery by half from "
    "March, ending a dispute that had held up the bloc's budget for months. The agreement, reached after talks that "
    "ran through the night in Oskarsholm, also sets up a fund of two billion crowns to help farmers in the poorest "
    "member states buy new equipment. Trade commissioner Petra Lund said the first payments would come before the "
    "summer harvest."
)


def test_wire_copies_in_files_merge_and_leave_cleanly(watcher: Watcher, fake_service: QAService, tmp_path: Path) -> None:
    folder = tmp_path / "drop"
    folder.mkdir()
    story(folder, "a.txt", "Bloc halves tariffs", WIRE_TEXT)
    watcher.registry.add("drop", str(folder), "folder", 600)
    watcher.run_once()
    story(folder, "b.txt", "Bloc halves farm tariffs", "(North Wire) " + WIRE_TEXT + " Reporting by Jon Berg.")
    merged = watcher.run_once()[0]
    assert merged.merged and [outlet.source for outlet in fake_service.article("a").outlets] == ["drop/b.txt"]
    (folder / "a.txt").unlink()
    watcher.run_once()
    assert indexed(fake_service) == {"a"}  # b.txt still gives the story
    story(folder, "b.txt", "Bloc halves farm tariffs", "(North Wire) " + WIRE_TEXT + " Reporting by Jon Berg in Oskarsholm.")
    edited = watcher.run_once()[0]
    assert edited.deleted == [] and "a" in indexed(fake_service)  # editing the copy never deletes the story
    (folder / "b.txt").unlink()
    watcher.run_once()
    assert indexed(fake_service) == set()


def test_a_deleted_wire_copy_is_no_longer_listed_as_an_outlet(watcher: Watcher, fake_service: QAService, tmp_path: Path) -> None:
    folder = tmp_path / "drop"
    folder.mkdir()
    story(folder, "a.txt", "Bloc halves tariffs", WIRE_TEXT)
    story(folder, "b.txt", "Bloc halves farm tariffs", WIRE_TEXT + " Copyright 2026 The Globe.")
    watcher.registry.add("drop", str(folder), "folder", 600)
    watcher.run_once()
    assert len(indexed(fake_service)) == 1
    (holder,) = indexed(fake_service)
    assert len(fake_service.article(holder).outlets) == 1
    copy = next(path for path in folder.iterdir() if path.stem != holder)
    copy.unlink()
    watcher.run_once()
    assert fake_service.article(holder).outlets == ()


def test_a_renamed_file_is_indexed_under_its_new_name(watcher: Watcher, fake_service: QAService, tmp_path: Path) -> None:
    folder = tmp_path / "drop"
    folder.mkdir()
    story(folder, "bridge.txt", "Bridge reopens", "The old river bridge in Harlow reopened to traffic on Sunday after two years of repairs.")
    watcher.registry.add("drop", str(folder), "folder", 600)
    watcher.run_once()
    (folder / "bridge.txt").rename(folder / "bridge-2026.txt")
    report = watcher.run_once()[0]
    assert report.merged == [] and report.deleted == ["bridge"]
    article = fake_service.article("bridge-2026")
    assert (article.source, article.outlets, indexed(fake_service)) == ("drop/bridge-2026.txt", (), {"bridge-2026"})


def test_articles_pruned_by_qa_index_come_back_on_the_next_pass(watcher: Watcher, fake_service: QAService, tmp_path: Path) -> None:
    folder = tmp_path / "drop"
    folder.mkdir()
    story(folder, "bridge.txt", "Bridge reopens", "The old river bridge in Harlow reopened to traffic on Sunday.")
    watcher.registry.add("drop", str(folder), "folder", 600)
    watcher.run_once()
    other = tmp_path / "other"
    other.mkdir()
    story(other, "mill.txt", "Mill closes", "The paper mill at Orrby will close in June, its owners said.")
    fake_service.index_paths([other])  # prunes what is not under `other`
    assert indexed(fake_service) == {"mill"}
    assert watcher.run_once()[0].added == ["bridge"]
    assert indexed(fake_service) == {"mill", "bridge"}


def test_a_jsonl_file_with_a_broken_line_keeps_that_lines_article(watcher: Watcher, fake_service: QAService, tmp_path: Path) -> None:
    folder = tmp_path / "drop"
    folder.mkdir()
    lines = [
        '{"id": "ferry", "title": "Ferry resumes", "text": "The island ferry to Marsk resumed sailings on Friday.", "date": "2026-11-27"}',
        '{"id": "dam", "title": "Dam opens", "text": "The new dam on the Vessel river opened on Saturday.", "date": "2026-11-28"}',
    ]
    (folder / "wire.jsonl").write_text("\n".join(lines) + "\n")
    watcher.registry.add("drop", str(folder), "folder", 600)
    watcher.run_once()
    assert indexed(fake_service) == {"ferry", "dam"}
    (folder / "wire.jsonl").write_text(lines[0].replace("Friday", "Saturday") + "\n" + lines[1][:40] + "\n")
    report = watcher.run_once()[0]
    assert report.errors and report.updated == ["ferry"] and report.deleted == []
    assert indexed(fake_service) == {"ferry", "dam"}
    (folder / "wire.jsonl").write_text(lines[0] + "\n")  # the line removed on purpose: its article goes
    assert watcher.run_once()[0].deleted == ["dam"]


def test_a_pass_cut_short_after_its_write_is_completed_by_the_next(
    watcher: Watcher, fake_service: QAService, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "drop"
    folder.mkdir()
    story(folder, "a.txt", "Bloc halves tariffs", WIRE_TEXT)
    watcher.registry.add("drop", str(folder), "folder", 600)

    def crash(*_: object) -> None:
        raise OSError("disk gone")  # as if the process died between the index write and the registry's

    with monkeypatch.context() as patched:
        patched.setattr(watcher.registry, "save_signature", crash)
        assert "disk gone" in watcher.run_once()[0].errors[0]
    assert indexed(fake_service) == {"a"} and watcher.registry.documents("drop") == []
    assert watcher.run_once()[0].errors == []  # the file is read again: its fingerprint and document are stored now
    story(folder, "b.txt", "Bloc halves farm tariffs", WIRE_TEXT + " Copyright 2026 The Globe.")
    assert watcher.run_once()[0].merged  # so a later copy still merges into it
    assert indexed(fake_service) == {"a"}


def test_a_folder_created_after_the_watch_started_is_watched(watcher: Watcher, fake_service: QAService, tmp_path: Path) -> None:
    folder = tmp_path / "later"
    watcher.registry.add("later", str(folder), "folder", 600)
    stop = threading.Event()
    loop = threading.Thread(target=watcher.run, args=(stop,), daemon=True)
    loop.start()
    try:
        wait_for(lambda: "missing" in watcher.registry.get("later").last_error)
        folder.mkdir()
        story(folder, "ferry.txt", "Ferry service resumes", "The island ferry to Marsk resumed sailings on Friday after storms.")
        wait_for(lambda: "ferry" in indexed(fake_service))
    finally:
        stop.set()
        loop.join(timeout=10)


def test_short_look_alike_items_are_never_merged(watcher: Watcher, fake_service: QAService, tmp_path: Path) -> None:
    folder = tmp_path / "drop"
    folder.mkdir()
    line = "Qtly div {cents} cts vs {cents} cts prior. Pay April 30. Record April 15. Reuter"
    story(folder, "acme.txt", "Acme Corp sets quarterly dividend", line.format(cents=12))
    story(folder, "bolt.txt", "Bolt Industries sets quarterly dividend", line.format(cents=12))
    watcher.registry.add("drop", str(folder), "folder", 600)
    report = watcher.run_once()[0]
    assert sorted(report.added) == ["acme", "bolt"] and report.merged == []  # too short to tell apart: kept apart
