"""Snowball stemmers, one per thread and algorithm: a stemmer holds the word it is working on, so threads never share one."""

from __future__ import annotations

import threading

import snowballstemmer

_PER_THREAD = threading.local()


def thread_stemmer(algorithm: str) -> snowballstemmer.stemmer:
    """This thread's stemmer for an algorithm ('english' is Porter2, 'porter' the original, as FTS5's tokenizer)."""
    stemmers: dict[str, snowballstemmer.stemmer] = _PER_THREAD.__dict__.setdefault("stemmers", {})
    if algorithm not in stemmers:
        stemmers[algorithm] = snowballstemmer.stemmer(algorithm)
    return stemmers[algorithm]
