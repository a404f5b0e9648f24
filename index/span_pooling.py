"""Sentence vectors from the token states of the passage they sit in, so sentences cost no extra model pass."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

CharSpan = tuple[int, int]


def pool_spans(hidden: np.ndarray, offsets: Sequence[CharSpan], special: Sequence[int], spans: Sequence[CharSpan]) -> np.ndarray:
    """Unit vectors, one per character span: the mean state of the tokens overlapping it (else of all tokens)."""
    dimension = hidden.shape[1]
    if not spans:
        return np.zeros((0, dimension), dtype=np.float32)
    token_starts = np.fromiter((start for start, _ in offsets), dtype=np.int64, count=len(offsets))
    token_ends = np.fromiter((end for _, end in offsets), dtype=np.int64, count=len(offsets))
    ordinary = np.asarray(special, dtype=bool) == 0
    span_starts = np.array([start for start, _ in spans], dtype=np.int64)[:, None]
    span_ends = np.array([end for _, end in spans], dtype=np.int64)[:, None]
    weights = ((token_starts < span_ends) & (token_ends > span_starts) & ordinary).astype(np.float32)
    uncovered = weights.sum(axis=1) == 0
    weights[uncovered] = ordinary.astype(np.float32)
    weights /= np.maximum(weights.sum(axis=1, keepdims=True), 1e-9)
    pooled = weights @ hidden.astype(np.float32)
    return normalised(pooled)


def normalised(vectors: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (zero rows stay zero)."""
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    result: np.ndarray = (vectors / np.maximum(norms, 1e-12)).astype(np.float32)
    return result
