"""The segment store: writes that add small segments and tombstones, searches that drop deleted chunks, compaction
by tiers, purges and size classes, and readers that keep the state they opened while writers go on."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from datetime import date
from pathlib import Path

import numpy as np
import pytest

from index.articles import make_article
from index.build import update_index
from index.chunking import ChunkingPolicy
from index.compaction import SEGMENTS_PER_TIER, MergePlan, compact_index, plan_compaction
from index.embedder import HashingEmbedder, PassageVectors
from index.files import live_file_names
from index.manifest import read_manifest
from index.segments import Segment, StoreState
from index.span_pooling import CharSpan
from index.store import IndexSnapshot
from index.vectors import OVERFETCH_LIMIT, build_vector_index, search_segments
from qa.config import Settings
from qa.errors import IndexCorruptError
from qa.service import QAService
from qa.types import Article, SearchFilters


def _article(number: int, version: int = 0) -> Article:
    """A short article about one harbour, in some version."""
    text = f"Harbour {number} reported {version} ferry crossings. The pier {number} reopened after the storm."
    return make_article(f"harbour-{number}", f"Harbour {number}", text, "test", None)


def _state(segments: tuple[Segment, ...], chunks: int, tombstones: int = 0) -> StoreState:
    """A state with these segments and counts."""
    return StoreState(1, segments, frozenset(range(tombstones)), "kw-000001", chunks + 1, chunks, chunks)


def _open(directory: Path, embedder: HashingEmbedder) -> IndexSnapshot:
    """The live state."""
    return IndexSnapshot.open(directory, embedder.name, embedder.dimension)


def test_each_write_adds_one_small_segment_and_deletes_leave_tombstones(tmp_path: Path) -> None:
    embedder, policy = HashingEmbedder(), ChunkingPolicy()
    first = update_index(tmp_path, embedder, policy, [_article(n) for n in range(5)], compact=False)
    second = update_index(tmp_path, embedder, policy, [_article(5)], compact=False)
    third = update_index(tmp_path, embedder, policy, [_article(0, version=1)], compact=False)  # a replacement
    fourth = update_index(tmp_path, embedder, policy, deletes=["harbour-1"], compact=False)
    assert [report.segments for report in (first, second, third, fourth)] == [1, 2, 3, 3]
    assert [report.tombstoned for report in (first, second, third, fourth)] == [0, 0, 1, 1]
    assert [report.generation for report in (first, second, third, fourth)] == [1, 2, 3, 4]
    snapshot = _open(tmp_path, embedder)
    assert (snapshot.state.chunks, len(snapshot.state.tombstones), snapshot.size, snapshot.keyword_size) == (5, 2, 5, 5)
    query = embedder.embed(["Harbour 1 reported ferry crossings"])[0]
    found = {snapshot.chunks([rowid])[rowid].article_id for rowid, _ in snapshot.dense(query, 10, None)}
    assert found == {f"harbour-{n}" for n in (0, 2, 3, 4, 5)}  # never the deleted one, never the old version twice
    assert "1 reported" not in " ".join(row.text for row in snapshot.chunks([r for r, _ in snapshot.dense(query, 10, None)]).values())


def test_tombstones_are_dropped_by_overfetching_or_by_the_live_mask() -> None:
    rng = np.random.default_rng(0)
    vectors = rng.standard_normal((600, 8)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    ids = np.arange(1, 601, dtype=np.int64)
    segments = [build_vector_index(ids[:300], vectors[:300], 8, "flat"), build_vector_index(ids[300:], vectors[300:], 8, "flat")]
    query = vectors[0]
    exact = ids[np.argsort(-(vectors @ query))]
    for deleted in (frozenset(exact[:5].tolist()), frozenset(exact[: OVERFETCH_LIMIT + 50].tolist())):
        live = np.ones(602, dtype=bool)
        live[list(deleted)] = False
        hits = [rowid for rowid, _ in search_segments(segments, query, 10, None, deleted, lambda: live)]
        assert hits == [rowid for rowid in exact.tolist() if rowid not in deleted][:10]


def test_a_tier_of_small_segments_is_merged_into_one() -> None:
    small = tuple(Segment(f"seg-{n:06d}", "flat", 5) for n in range(SEGMENTS_PER_TIER))
    plan = plan_compaction(_state((Segment("seg-big", "flat", 50_000), *small), 50_050))
    assert isinstance(plan, MergePlan) and plan.segments == small and plan.kind == "flat"
    assert plan_compaction(_state((Segment("seg-big", "flat", 50_000), *small[:-1]), 50_045)) is None


def test_many_tombstones_are_purged_and_size_classes_choose_the_index_kind() -> None:
    purge = plan_compaction(_state((Segment("a", "flat", 100), Segment("b", "flat", 100)), 150, tombstones=50))
    assert purge is not None and purge.reason == "tombstones purged" and len(purge.segments) == 2
    grown = plan_compaction(_state((Segment("a", "flat", 150_000), Segment("b", "flat", 60_000)), 210_000))
    assert grown is not None and grown.kind.startswith("IVF") and len(grown.segments) == 2
    retrain = plan_compaction(_state((Segment("ivf", "IVF2048,SQ8", 210_000, 210_000), Segment("b", "flat", 5)), 900_000))
    assert retrain is not None and retrain.into is None and retrain.kind.startswith("IVF")
    into = plan_compaction(_state((Segment("ivf", "IVF2048,SQ8", 300_000, 300_000), Segment("b", "flat", 20_000)), 320_000))
    assert into is not None and into.into is not None and into.into.name == "ivf"
    shrunk = plan_compaction(_state((Segment("ivf", "IVF2048,SQ8", 300_000, 300_000),), 150_000))
    assert shrunk is not None and shrunk.kind == "flat"


def test_compaction_merges_the_writes_and_readers_keep_what_they_opened(tmp_path: Path) -> None:
    embedder, policy = HashingEmbedder(), ChunkingPolicy()
    for number in range(SEGMENTS_PER_TIER):
        update_index(tmp_path, embedder, policy, [_article(number)], compact=False)
    update_index(tmp_path, embedder, policy, deletes=["harbour-3"], compact=False)
    reader = _open(tmp_path, embedder)
    assert len(reader.state.segments) == SEGMENTS_PER_TIER
    steps = compact_index(tmp_path)
    assert [step.merged for step in steps] == [SEGMENTS_PER_TIER] and steps[0].purged == 1
    assert not reader.is_current()
    query = embedder.embed(["Harbour 7 reported ferry crossings"])[0]
    old_hits = reader.dense(query, 3, None)
    assert reader.chunks([rowid for rowid, _ in old_hits])  # the files it opened were deleted, its copies still answer
    compacted = _open(tmp_path, embedder)
    assert (len(compacted.state.segments), compacted.state.tombstones, compacted.size) == (1, frozenset(), 9)
    assert [rowid for rowid, _ in compacted.dense(query, 3, None)] == [rowid for rowid, _ in old_hits]
    assert {path.name for path in tmp_path.glob("store-*")} <= live_file_names(tmp_path)


def test_filters_apply_across_segments(tmp_path: Path) -> None:
    embedder, policy = HashingEmbedder(), ChunkingPolicy()
    update_index(tmp_path, embedder, policy, [_article(1)], compact=False)
    update_index(tmp_path, embedder, policy, [make_article("other", "Other", "Ferry news from elsewhere.", "elsewhere", None)], compact=False)
    snapshot = _open(tmp_path, embedder)
    allowed = snapshot.allowed_ids(SearchFilters(sources=("elsewhere",)))
    hits = snapshot.dense(embedder.embed(["ferry"])[0], 5, allowed)
    assert {snapshot.chunks([rowid])[rowid].article_id for rowid, _ in hits} == {"other"}


def test_a_reader_opened_before_a_write_sees_none_of_it(tmp_path: Path) -> None:
    embedder, policy = HashingEmbedder(), ChunkingPolicy()
    update_index(tmp_path, embedder, policy, [_article(1)])
    reader = _open(tmp_path, embedder)
    update_index(tmp_path, embedder, policy, [_article(1, version=2), _article(2)])
    assert reader.article("harbour-2") is None and "reported 0 ferry" in reader.article_texts(["harbour-1"])["harbour-1"]
    assert reader.state.articles == 1 and not reader.is_current()
    reader.close()
    assert "reported 2 ferry" in _open(tmp_path, embedder).article_texts(["harbour-1"])["harbour-1"]


@pytest.mark.parametrize("damage", ["segment", "keyword"])
def test_a_missing_live_file_is_a_clear_error(tmp_path: Path, damage: str) -> None:
    embedder = HashingEmbedder()
    update_index(tmp_path, embedder, ChunkingPolicy(), [_article(1)])
    name = next(name for name in live_file_names(tmp_path) if (".seg-" if damage == "segment" else ".kw-") in name)
    path = tmp_path / name
    if path.is_dir():
        for file in path.rglob("meta.json"):
            file.unlink()
    else:
        path.unlink()
    with pytest.raises(IndexCorruptError, match="qa index --rebuild"):
        _open(tmp_path, embedder)


def test_a_serving_process_lets_the_write_ahead_log_start_afresh(tmp_path: Path) -> None:
    """Readers let go of their read transaction when they move to a newer state, so the log is checkpointed fully
    and restarted instead of growing with every write (a reader's connection is freed on release, not by the cyclic
    collector)."""
    service = QAService(Settings(index_dir=tmp_path, as_of_today=False), embedder=HashingEmbedder())
    frames = []
    for number in range(30):
        service.upsert_articles([_article(number % 7, version=number)])
        service.search("harbour ferry crossings", 3)
        outside = sqlite3.connect(read_manifest(tmp_path).database_path(tmp_path))
        frames.append(outside.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()[1])
        outside.close()
    service.wait_for_compaction()
    assert max(frames) < 200, frames  # one write's pages at most; 30 writes' worth (over 1,000) before the fix


def _dated(number: int, day: int, source: str, version: int = 0) -> Article:
    """An article from a given day of March 2026 and source."""
    text = f"Harbour {number} reported {version} ferry crossings on day {day}."
    return make_article(f"harbour-{number}", f"Harbour {number}", text, source, date(2026, 3, day))


def _passing(snapshot: IndexSnapshot, filters: SearchFilters) -> set[int]:
    """The live chunk ids a filter lets through."""
    mask = snapshot.allowed_ids(filters)
    live = snapshot.catalog.live_chunks()
    return set(np.flatnonzero(live if mask is None else mask & live[: len(mask)]).tolist())


def test_a_catalog_brought_up_to_date_after_writes_answers_as_one_read_whole(tmp_path: Path) -> None:
    service = QAService(Settings(index_dir=tmp_path, as_of_today=False), embedder=HashingEmbedder())
    service.upsert_articles([_dated(number, 1 + number, "wire" if number % 2 else "local") for number in range(6)])
    service.snapshot().owners([])  # the first catalog, read whole
    service.upsert_articles([_dated(1, 20, "local", version=1), _dated(6, 9, "wire")])
    service.delete_articles(["harbour-2"])
    updated = service.snapshot()
    whole = _open(tmp_path, HashingEmbedder())
    assert updated.catalog.gone_share > 0 and whole.catalog.gone_share == 0  # the first was updated, not read again
    cases = [SearchFilters(), SearchFilters(since=date(2026, 3, 3), until=date(2026, 3, 10)), SearchFilters(sources=("wire",)),
             SearchFilters(exclude_articles=("harbour-3",)), SearchFilters(as_of=date(2026, 3, 5))]
    for filters in cases:
        assert _passing(updated, filters) == _passing(whole, filters), filters
    rowids = sorted(_passing(whole, SearchFilters()))
    assert updated.owners(rowids) == whole.owners(rowids) and len(rowids) == whole.size


class _FailingEmbedder(HashingEmbedder):
    """Fails while embedding, as a rebuild interrupted halfway would."""

    def embed_passages(self, texts: Sequence[str], sentence_spans: Sequence[Sequence[CharSpan]], show_progress: bool = False) -> PassageVectors:
        """Refuse."""
        raise RuntimeError("interrupted")


def test_a_rebuild_of_an_unreadable_store_deletes_nothing_before_it_is_published(tmp_path: Path) -> None:
    embedder = HashingEmbedder()
    update_index(tmp_path, embedder, ChunkingPolicy(), [_article(1)])
    live = live_file_names(tmp_path)
    database_path = read_manifest(tmp_path).database_path(tmp_path)
    saved = database_path.read_bytes()
    database_path.write_bytes(b"not a database" * 100)  # its state cannot be read now
    with pytest.raises(RuntimeError, match="interrupted"):
        update_index(tmp_path, _FailingEmbedder(), ChunkingPolicy(), [_article(2)], rebuild=True)
    assert {name for name in live if (tmp_path / name).exists()} >= {name for name in live if ".seg-" in name or ".kw-" in name}
    database_path.write_bytes(saved)  # repaired, the store answers as before
    assert _open(tmp_path, embedder).article("harbour-1") is not None
