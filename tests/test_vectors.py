"""FAISS index kinds: exact while small, IVF-SQ8 above the threshold, updated in place, memory-mapped on open."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from index.vectors import (
    FLAT,
    build_vector_index,
    choose_kind,
    load_vector_index,
    save_vector_index,
    search_vectors,
    update_vector_index,
)


def _unit_vectors(count: int, dimension: int = 32, seed: int = 0) -> np.ndarray:
    vectors = np.random.default_rng(seed).standard_normal((count, dimension)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def test_kind_follows_size() -> None:
    assert choose_kind(10) == FLAT
    assert choose_kind(200_000) == FLAT
    assert choose_kind(1_000_000) == "IVF4096,SQ8"
    assert choose_kind(5_000, exact_limit=1_000) == "IVF256,SQ8"


def test_ivf_finds_near_duplicates_and_updates_in_place(tmp_path: Path) -> None:
    vectors = _unit_vectors(4_000)
    ids = np.arange(100, 4_100, dtype=np.int64)
    index = build_vector_index(ids, vectors, 32, "IVF16,SQ8")
    query = vectors[7] + 0.01 * _unit_vectors(1, seed=1)[0]
    assert search_vectors(index, query, 3)[0][0] == 107
    update_vector_index(index, [107], np.array([9_999], dtype=np.int64), vectors[7:8])
    save_vector_index(index, tmp_path / "v.faiss")
    reopened = load_vector_index(tmp_path / "v.faiss", memory_map=True)
    hits = search_vectors(reopened, query, 3)
    assert hits[0][0] == 9_999 and all(rowid != 107 for rowid, _ in hits)
    allowed = np.zeros(10_000, dtype=bool)
    allowed[[200, 201]] = True
    assert {rowid for rowid, _ in search_vectors(reopened, query, 5, allowed)} <= {200, 201}
    assert search_vectors(reopened, query, 3, np.zeros(10_000, dtype=bool)) == []


def test_flat_search_keeps_to_the_allowed_ids() -> None:
    vectors = _unit_vectors(300)
    index = build_vector_index(np.arange(1, 301, dtype=np.int64), vectors, 32, FLAT)
    allowed = np.zeros(301, dtype=bool)
    allowed[[5, 77, 300]] = True
    expected = sorted([5, 77, 300], key=lambda rowid: -float(vectors[rowid - 1] @ vectors[0]))
    assert [rowid for rowid, _ in search_vectors(index, vectors[0], 10, allowed)] == expected


def test_flat_is_exact() -> None:
    vectors = _unit_vectors(500)
    index = build_vector_index(np.arange(500, dtype=np.int64), vectors, 32, FLAT)
    expected = np.argsort(-(vectors @ vectors[3]))[:10]
    assert [rowid for rowid, _ in search_vectors(index, vectors[3], 10)] == expected.tolist()


def test_ids_beyond_the_allowed_mask_are_never_returned() -> None:
    """The mask covers the live chunks; a tombstoned chunk may have a higher id than any of them and must not pass
    (FAISS's bitmap selector takes its size in bytes: given the mask's length in bits it read past the bitmap)."""
    rng = np.random.default_rng(3)
    vectors = rng.standard_normal((1_000, 8)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    index = build_vector_index(np.arange(1_000, dtype=np.int64), vectors, 8, "flat")
    allowed = np.ones(64, dtype=bool)
    for query in vectors[500:520]:
        assert all(rowid < 64 for rowid, _ in search_vectors(index, query, 20, allowed))
