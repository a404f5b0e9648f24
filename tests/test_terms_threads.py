"""Stemming from many threads at once (the API answers in a thread pool) gives the same terms as one thread."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from qa.terms import stemmed_terms

TEXTS = [
    "Russia's foreign ministry reiterated its commitment to constant contact with the Gulf Cooperation Council",
    "Iran launched multiple waves of drone and missile attacks against Israeli and American installations",
    "Analysts fear the widening hostilities could disrupt global energy supplies and international shipping",
    "Pezeshkian expressed gratitude for Russia's solidarity and thanked the president for his condolences",
]


@pytest.fixture
def frequent_thread_switches() -> Iterator[None]:
    """Switch threads every microsecond, so a shared stemmer's half-finished word is seen by another thread."""
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    yield
    sys.setswitchinterval(interval)


def test_concurrent_stemming_matches_sequential(frequent_thread_switches: None) -> None:
    """Eight threads stem the same texts 200 times each: no error and no stem differs from the sequential ones."""
    expected = [stemmed_terms(text) for text in TEXTS]

    def stem_repeatedly(worker: int) -> list[set[str]]:
        return [stemmed_terms(TEXTS[(worker + turn) % len(TEXTS)]) for turn in range(200)]

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(stem_repeatedly, range(8)))
    for worker, terms in enumerate(results):
        assert terms == [expected[(worker + turn) % len(TEXTS)] for turn in range(200)]
