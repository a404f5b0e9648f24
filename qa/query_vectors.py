"""Question vectors: a bounded LRU cache keyed by the model and the question's text, in front of a dynamic batcher."""

from __future__ import annotations

import threading
from collections.abc import Sequence

import numpy as np
from cachetools import LRUCache

from index.embedder import Embedder
from qa.batching import DynamicBatcher


def cache_key(embedder: Embedder, text: str) -> tuple[str, str, str]:
    """The model, its precision and the text with its whitespace collapsed (the vector does not depend on it)."""
    return embedder.name, embedder.precision, " ".join(text.split())


class QueryVectors:
    """Embeds questions: repeated ones from memory (at most cache_size vectors; 0 turns the cache off), the rest
    through one batcher shared by the service's threads."""

    def __init__(self, embedder: Embedder, cache_size: int, max_batch: int, max_wait: float) -> None:
        self.embedder = embedder
        self._cache: LRUCache[tuple[str, str, str], np.ndarray] | None = LRUCache(cache_size) if cache_size else None
        self._lock = threading.Lock()
        self.batcher = DynamicBatcher(lambda texts: embedder.embed(texts), max_batch, max_wait)
        self.hits = 0
        self.misses = 0

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """The texts' unit vectors, in order."""
        keys = [cache_key(self.embedder, text) for text in texts]
        found: dict[int, np.ndarray] = {}
        if self._cache is not None:
            with self._lock:
                for position, key in enumerate(keys):
                    vector = self._cache.get(key)
                    if vector is not None:
                        found[position] = vector
                self.hits += len(found)
                self.misses += len(keys) - len(found)
        missing = [position for position in range(len(keys)) if position not in found]
        if missing:
            vectors = self.batcher.embed([texts[position] for position in missing])
            found.update(zip(missing, vectors, strict=True))
            if self._cache is not None:
                with self._lock:
                    for position in missing:
                        self._cache[keys[position]] = found[position]
        return np.stack([found[position] for position in range(len(keys))])  # a copy: callers never touch the cache
