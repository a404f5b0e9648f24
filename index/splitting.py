"""Cut an over-long sentence into parts that each fit a token limit, at whitespace where it can, in linear time."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import NamedTuple

from index.text import Span

TokenCounter = Callable[[Sequence[str]], list[int]]
_BLOCKS_PER_PART = 4
_SPACE = re.compile(r"\s")
_NON_SPACE = re.compile(r"\S")


class _Block(NamedTuple):
    """A run of text counted once: its offsets, its tokens, and whether it ends inside a word."""

    start: int
    end: int
    tokens: int
    cut_in_word: bool


def split_long(text: str, span: Span, tokens: int, count_tokens: TokenCounter, max_tokens: int) -> list[tuple[Span, int]]:
    """Parts of span (estimated at `tokens`), each within max_tokens: blocks counted in one batch, packed greedily."""
    chars = max(1, (span.end - span.start) * max_tokens // (max(tokens, 1) * _BLOCKS_PER_PART))
    blocks = _blocks(text, span.start, span.end, chars, count_tokens, max_tokens)
    parts: list[tuple[int, int, int]] = []
    first, total = 0, 0
    for position, block in enumerate(blocks):
        if total + block.tokens > max_tokens and position > first:
            parts.append((first, position, total))
            first, total = position, 0
        total += block.tokens
    parts.append((first, len(blocks), total))
    return _checked(text, blocks, parts, count_tokens, max_tokens)


def _blocks(
    text: str, start: int, end: int, chars: int, count_tokens: TokenCounter, max_tokens: int
) -> list[_Block]:
    """Consecutive blocks of text[start:end] of about `chars` characters, each within the limit."""
    ranges = _ranges(text, start, end, chars)
    sizes = count_tokens([text[first:last] for first, last, _ in ranges])
    blocks: list[_Block] = []
    for (first, last, cut), size in zip(ranges, sizes, strict=True):
        if size <= max_tokens or last - first <= 1:
            blocks.append(_Block(first, last, size, cut))
            continue
        smaller = min(chars, last - first) * max_tokens // (size * _BLOCKS_PER_PART)
        inner = _blocks(text, first, last, max(1, min(smaller, (last - first) // 2)), count_tokens, max_tokens)
        inner[-1] = inner[-1]._replace(cut_in_word=cut)
        blocks.extend(inner)
    return blocks


def _ranges(text: str, start: int, end: int, chars: int) -> list[tuple[int, int, bool]]:
    """(start, end, cut inside a word) of about `chars` characters each, ended at the next whitespace if it is near."""
    ranges: list[tuple[int, int, bool]] = []
    position = start
    while True:
        found = _NON_SPACE.search(text, position, end)
        if found is None:
            return ranges
        position = found.start()
        target = position + chars
        if target >= end:
            ranges.append((position, _rstripped(text, position, end), False))
            return ranges
        space = _SPACE.search(text, target, min(end, target + chars))
        cut = space.start() if space else target
        ranges.append((position, _rstripped(text, position, cut), space is None))
        position = cut


def _rstripped(text: str, start: int, end: int) -> int:
    """The end of text[start:end] without trailing whitespace."""
    while end > start and text[end - 1].isspace():
        end -= 1
    return end


def _checked(
    text: str, blocks: list[_Block], parts: list[tuple[int, int, int]], count_tokens: TokenCounter, max_tokens: int
) -> list[tuple[Span, int]]:
    """Parts as spans; one that joins pieces of a word is counted whole and, if over, left as its blocks."""
    joined = [i for i, (first, last, _) in enumerate(parts) if any(b.cut_in_word for b in blocks[first : last - 1])]
    texts = [text[blocks[parts[i][0]].start : blocks[parts[i][1] - 1].end] for i in joined]
    recount = dict(zip(joined, count_tokens(texts), strict=True))
    spans: list[tuple[Span, int]] = []
    for index, (first, last, total) in enumerate(parts):
        size = recount.get(index, total)
        groups = [(first, last, size)] if size <= max_tokens else [(b, b + 1, blocks[b].tokens) for b in range(first, last)]
        for group_first, group_last, tokens in groups:
            begin, finish = blocks[group_first].start, blocks[group_last - 1].end
            spans.append((Span(begin, finish, text[begin:finish]), tokens))
    return spans
