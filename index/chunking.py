"""Sentence-aware chunking with overlap, sized in the embedding model's own tokens."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

from index.splitting import TokenCounter, split_long
from index.text import Span, is_heading, paragraphs, sentences
from qa.types import Article, Chunk

_CHARS_COUNTED_PER_TOKEN = 64
_CHARS_PER_TOKEN_GUESS = 4


ChunkContext = Literal["none", "title", "title+heading", "title+heading+lead"]
CHUNK_CONTEXTS: tuple[ChunkContext, ...] = get_args(ChunkContext)


@dataclass(frozen=True)
class ChunkingPolicy:
    """How large chunks are, in model tokens, how many sentences consecutive chunks share, and what context of its
    article each chunk is embedded with (the chunk text itself is what is stored and cited)."""

    max_tokens: int = 160
    overlap_sentences: int = 1
    context: ChunkContext = "title+heading"

    def __post_init__(self) -> None:
        if self.max_tokens < 8:
            raise ValueError("max_tokens must be at least 8")
        if self.overlap_sentences < 0:
            raise ValueError("overlap_sentences cannot be negative")
        if self.context not in CHUNK_CONTEXTS:
            raise ValueError(f"context must be one of {', '.join(CHUNK_CONTEXTS)}")


def chunk_article(article: Article, count_tokens: TokenCounter, policy: ChunkingPolicy) -> list[Chunk]:
    """Split an article into chunks that never exceed policy.max_tokens model tokens."""
    sections = _sections(article.text)
    units: list[tuple[str, Span]] = []
    for heading, spans in sections:
        units.extend((heading, span) for span in spans)
    sizes = _unit_sizes([span.text for _, span in units], count_tokens, policy)
    pieces: list[tuple[str, Span, int]] = []
    for (heading, span), size in zip(units, sizes, strict=True):
        if size <= policy.max_tokens:
            pieces.append((heading, span, size))
        else:
            parts = split_long(article.text, span, size, count_tokens, policy.max_tokens)
            pieces.extend((heading, part, n) for part, n in parts)
    windows = _pack(pieces, policy)
    chunks = [
        Chunk(article.id, ordinal, first.start, last.end, article.text[first.start : last.end], heading)
        for ordinal, (heading, first, last) in enumerate(windows)
    ]
    return chunks


def _unit_sizes(texts: list[str], count_tokens: TokenCounter, policy: ChunkingPolicy) -> list[int]:
    """Tokens per sentence; one too long to fit is estimated over the limit (split_long counts it in blocks)."""
    limit = policy.max_tokens * _CHARS_COUNTED_PER_TOKEN
    counted = iter(count_tokens([text for text in texts if len(text) <= limit]) if texts else [])
    return [next(counted) if len(text) <= limit else len(text) // _CHARS_PER_TOKEN_GUESS + 1 for text in texts]


def _sections(text: str) -> list[tuple[str, list[Span]]]:
    """Group sentences under the heading that precedes them."""
    grouped: list[tuple[str, list[Span]]] = []
    heading = ""
    for paragraph in paragraphs(text):
        if is_heading(paragraph):
            heading = paragraph.text
            grouped.append((heading, []))
            continue
        if not grouped or grouped[-1][0] != heading:
            grouped.append((heading, []))
        grouped[-1][1].extend(sentences(text, paragraph.start, paragraph.end))
    non_empty = [(name, spans) for name, spans in grouped if spans]
    if not non_empty:
        return [("", list(sentences(text, 0, len(text))))]
    return non_empty


def _pack(pieces: list[tuple[str, Span, int]], policy: ChunkingPolicy) -> list[tuple[str, Span, Span]]:
    """Greedily pack consecutive sentences of one section into windows, overlapping by whole sentences."""
    windows: list[tuple[str, Span, Span]] = []
    index = 0
    while index < len(pieces):
        heading = pieces[index][0]
        total, end = 0, index
        while end < len(pieces) and pieces[end][0] == heading and total + pieces[end][2] <= policy.max_tokens:
            total += pieces[end][2]
            end += 1
        end = max(end, index + 1)
        windows.append((heading, pieces[index][1], pieces[end - 1][1]))
        if end >= len(pieces) or pieces[end][0] != heading:
            index = end
        else:
            index = max(index + 1, end - policy.overlap_sentences)
    return windows
