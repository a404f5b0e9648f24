"""The FAISS side of an index generation: inner-product search over unit vectors, keyed by chunk row id."""

from __future__ import annotations

import os
from pathlib import Path

import faiss
import numpy as np


def build_vector_index(ids: np.ndarray, vectors: np.ndarray, dimension: int) -> faiss.Index:
    """An exact inner-product index over the given vectors, keyed by chunk row id."""
    index = faiss.IndexIDMap2(faiss.IndexFlatIP(dimension))
    if len(ids):
        index.add_with_ids(np.ascontiguousarray(vectors, dtype=np.float32), ids)
    return index


def save_vector_index(index: faiss.Index, path: Path) -> None:
    """Write the index aside and rename it into place, durably."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    faiss.write_index(index, str(temporary))
    with temporary.open("rb") as handle:
        os.fsync(handle.fileno())
    os.replace(temporary, path)


def load_vector_index(path: Path) -> faiss.Index:
    """Read a FAISS index from disk."""
    return faiss.read_index(str(path))


def search_vectors(
    index: faiss.Index, query: np.ndarray, k: int, allowed_ids: np.ndarray | None = None
) -> list[tuple[int, float]]:
    """Top-k (row id, cosine) pairs, optionally only among allowed ids."""
    if index.ntotal == 0 or k <= 0:
        return []
    parameters = None
    if allowed_ids is not None:
        if len(allowed_ids) == 0:
            return []
        parameters = faiss.SearchParameters(sel=faiss.IDSelectorBatch(allowed_ids.astype(np.int64)))
    scores, ids = index.search(query.reshape(1, -1).astype(np.float32), min(k, index.ntotal), params=parameters)
    return [(int(i), float(s)) for i, s in zip(ids[0], scores[0], strict=True) if i >= 0]
