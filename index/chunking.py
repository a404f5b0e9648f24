"""Sentence-aware chunking with overlap, sized in the embedding model's own tokens."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from index.text import Span, is_heading, paragraphs, sentences
from qa.types import Article, Chunk

TokenCounter = Callable[[Sequence[str]], list[int]]


@dataclass(frozen=True)
class ChunkingPolicy:
    """How large chunks are, in model tokens, and how many sentences consecutive chunks share."""

    max_tokens: int = 160
    overlap_sentences: int = 1

    def __post_init__(self) -> None:
        if self.max_tokens < 8:
            raise ValueError("max_tokens must be at least 8")
        if self.overlap_sentences < 0:
            raise ValueError("overlap_sentences cannot be negative")


def chunk_article(article: Article, count_tokens: TokenCounter, policy: ChunkingPolicy) -> list[Chunk]:
    """Split an article into chunks that never exceed policy.max_tokens model tokens."""
    sections = _sections(article.text)
    units: list[tuple[str, Span]] = []
    for heading, spans in sections:
        units.extend((heading, span) for span in spans)
    sizes = count_tokens([span.text for _, span in units]) if units else []
    pieces: list[tuple[str, Span, int]] = []
    for (heading, span), size in zip(units, sizes, strict=True):
        if size <= policy.max_tokens:
            pieces.append((heading, span, size))
        else:
            pieces.extend((heading, part, n) for part, n in _split_long(article.text, span, count_tokens, policy))
    windows = _pack(pieces, policy)
    chunks = [
        Chunk(article.id, ordinal, first.start, last.end, article.text[first.start : last.end], heading)
        for ordinal, (heading, first, last) in enumerate(windows)
    ]
    return chunks


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


def _split_long(
    text: str, span: Span, count_tokens: TokenCounter, policy: ChunkingPolicy
) -> list[tuple[Span, int]]:
    """Cut an over-long sentence at word boundaries into parts that each fit."""
    words = [Span(start, end, text[start:end]) for start, end in _word_bounds(text, span)]
    atoms: list[tuple[Span, int]] = []
    for word, size in zip(words, count_tokens([word.text for word in words]), strict=True):
        atoms.extend([(word, size)] if size <= policy.max_tokens else _split_chars(text, word, count_tokens, policy))
    parts: list[tuple[Span, int]] = []
    first, total = 0, 0
    for position, (_, size) in enumerate(atoms):
        if total + size > policy.max_tokens and position > first:
            parts.append((_joined(text, atoms[first][0], atoms[position - 1][0]), total))
            first, total = position, 0
        total += size
    parts.append((_joined(text, atoms[first][0], atoms[-1][0]), total))
    return parts


def _split_chars(
    text: str, span: Span, count_tokens: TokenCounter, policy: ChunkingPolicy
) -> list[tuple[Span, int]]:
    """Last resort for one enormous 'word': halve it until every part fits."""
    size = count_tokens([span.text])[0]
    if size <= policy.max_tokens or span.end - span.start <= 1:
        return [(span, size)]
    middle = (span.start + span.end) // 2
    left = Span(span.start, middle, text[span.start : middle])
    right = Span(middle, span.end, text[middle : span.end])
    return _split_chars(text, left, count_tokens, policy) + _split_chars(text, right, count_tokens, policy)


def _word_bounds(text: str, span: Span) -> list[tuple[int, int]]:
    """Offsets of whitespace-separated words inside span."""
    bounds: list[tuple[int, int]] = []
    position = span.start
    while position < span.end:
        while position < span.end and text[position].isspace():
            position += 1
        start = position
        while position < span.end and not text[position].isspace():
            position += 1
        if position > start:
            bounds.append((start, position))
    return bounds


def _joined(text: str, first: Span, last: Span) -> Span:
    """The span from the start of first to the end of last."""
    return Span(first.start, last.end, text[first.start : last.end])
