"""The FAISS side of an index generation: exact search while small, IVF with 8-bit codes above a size threshold."""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from pathlib import Path

import faiss
import numpy as np

from index.manifest import fsync_directory

EXACT_LIMIT = 200_000
FLAT = "flat"
NPROBE = 48
OVERFETCH_LIMIT = 256


def choose_kind(count: int, exact_limit: int = EXACT_LIMIT) -> str:
    """Exact inner product up to exact_limit vectors; above it IVF (about 4·√n lists) with SQ8 codes."""
    if count <= exact_limit:
        return FLAT
    lists = 1 << round(math.log2(4 * math.sqrt(count)))
    return f"IVF{lists},SQ8"


def build_vector_index(ids: np.ndarray, vectors: np.ndarray, dimension: int, kind: str) -> faiss.Index:
    """A new index of the given kind over the vectors, keyed by chunk row id."""
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    if kind == FLAT:
        index = faiss.IndexIDMap2(faiss.IndexFlatIP(dimension))
    else:
        index = faiss.index_factory(dimension, kind, faiss.METRIC_INNER_PRODUCT)
        sample = vectors[np.random.default_rng(0).permutation(len(vectors))[: 64 * faiss.extract_index_ivf(index).nlist]]
        index.train(sample)
    if len(ids):
        index.add_with_ids(vectors, ids.astype(np.int64))
    return index


def update_vector_index(
    index: faiss.Index, removed: np.ndarray, added_ids: np.ndarray, added_vectors: np.ndarray
) -> faiss.Index:
    """Apply removals and additions to an existing index in place."""
    if len(removed):
        index.remove_ids(np.asarray(removed, dtype=np.int64))
    if len(added_ids):
        index.add_with_ids(np.ascontiguousarray(added_vectors, dtype=np.float32), added_ids.astype(np.int64))
    return index


def save_vector_index(index: faiss.Index, path: Path) -> None:
    """Write the index aside and rename it into place, durably (the folder is flushed too)."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    faiss.write_index(index, str(temporary))
    with temporary.open("rb") as handle:
        os.fsync(handle.fileno())
    os.replace(temporary, path)
    fsync_directory(path.parent)


def stored_ids(index: faiss.Index) -> np.ndarray:
    """Every id an index holds (flat: its id map; IVF: its inverted lists)."""
    try:
        ivf = faiss.extract_index_ivf(index)
    except RuntimeError:
        return faiss.vector_to_array(index.id_map).astype(np.int64)
    lists = ivf.invlists
    parts = [
        faiss.rev_swig_ptr(lists.get_ids(number), lists.list_size(number)).copy()
        for number in range(ivf.nlist) if lists.list_size(number)
    ]
    return np.concatenate(parts).astype(np.int64) if parts else np.zeros(0, dtype=np.int64)


def flat_contents(index: faiss.Index) -> tuple[np.ndarray, np.ndarray]:
    """The ids and vectors of an exact (flat) index."""
    ids = stored_ids(index)
    return ids, index.index.reconstruct_n(0, index.ntotal) if len(ids) else np.zeros((0, index.d), dtype=np.float32)


def load_vector_index(path: Path, memory_map: bool = False) -> faiss.Index:
    """Read a FAISS index; memory-mapped for compressed kinds so large indexes open instantly."""
    index = faiss.read_index(str(path), faiss.IO_FLAG_MMAP if memory_map else 0)
    try:
        faiss.extract_index_ivf(index).nprobe = NPROBE
    except RuntimeError:
        pass
    return index


def search_segments(
    indexes: list[faiss.Index], query: np.ndarray, k: int, allowed: np.ndarray | None, tombstones: frozenset[int],
    live: Callable[[], np.ndarray],
) -> list[tuple[int, float]]:
    """Top-k (row id, cosine) over several segments. Tombstoned ids are dropped: each segment is asked for k plus
    the number of tombstones (at most OVERFETCH_LIMIT more), or searched through the live mask when there are more.
    An allowed mask is packed into one selector for every segment."""
    extra = len(tombstones) if allowed is None else 0
    if extra > OVERFETCH_LIMIT:
        allowed, extra = live(), 0
    if allowed is not None and not allowed.any():
        return []
    selector = _Selector(allowed) if allowed is not None else None
    found: list[tuple[int, float]] = []
    for index in indexes:
        found += _search(index, query, k + extra, selector)
    if extra:
        found = [(rowid, score) for rowid, score in found if rowid not in tombstones]
    return sorted(found, key=lambda pair: -pair[1])[:k]


def search_vectors(index: faiss.Index, query: np.ndarray, k: int, allowed: np.ndarray | None = None) -> list[tuple[int, float]]:
    """Top-k (row id, cosine) pairs, optionally only among the ids an allowed mask marks (mask[id] is True)."""
    if allowed is not None and not allowed.any():
        return []
    return _search(index, query, k, _Selector(allowed) if allowed is not None else None)


class _Selector:
    """A FAISS id selector over a mask, packed once (the bitmap is kept alive as long as the selector)."""

    def __init__(self, allowed: np.ndarray) -> None:
        self.bitmap = np.packbits(allowed, bitorder="little")
        self.selector = faiss.IDSelectorBitmap(len(self.bitmap), faiss.swig_ptr(self.bitmap))  # n counts bytes

    def parameters(self, index: faiss.Index) -> faiss.SearchParameters:
        """Search parameters that apply the selector to this kind of index."""
        try:
            faiss.extract_index_ivf(index)
        except RuntimeError:
            return faiss.SearchParameters(sel=self.selector)
        return faiss.SearchParametersIVF(sel=self.selector, nprobe=NPROBE)


def _search(index: faiss.Index, query: np.ndarray, k: int, selector: _Selector | None) -> list[tuple[int, float]]:
    """Top-k (row id, cosine) of one index, through a selector when given."""
    if index.ntotal == 0 or k <= 0:
        return []
    faiss.omp_set_num_threads(1)  # this thread only: one query gains nothing from a team, and teams contend under load
    parameters = selector.parameters(index) if selector is not None else None
    scores, ids = index.search(query.reshape(1, -1).astype(np.float32), min(k, index.ntotal), params=parameters)
    return [(int(i), float(s)) for i, s in zip(ids[0], scores[0], strict=True) if i >= 0]
