"""Question vectors: concurrent questions share model calls (dynamic batching), repeated ones come from a bounded
cache keyed by model and text, and the vectors are exactly what the model gives for each question alone."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pytest

from index.embedder import HashingEmbedder, SentenceTransformerEmbedder
from qa.batching import DynamicBatcher
from qa.config import Settings
from qa.query_vectors import QueryVectors
from qa.service import QAService
from tests.conftest import GCC_QUESTION, SEEDS


class SlowEmbedder(HashingEmbedder):
    """The fake embedder, with a model call that takes a while and a record of each call's texts."""

    def __init__(self, seconds: float = 0.05) -> None:
        super().__init__()
        self.seconds = seconds
        self.calls: list[list[str]] = []

    def embed(self, texts: Sequence[str], show_progress: bool = False) -> np.ndarray:
        self.calls.append(list(texts))
        time.sleep(self.seconds)
        return super().embed(texts)


def _concurrently(callers: int, work: Callable[[int], object]) -> list[object]:
    """Run work(i) in `callers` threads released together; their results in order."""
    results: list[object] = [None] * callers
    start = threading.Barrier(callers)

    def run(number: int) -> None:
        start.wait()
        results[number] = work(number)

    threads = [threading.Thread(target=run, args=(number,)) for number in range(callers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return results


def test_concurrent_callers_share_model_calls_and_each_gets_its_own_vectors() -> None:
    model = SlowEmbedder()
    batcher = DynamicBatcher(model.embed, max_batch=8, max_wait=0.0)
    questions = [[f"question {number} about ferries"] for number in range(12)] + [["two", "texts"]]
    results = _concurrently(len(questions), lambda number: batcher.embed(questions[number]))
    for texts, vectors in zip(questions, results, strict=True):
        assert np.array_equal(vectors, HashingEmbedder().embed(texts))
    assert len(model.calls) < len(questions)  # while one call runs, the others gather for the next
    assert all(len(call) <= 8 for call in model.calls) and sum(map(len, model.calls)) == 14
    assert batcher.tally.calls == len(model.calls) and batcher.tally.texts == 14
    assert np.array_equal(batcher.embed(["later"]), HashingEmbedder().embed(["later"]))  # the model is free again


def test_a_lone_caller_waits_at_most_the_wait_and_then_embeds_alone() -> None:
    model = SlowEmbedder(0.0)
    batcher = DynamicBatcher(model.embed, max_batch=8, max_wait=0.05)
    started = time.monotonic()
    assert np.array_equal(batcher.embed(["alone"]), HashingEmbedder().embed(["alone"]))
    assert 0.04 <= time.monotonic() - started and model.calls == [["alone"]]


def test_the_wait_gathers_callers_that_arrive_within_it() -> None:
    model = SlowEmbedder(0.0)
    batcher = DynamicBatcher(model.embed, max_batch=4, max_wait=2.0)
    _concurrently(4, lambda number: batcher.embed([f"q{number}"]))
    assert len(model.calls) == 1 and sorted(model.calls[0]) == ["q0", "q1", "q2", "q3"]  # full before the wait ran out


def test_a_model_error_reaches_every_caller_of_its_batch_and_the_next_callers_go_on() -> None:
    calls = []

    def failing(texts: list[str]) -> np.ndarray:
        calls.append(texts)
        time.sleep(0.05)
        if len(calls) == 1:
            raise RuntimeError("model crashed")
        return HashingEmbedder().embed(texts)

    batcher = DynamicBatcher(failing, max_batch=8, max_wait=0.0)
    outcomes = _concurrently(6, lambda number: _outcome(lambda: batcher.embed([f"q{number}"])))
    failed = [outcome for outcome in outcomes if isinstance(outcome, RuntimeError)]
    embedded = [outcome for outcome in outcomes if isinstance(outcome, np.ndarray)]
    assert len(failed) == len(calls[0]) >= 1 and len(failed) + len(embedded) == 6
    assert np.array_equal(batcher.embed(["after"]), HashingEmbedder().embed(["after"]))


def _outcome(call: Callable[[], object]) -> object:
    """The call's result or the exception it raised."""
    try:
        return call()
    except RuntimeError as error:
        return error


def test_repeated_questions_come_from_the_cache_whitespace_aside() -> None:
    model = SlowEmbedder(0.0)
    vectors = QueryVectors(model, cache_size=2, max_batch=1, max_wait=0.0)
    first = vectors.embed(["what did  Russia say?"])
    again = vectors.embed(["  what did Russia\nsay? "])
    assert np.array_equal(first, again) and model.calls == [["what did  Russia say?"]]
    again[0][0] = 42.0  # a caller's copy: the cached vector is untouched
    assert np.array_equal(vectors.embed(["what did Russia say?"]), first)
    vectors.embed(["b", "c"])  # the cache holds 2: the oldest goes
    vectors.embed(["what did Russia say?"])
    assert len(model.calls) == 3 and (vectors.hits, vectors.misses) == (2, 4)
    assert not QueryVectors(model, cache_size=0, max_batch=1, max_wait=0.0).hits  # 0 turns it off


def test_the_cache_is_keyed_by_model() -> None:
    class OtherModel(SlowEmbedder):
        @property
        def name(self) -> str:
            return "another-model"

    one, other = SlowEmbedder(0.0), OtherModel(0.0)
    QueryVectors(one, 10, 1, 0.0).embed(["x"])
    cache = QueryVectors(other, 10, 1, 0.0)
    cache.embed(["x"])
    assert cache.hits == 0 and other.calls == [["x"]]


@pytest.mark.slow
def test_batched_vectors_of_the_real_model_match_each_question_alone(real_embedder: SentenceTransformerEmbedder) -> None:
    questions = [GCC_QUESTION, "Who won the election?", "what happened to oil prices this week in Asia and Europe?"]
    batcher = DynamicBatcher(real_embedder.embed, max_batch=8, max_wait=0.5)
    together = _concurrently(3, lambda number: batcher.embed([questions[number]]))
    assert batcher.tally.calls == 1
    for question, vector in zip(questions, together, strict=True):
        assert np.allclose(vector, real_embedder.embed([question]), atol=1e-5)


def test_the_service_answers_repeated_questions_without_the_model(tmp_path: Path) -> None:
    model = SlowEmbedder(0.0)
    service = QAService(Settings(index_dir=tmp_path / "index", seeds_dir=SEEDS, min_confidence=-1.0), embedder=model)
    service.ensure_index()
    first = service.ask(GCC_QUESTION)
    calls = len(model.calls)
    assert service.ask(GCC_QUESTION).citations == first.citations and len(model.calls) == calls
    assert service.query_vectors.hits == 1
