"""Compose an extractive answer: the best supporting sentences, each with its [n] citation."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from index.store import STOPWORDS
from index.text import Span, paragraphs, sentences
from qa.retrieve import Retrieved
from qa.types import Answer, Citation, Passage

NOT_FOUND = "The sources don't cover this: no passage in the indexed articles answers the question."
_TERM = re.compile(r"\w+")

Embed = Callable[[Sequence[str]], np.ndarray]


@dataclass(frozen=True)
class AnswerPolicy:
    """How many sentences an answer has and how strong the evidence must be."""

    max_sentences: int = 2
    min_score: float = 0.0
    lexical_weight: float = 0.3
    passages_considered: int = 3


@dataclass(frozen=True)
class Candidate:
    """A sentence of a retrieved passage, with offsets into its article."""

    passage: Passage
    span: Span
    score: float


def passage_sentences(passage: Passage) -> list[Span]:
    """The sentences of a passage, with offsets into its article."""
    spans: list[Span] = []
    for paragraph in paragraphs(passage.text):
        for sentence in sentences(passage.text, paragraph.start, paragraph.end):
            spans.append(Span(passage.start + sentence.start, passage.start + sentence.end, sentence.text))
    return spans


def compose_answer(
    question: str, query_vector: np.ndarray, retrieved: Retrieved, embed: Embed, policy: AnswerPolicy
) -> Answer:
    """Choose the sentences that best answer the question, or abstain when the evidence is weak."""
    passages = retrieved.passages
    if not passages or max(retrieved.cosines.values()) < policy.min_score:
        return Answer(question=question, answer=NOT_FOUND, abstained=True, passages=tuple(passages))
    considered = passages[: policy.passages_considered]
    candidates = [(passage, span) for passage in considered for span in passage_sentences(passage)]
    if not candidates:
        return Answer(question=question, answer=NOT_FOUND, abstained=True, passages=tuple(passages))
    vectors = embed([span.text for _, span in candidates])
    terms = _terms(question)
    scored = [
        Candidate(passage, span, float(vector @ query_vector) + policy.lexical_weight * _coverage(terms, span.text))
        for (passage, span), vector in zip(candidates, vectors, strict=True)
    ]
    chosen = sorted(scored, key=lambda candidate: candidate.score, reverse=True)[: policy.max_sentences]
    chosen.sort(key=lambda c: (considered.index(c.passage), c.span.start))
    return _cited(question, chosen, passages)


def _cited(question: str, chosen: Sequence[Candidate], passages: Sequence[Passage]) -> Answer:
    """Number citations by first use, one per quoted sentence, and join the answer text."""
    citations: list[Citation] = []
    parts: list[str] = []
    for candidate in chosen:
        passage, span = candidate.passage, candidate.span
        number = len(citations) + 1
        citations.append(
            Citation(
                n=number, article_id=passage.article_id, title=passage.title, date=passage.date,
                source=passage.source, url=passage.url, chunk_id=passage.chunk_id, quote=span.text,
                start=span.start, end=span.end, score=round(candidate.score, 6),
            )
        )
        parts.append(f"{span.text} [{number}]")
    return Answer(
        question=question, answer=" ".join(parts), abstained=False, citations=tuple(citations), passages=tuple(passages)
    )


def _terms(text: str) -> set[str]:
    """Content words of a text, lower-cased."""
    return {term for term in _TERM.findall(text.lower()) if term not in STOPWORDS}


def _coverage(terms: set[str], sentence: str) -> float:
    """Share of the question's content words that the sentence contains."""
    return len(terms & _terms(sentence)) / len(terms) if terms else 0.0
