"""Compaction of a segment store: small segments merged by tiers, tombstones purged, and the kind of vector index
chosen again when the live chunks cross a size class; each step is one new segment file made live by one commit."""

from __future__ import annotations

import math
import sqlite3
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import faiss
import numpy as np

from index import database, segments
from index.locking import exclusive
from index.manifest import MANIFEST_NAME, read_manifest
from index.segments import Segment, StoreState
from index.store_writer import StoreWriter
from index.vectors import FLAT, build_vector_index, choose_kind, flat_contents, load_vector_index, save_vector_index, stored_ids, update_vector_index

SEGMENTS_PER_TIER = 10  # a tier holding this many segments is merged into one
SMALLEST_TIER = 1_000  # segments below this many vectors form the first tier; each next tier is TIER_FACTOR larger
TIER_FACTOR = 10
PURGE_SHARE = 0.2  # tombstones above this share of the stored vectors: everything is rewritten without them
INTO_APPROXIMATE_SHARE = 0.05  # exact segments past this share of the IVF segment are added into it
RECLAIM_SHARE = 0.2  # free database pages above this share of the file are given back
RETRAIN_GROWTH = 4  # an IVF segment is retrained once the live chunks exceed this many times its training set


@dataclass(frozen=True)
class MergePlan:
    """Segments to merge into one of a kind (into an existing IVF segment when `into` names it), and why."""

    segments: tuple[Segment, ...]
    kind: str
    reason: str
    into: Segment | None = None


@dataclass(frozen=True)
class CompactionStep:
    """One committed merge."""

    reason: str
    merged: int
    kind: str
    vectors: int
    purged: int
    seconds: float


def plan_compaction(state: StoreState, force: bool = False) -> MergePlan | None:
    """The next merge the state calls for, or None; with force, everything into one segment without tombstones
    (unless it is that already)."""
    if not state.segments:
        return None
    wanted = choose_kind(state.chunks)
    everything = state.segments
    approximate = [segment for segment in everything if segment.kind != FLAT]
    exact = tuple(segment for segment in everything if segment.kind == FLAT)
    if wanted == FLAT and approximate:
        return MergePlan(everything, FLAT, "exact search again: the live chunks fell below the approximate index's size class")
    if wanted != FLAT and (not approximate or len(approximate) > 1 or state.chunks > RETRAIN_GROWTH * max(approximate[0].trained, 1)):
        return MergePlan(everything, wanted, "size class crossed: one approximate index trained on every live chunk")
    if len(state.tombstones) > PURGE_SHARE * max(state.vectors, 1):
        return _purge(everything, wanted, approximate, "tombstones purged")
    if force and (len(everything) > 1 or state.tombstones):
        return _purge(everything, wanted, approximate, "forced: everything into one segment")
    if approximate and sum(segment.vectors for segment in exact) > INTO_APPROXIMATE_SHARE * approximate[0].vectors:
        return MergePlan((approximate[0], *exact), approximate[0].kind, "exact segments added into the approximate one", approximate[0])
    tiers: dict[int, list[Segment]] = {}
    for segment in exact:
        tiers.setdefault(_tier(segment.vectors), []).append(segment)
    for tier in sorted(tiers):
        if len(tiers[tier]) >= SEGMENTS_PER_TIER:
            return MergePlan(tuple(tiers[tier]), FLAT, f"{len(tiers[tier])} segments in tier {tier} merged")
    return None


def _purge(everything: tuple[Segment, ...], wanted: str, approximate: list[Segment], reason: str) -> MergePlan:
    """Rewrite every segment without its tombstones (keeping a trained IVF quantizer when there is one)."""
    if approximate:
        return MergePlan(everything, approximate[0].kind, reason, approximate[0])
    return MergePlan(everything, wanted, reason)


def _tier(vectors: int) -> int:
    """Which size tier a segment of this many vectors is in."""
    return int(math.log(max(vectors, SMALLEST_TIER) / SMALLEST_TIER, TIER_FACTOR))


def compact(writer: StoreWriter, limit: int = 8, force: bool = False) -> list[CompactionStep]:
    """Run the merges the state calls for (with force, down to one segment), each committed on its own (a crash
    loses at most the one in progress, which leaves only an unreferenced file); the caller holds the writer lock."""
    steps: list[CompactionStep] = []
    while len(steps) < limit and (plan := plan_compaction(writer.state, force)) is not None:
        steps.append(_merge(writer, plan))
    _reclaim_pages(writer.connection, force)
    return steps


def _reclaim_pages(connection: sqlite3.Connection, force: bool) -> None:
    """Give the database's free pages back to the file system once they are a large share of it (they are reused by
    later writes anyway, so only then, or when forced)."""
    pages, free = (int(connection.execute(f"PRAGMA {name}").fetchone()[0]) for name in ("page_count", "freelist_count"))
    if free and (force or free > RECLAIM_SHARE * pages):
        connection.execute("PRAGMA incremental_vacuum").fetchall()


def _merge(writer: StoreWriter, plan: MergePlan) -> CompactionStep:
    """Write the merged segment, then swap it for the merged ones in one transaction."""
    started = time.perf_counter()
    connection, store, dimension = writer.connection, writer.manifest.generation, writer.manifest.dimension
    tombstones = np.fromiter(writer.state.tombstones, dtype=np.int64)
    connection.execute("BEGIN IMMEDIATE")
    try:
        files = {segment.name: segments.segment_file(writer.directory, store, segment.name) for segment in plan.segments}
        index, held = _merged_index(connection, plan, files, tombstones, dimension)
        purged = held[np.isin(held, tombstones)]
        result = None
        if index.ntotal:
            trained = plan.into.trained if plan.into is not None else (0 if plan.kind == FLAT else int(index.ntotal))
            result = Segment(segments.new_name(connection, "seg"), plan.kind, int(index.ntotal), trained)
            save_vector_index(index, segments.segment_file(writer.directory, store, result.name))
        segments.replace_segments(connection, plan.segments, result, purged)
        segments.record_write(connection, None)
        connection.execute("COMMIT")
    except BaseException:
        if connection.in_transaction:
            connection.execute("ROLLBACK")
        raise
    vectors = result.vectors if result else 0
    return CompactionStep(plan.reason, len(plan.segments), plan.kind, vectors, len(purged), round(time.perf_counter() - started, 3))


def _merged_index(
    connection: sqlite3.Connection, plan: MergePlan, files: dict[str, Path], tombstones: np.ndarray, dimension: int
) -> tuple[faiss.Index, np.ndarray]:
    """The merged index without tombstoned ids, and every id the merged segments held."""
    loaded = {name: load_vector_index(path) for name, path in files.items()}
    held = np.concatenate([stored_ids(index) for index in loaded.values()]) if loaded else np.zeros(0, dtype=np.int64)
    if plan.into is not None:
        base = loaded.pop(plan.into.name)
        base_ids = stored_ids(base)
        ids, vectors = _flat_live(loaded.values(), tombstones, dimension)
        return update_vector_index(base, base_ids[np.isin(base_ids, tombstones)], ids, vectors), held
    if plan.kind == FLAT and all(segment.kind == FLAT for segment in plan.segments):
        ids, vectors = _flat_live(loaded.values(), tombstones, dimension)
        return build_vector_index(ids, vectors, dimension, FLAT), held
    live = held[~np.isin(held, tombstones)]
    ids, vectors = database.chunk_vectors(connection, dimension, live.tolist())  # exact vectors, for a new quantizer
    return build_vector_index(ids, vectors, dimension, plan.kind), held


def _flat_live(indexes: Iterable[faiss.Index], tombstones: np.ndarray, dimension: int) -> tuple[np.ndarray, np.ndarray]:
    """The live ids and vectors of exact segments."""
    parts = [flat_contents(index) for index in indexes]
    if not parts:
        return np.zeros(0, dtype=np.int64), np.zeros((0, dimension), dtype=np.float32)
    ids = np.concatenate([ids for ids, _ in parts])
    vectors = np.concatenate([vectors for _, vectors in parts])
    keep = ~np.isin(ids, tombstones)
    return ids[keep], vectors[keep]


def compact_index(directory: Path, wait: bool = True, force: bool = False) -> list[CompactionStep]:
    """Compact a published segment store as its writer (waiting for the writer lock, or giving up when another
    writer holds it and wait is False; with force, down to one segment without tombstones), then delete what no
    reader can still be opening."""
    with exclusive(directory, wait) as held:
        if not held:
            return []
        if not (directory / MANIFEST_NAME).exists():
            return []
        manifest = read_manifest(directory)
        if not manifest.segmented:
            return []
        writer = StoreWriter(directory, manifest, published=True)
        try:
            steps = compact(writer, force=force)
            writer.collect_garbage(wait=True)  # what it superseded, and files of writes that were interrupted
            return steps
        finally:
            writer.close()
