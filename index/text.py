"""Pure text helpers: paragraphs, sentences and headings, all with character offsets."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

_PARAGRAPH_BREAK = re.compile(r"\n[ \t\r\f\v]*\n\s*")
_SENTENCE_END = re.compile(r"[.!?]+[\"'”’)\]]*(?=\s+[\"'“‘(\[]?[A-Z0-9])|\n+")
_ABBREVIATIONS = frozenset(
    "mr mrs ms dr prof sr jr st mt gen col lt sgt capt gov sen rep pres rev hon "
    "inc ltd co corp vs etc no jan feb mar apr jun jul aug sep sept oct nov dec "
    "u.s u.k u.n e.u d.c a.m p.m i.e e.g approx dept est fig op vol".split()
)
_HEADING_MAX_WORDS = 12
_TERMINAL_PUNCTUATION = tuple(".!?:;,\"'”’)…")


@dataclass(frozen=True)
class Span:
    """A span of text with its offsets into the original string."""

    start: int
    end: int
    text: str


def paragraphs(text: str) -> Iterator[Span]:
    """Split text at blank lines; each span is trimmed of surrounding whitespace."""
    position = 0
    for match in _PARAGRAPH_BREAK.finditer(text):
        yield from _trimmed(text, position, match.start())
        position = match.end()
    yield from _trimmed(text, position, len(text))


def sentences(text: str, start: int, end: int) -> Iterator[Span]:
    """Split text[start:end] into sentences, never at a common abbreviation or initial."""
    position = start
    for match in _SENTENCE_END.finditer(text, start, end):
        if match.group().startswith("."):
            word = _word_before(text, match.start())
            if word.lower().rstrip(".") in _ABBREVIATIONS or (len(word) == 1 and word.isupper()):
                continue
        yield from _trimmed(text, position, match.end())
        position = match.end()
    yield from _trimmed(text, position, end)


def chunk_sentences(text: str) -> list[Span]:
    """The sentences of a chunk of text, paragraph by paragraph, with offsets into it."""
    return [sentence for paragraph in paragraphs(text) for sentence in sentences(text, paragraph.start, paragraph.end)]


def lead_sentence(text: str) -> str:
    """The first sentence of the first paragraph that is not a heading (a news article's lead), or ''."""
    for paragraph in paragraphs(text):
        if not is_heading(paragraph):
            return next(sentences(text, paragraph.start, paragraph.end)).text
    return ""


def is_heading(span: Span) -> bool:
    """A short single line without final punctuation is a section heading."""
    line = span.text
    if "\n" in line or not line[:1].isalnum():
        return False
    short = len(line.split(maxsplit=_HEADING_MAX_WORDS)) <= _HEADING_MAX_WORDS  # maxsplit: a 50 MB line is not split
    return short and not line.endswith(_TERMINAL_PUNCTUATION)


def _word_before(text: str, position: int) -> str:
    """The whitespace-delimited word that ends at position."""
    start = position
    while start > 0 and not text[start - 1].isspace():
        start -= 1
    return text[start:position].lstrip("\"'“‘([")


def _trimmed(text: str, start: int, end: int) -> Iterator[Span]:
    """Yield text[start:end] without leading and trailing whitespace, if anything is left."""
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    if start < end:
        yield Span(start, end, text[start:end])
