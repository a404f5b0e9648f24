"""Chunks follow sentences, overlap, carry headings and never exceed the model's token limit."""

from __future__ import annotations

import pytest

from index.articles import load_paths, make_article
from index.chunking import ChunkingPolicy, chunk_article
from index.embedder import HashingEmbedder, SentenceTransformerEmbedder
from tests.conftest import SEEDS


def test_offsets_are_exact_and_headings_recorded() -> None:
    [article] = load_paths([SEEDS]).articles
    chunks = chunk_article(article, HashingEmbedder().count_tokens, ChunkingPolicy(max_tokens=60))
    assert len(chunks) > 3
    for ordinal, chunk in enumerate(chunks):
        assert chunk.ordinal == ordinal
        assert article.text[chunk.start : chunk.end] == chunk.text
    headings = {chunk.heading for chunk in chunks}
    assert "Russia Advocates Diplomatic Resolution" in headings
    assert not any(chunk.text.startswith("Russia Advocates") for chunk in chunks)


def test_consecutive_chunks_share_a_sentence() -> None:
    text = " ".join(f"Sentence number {i} is here." for i in range(30))
    article = make_article("t", "T", text, "t.txt", None)
    chunks = chunk_article(article, HashingEmbedder().count_tokens, ChunkingPolicy(max_tokens=20, overlap_sentences=1))
    for previous, current in zip(chunks, chunks[1:]):
        assert current.start < previous.end
        assert current.start > previous.start


def test_a_giant_sentence_is_cut_at_words_within_the_limit() -> None:
    words = " ".join(f"word{i}" for i in range(1000))
    giant = "x" * 5000
    article = make_article("g", "G", f"{words} {giant}.", "g.txt", None)
    counter = HashingEmbedder().count_tokens
    chunks = chunk_article(article, counter, ChunkingPolicy(max_tokens=50, overlap_sentences=0))
    assert all(size <= 50 for size in counter([chunk.text for chunk in chunks]))
    assert chunks[0].text.startswith("word0 ")
    assert "".join(chunk.text for chunk in chunks).replace(" ", "") == article.text.replace(" ", "")


def test_policy_rejects_nonsense() -> None:
    with pytest.raises(ValueError):
        ChunkingPolicy(max_tokens=0)
    with pytest.raises(ValueError):
        ChunkingPolicy(overlap_sentences=-1)


def test_no_chunk_is_truncated_by_the_real_model(real_embedder: SentenceTransformerEmbedder) -> None:
    """Measured with the model's own tokenizer: every chunk fits its max_seq_length."""
    sentences = " ".join(
        f"Officials in the {i}th district said the reconstruction, which cost {i * 13} million dollars, was delayed."
        for i in range(200)
    )
    article = make_article("long", "Long", sentences + " " + "supercalifragilistic" * 300 + ".", "l.txt", None)
    chunks = chunk_article(article, real_embedder.count_tokens, ChunkingPolicy(max_tokens=real_embedder.max_tokens))
    sizes = real_embedder.count_tokens([chunk.text for chunk in chunks])
    assert max(sizes) <= real_embedder.max_tokens
    assert max(sizes) > real_embedder.max_tokens * 0.8
