"""Sentence vectors are computed at index time, in the passage's own model pass, and answering reads them."""

from __future__ import annotations

import numpy as np
import pytest

from index import database
from index.embedder import HashingEmbedder, SentenceTransformerEmbedder
from index.span_pooling import pool_spans
from index.text import chunk_sentences
from qa.config import Settings
from qa.service import QAService
from tests.conftest import GCC_QUESTION

TEXT = "Russia backed the GCC talks. Iran thanked Moscow for its support."


def test_a_span_over_every_token_pools_to_the_whole_text_mean() -> None:
    hidden = np.array([[9.0, 9.0], [1.0, 0.0], [0.0, 1.0], [9.0, -9.0]], dtype=np.float32)
    offsets, special = [(0, 0), (0, 5), (6, 9), (0, 0)], [1, 0, 0, 1]
    whole, first, nothing = pool_spans(hidden, offsets, special, [(0, 9), (0, 5), (20, 30)])
    assert np.allclose(whole, [2**-0.5, 2**-0.5])
    assert np.allclose(first, [1.0, 0.0])
    assert np.allclose(nothing, whole)


@pytest.mark.parametrize("backend", ["onnx", "torch"])
def test_sentence_vectors_pool_the_passage_tokens_of_each_sentence(
    backend: str, real_embedder: SentenceTransformerEmbedder
) -> None:
    from index.backends import make_embedder

    embedder = real_embedder if backend == "torch" else make_embedder(real_embedder.name, "onnx")
    spans = [(span.start, span.end) for span in chunk_sentences(TEXT)]
    result = embedder.embed_passages([TEXT, "A short one."], [spans, []])
    assert np.allclose(result.vectors, embedder.embed([TEXT, "A short one."]), atol=1e-5)
    assert [vectors.shape for vectors in result.sentences] == [(2, embedder.dimension), (0, embedder.dimension)]
    assert np.allclose(np.linalg.norm(result.sentences[0], axis=1), 1.0, atol=1e-5)
    question = embedder.embed(["Who thanked Moscow?"])[0]
    assert int(np.argmax(result.sentences[0] @ question)) == 1


def test_asking_embeds_only_the_question(settings: Settings) -> None:
    embedder = HashingEmbedder()
    service = QAService(settings, embedder=embedder)
    service.ensure_index()
    before = embedder.embedded_texts
    answer = service.ask(GCC_QUESTION)
    assert not answer.abstained and answer.citations
    assert embedder.embedded_texts - before == 1


def test_sentence_vectors_follow_their_articles(settings: Settings) -> None:
    service = QAService(settings, embedder=HashingEmbedder())
    service.ensure_index()
    article = service.articles()[0]
    snapshot = service.snapshot()
    stored = snapshot.sentence_vectors(article.id, 0)
    chunk = next(iter(snapshot.chunks([1]).values()))
    assert [(start, end) for start, end, _ in stored] == [(span.start, span.end) for span in chunk_sentences(chunk.text)]
    service.delete_articles([article.id])
    snapshot = service.snapshot()
    with database.connect(snapshot.manifest.database_path(snapshot.directory)) as connection:
        assert connection.execute("SELECT count(*) FROM sentence_vectors").fetchone()[0] == 0
        assert connection.execute("SELECT count(*) FROM embeddings").fetchone()[0] == 0
