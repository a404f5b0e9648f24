"""Incremental indexing: only what changed is embedded; vanished articles leave nothing behind."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from index.articles import make_article
from index.embedder import HashingEmbedder
from index.files import live_file_names
from index.manifest import read_manifest
from index.store import IndexSnapshot
from qa.config import Settings
from qa.errors import IndexCorruptError, IndexMismatchError, QAError
from qa.service import QAService


def _service(settings: Settings, embedder: HashingEmbedder) -> QAService:
    return QAService(settings, embedder=embedder)


def test_reindexing_an_unchanged_corpus_embeds_nothing(settings: Settings, corpus_dir: Path) -> None:
    embedder = HashingEmbedder()
    service = _service(settings, embedder)
    first = service.index_paths([corpus_dir])
    assert (first.added, first.embedded) == (1, first.chunks)
    before = embedder.embedded_texts
    second = service.index_paths([corpus_dir])
    assert (second.added, second.updated, second.removed, second.unchanged, second.embedded) == (0, 0, 0, 1, 0)
    assert embedder.embedded_texts == before


def test_add_change_delete(settings: Settings, corpus_dir: Path, write_article: Callable[..., Path]) -> None:
    embedder = HashingEmbedder()
    service = _service(settings, embedder)
    service.index_paths([corpus_dir])
    new = write_article(corpus_dir, "volcano.txt", "The volcano erupted near the village of Kelso on Tuesday.")
    added = service.index_paths([corpus_dir])
    assert (added.added, added.unchanged) == (1, 1)
    assert service.search("volcano erupted Kelso")[0].article_id == "volcano"

    write_article(corpus_dir, "volcano.txt", "The glacier collapsed near the village of Kelso on Tuesday.")
    changed = service.index_paths([corpus_dir])
    assert (changed.updated, changed.unchanged) == (1, 1)
    top = service.search("glacier collapsed")[0]
    assert top.article_id == "volcano" and "glacier" in top.text
    assert not any("volcano erupted" in passage.text for passage in service.search("volcano erupted", k=20))

    new.unlink()
    removed = service.index_paths([corpus_dir])
    assert (removed.removed, removed.unchanged) == (1, 1)
    assert all(passage.article_id != "volcano" for passage in service.search("glacier Kelso", k=20))
    snapshot = IndexSnapshot.open(settings.index_dir, embedder.name, embedder.dimension)
    assert snapshot.size == snapshot.state.chunks
    assert snapshot.article("volcano") is None


def test_changed_article_reuses_vectors_of_unchanged_chunks(settings: Settings, tmp_path: Path, write_article: Callable[..., Path]) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    body = "\n\n".join(f"Heading {i}\n\nParagraph {i} says something distinct about topic {i}." for i in range(6))
    write_article(folder, "long.txt", body)
    embedder = HashingEmbedder()
    service = _service(settings, embedder)
    first = service.index_paths([folder])
    write_article(folder, "long.txt", body + "\n\nAn extra closing paragraph.")
    second = service.index_paths([folder])
    assert second.updated == 1
    assert 0 < second.embedded < first.embedded


def test_each_write_adds_a_segment_and_only_live_files_are_kept(
    settings: Settings, corpus_dir: Path, write_article: Callable[..., Path]
) -> None:
    service = _service(settings, HashingEmbedder())
    for number in range(3):
        write_article(corpus_dir, f"n{number}.txt", f"Story {number} text.")
        report = service.index_paths([corpus_dir])
    files = {path.name for path in settings.index_dir.glob("store-*")}
    assert files - {"store-000001.sqlite-wal", "store-000001.sqlite-shm"} == live_file_names(settings.index_dir) - {
        "store-000001.sqlite-wal", "store-000001.sqlite-shm", "store-000001.sqlite-journal"
    }
    assert (report.segments, report.tombstones) == (3, 0)  # one per write; nothing deleted
    assert len([name for name in files if ".kw-" in name]) == 1 and "store-000001.sqlite" in files


def test_load_errors_keep_vanished_articles_and_are_reported(settings: Settings, corpus_dir: Path) -> None:
    service = _service(settings, HashingEmbedder())
    service.index_paths([corpus_dir])
    (corpus_dir / "broken.jsonl").write_text("{oops\n", encoding="utf-8")
    report = service.index_paths([corpus_dir / "broken.jsonl"])
    assert report.errors and "broken.jsonl:1" in report.errors[0]
    assert report.removed == 0
    assert service.snapshot().article_count == 1


def test_index_of_another_model_is_refused(settings: Settings, corpus_dir: Path) -> None:
    _service(settings, HashingEmbedder(name="model-a")).index_paths([corpus_dir])
    other = _service(settings, HashingEmbedder(name="model-b"))
    with pytest.raises(IndexMismatchError, match="rebuild"):
        other.search("anything")
    with pytest.raises(IndexMismatchError, match="model-a"):
        other.index_paths([corpus_dir])


def test_corrupt_index_is_a_clear_error(settings: Settings, corpus_dir: Path) -> None:
    service = _service(settings, HashingEmbedder())
    service.index_paths([corpus_dir])
    next(settings.index_dir.glob("store-*.seg-*.faiss")).write_bytes(b"garbage")
    with pytest.raises(IndexCorruptError, match="qa index --rebuild"):
        _service(settings, HashingEmbedder()).search("anything")
    (settings.index_dir / "manifest.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(IndexCorruptError):
        _service(settings, HashingEmbedder()).search("anything")


def test_other_format_version_is_refused(settings: Settings, corpus_dir: Path) -> None:
    service = _service(settings, HashingEmbedder())
    service.index_paths([corpus_dir])
    path = settings.index_dir / "manifest.json"
    data = json.loads(path.read_text())
    path.write_text(json.dumps({**data, "format_version": 999}))
    with pytest.raises(QAError, match="format 999"):
        _service(settings, HashingEmbedder()).search("anything")


def test_a_rebuild_replaces_an_index_of_another_model_under_a_higher_generation(settings: Settings, corpus_dir: Path) -> None:
    _service(settings, HashingEmbedder(name="model-a")).index_paths([corpus_dir])
    before = read_manifest(settings.index_dir)
    reader = _service(settings, HashingEmbedder(name="model-a")).snapshot()
    report = _service(settings, HashingEmbedder(name="model-b")).index_paths([corpus_dir], rebuild=True)
    after = read_manifest(settings.index_dir)
    assert (report.added, after.model, after.articles) == (1, "model-b", 1)
    assert after.generation > before.generation and not reader.is_current()
    files = {path.name for path in settings.index_dir.glob("store-*")}
    assert f"store-{after.generation:06d}.sqlite" in files and files <= live_file_names(settings.index_dir)
    assert not any(name.startswith(f"store-{before.generation:06d}.") for name in files)


def test_a_rebuild_recovers_a_damaged_index(settings: Settings, corpus_dir: Path) -> None:
    service = _service(settings, HashingEmbedder())
    service.index_paths([corpus_dir])
    generation = read_manifest(settings.index_dir).generation
    (settings.index_dir / "manifest.json").write_text("{not json", encoding="utf-8")
    service.index_paths([corpus_dir], rebuild=True)
    assert read_manifest(settings.index_dir).generation == generation + 1
    assert _service(settings, HashingEmbedder()).search("volcano village")


def test_service_writes_free_the_superseded_generation_in_the_background(settings: Settings, corpus_dir: Path) -> None:
    service = _service(settings, HashingEmbedder())
    service.index_paths([corpus_dir])
    service.upsert_articles([make_article("late", "Late", "A late story about grain exports.", "api", None)])
    expected = live_file_names(settings.index_dir)
    assert {path.name for path in settings.index_dir.glob("store-*")} <= expected
    assert [passage.article_id for passage in service.search("grain exports", 1)] == ["late"]
