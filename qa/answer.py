"""Compose an extractive answer: the best supporting sentences, each with its [n] citation, or an abstention."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from index.text import Span, paragraphs, sentences
from qa.retrieve import Retrieved
from qa.terms import coverage, stemmed_terms
from qa.types import Answer, Citation, Passage

NOT_FOUND = "The sources don't cover this: no passage in the indexed articles answers the question."

Embed = Callable[[Sequence[str]], np.ndarray]


@dataclass(frozen=True)
class AnswerPolicy:
    """How answers are chosen; the defaults are what `qa eval` measured (docs/benchmarks.md)."""

    max_sentences: int = 3
    min_confidence: float = 0.45
    lexical_weight: float = 0.2
    rank_penalty: float = 0.05
    passages_considered: int = 3
    min_sentence_score: float = 0.3


@dataclass(frozen=True)
class Evidence:
    """A sentence of a retrieved passage, with offsets into its article and its score."""

    passage: Passage
    rank: int
    span: Span
    score: float
    similarity: float
    lexical: float = 0.0


def passage_sentences(passage: Passage) -> list[Span]:
    """The sentences of a passage, with offsets into its article."""
    spans: list[Span] = []
    for paragraph in paragraphs(passage.text):
        for sentence in sentences(passage.text, paragraph.start, paragraph.end):
            spans.append(Span(passage.start + sentence.start, passage.start + sentence.end, sentence.text))
    return spans


def confidence(retrieved: Retrieved, evidence: Sequence[Evidence] = ()) -> float:
    """Best passage cosine, or best sentence cosine plus its lexical coverage: raw similarities (unlike fused
    scores) are comparable across questions, and sentences make them comparable across chunk lengths."""
    return max([*retrieved.cosines.values(), *(item.similarity + item.lexical for item in evidence)], default=0.0)


def abstention(question: str, retrieved: Retrieved, score: float) -> Answer:
    """The answer given when the sources do not cover the question: no citations."""
    return Answer(
        question=question, answer=NOT_FOUND, abstained=True, passages=tuple(retrieved.passages), confidence=score
    )


def rank_evidence(
    question: str, query_vector: np.ndarray, passages: Sequence[Passage], embed: Embed, policy: AnswerPolicy
) -> list[Evidence]:
    """Sentences of the top passages, best first: cosine to the question plus lexical coverage, minus a rank penalty."""
    seen: set[tuple[str, int, int]] = set()
    candidates: list[tuple[Passage, int, Span]] = []
    for rank, passage in enumerate(passages[: policy.passages_considered]):
        for span in passage_sentences(passage):
            key = (passage.article_id, span.start, span.end)
            if key not in seen:
                seen.add(key)
                candidates.append((passage, rank, span))
    if not candidates:
        return []
    vectors = embed([span.text for _, _, span in candidates])
    terms = stemmed_terms(question)
    similarities = vectors @ query_vector
    lexical = [policy.lexical_weight * coverage(terms, span.text) for _, _, span in candidates]
    scored = [
        Evidence(passage, rank, span, float(similarity) + bonus - policy.rank_penalty * rank, float(similarity), bonus)
        for (passage, rank, span), similarity, bonus in zip(candidates, similarities, lexical, strict=True)
    ]
    return sorted(scored, key=lambda evidence: evidence.score, reverse=True)


def compose_answer(
    question: str, query_vector: np.ndarray, retrieved: Retrieved, embed: Embed, policy: AnswerPolicy
) -> Answer:
    """Choose the sentences that best answer the question, or abstain when the evidence is weak."""
    ranked = rank_evidence(question, query_vector, retrieved.passages, embed, policy)
    score = confidence(retrieved, ranked)
    if not ranked or score < policy.min_confidence:
        return abstention(question, retrieved, score)
    chosen = [ranked[0], *(item for item in ranked[1 : policy.max_sentences] if item.score >= policy.min_sentence_score)]
    return cite(question, [(evidence.span.text, evidence) for evidence in chosen], retrieved, score)


def cite(
    question: str, sentences_with_evidence: Sequence[tuple[str, Evidence]], retrieved: Retrieved, score: float, mode: str = "extractive"
) -> Answer:
    """Number citations by first use, one per passage; each quote spans exactly the supporting sentences."""
    groups: dict[str, list[Evidence]] = {}
    for _, evidence in sentences_with_evidence:
        groups.setdefault(evidence.passage.chunk_id, []).append(evidence)
    numbers = {chunk_id: number for number, chunk_id in enumerate(groups, start=1)}
    citations = tuple(_citation(numbers[chunk_id], members) for chunk_id, members in groups.items())
    text = " ".join(f"{sentence} [{numbers[evidence.passage.chunk_id]}]" for sentence, evidence in sentences_with_evidence)
    return Answer(
        question=question, answer=text, abstained=False, citations=citations, passages=tuple(retrieved.passages),
        confidence=score, mode=mode,
    )


def _citation(number: int, members: Sequence[Evidence]) -> Citation:
    """A citation whose quote runs from the first to the last supporting sentence of one passage."""
    passage = members[0].passage
    start = min(evidence.span.start for evidence in members)
    end = max(evidence.span.end for evidence in members)
    quote = passage.text[start - passage.start : end - passage.start]
    return Citation(
        n=number, article_id=passage.article_id, title=passage.title, date=passage.date, source=passage.source,
        url=passage.url, chunk_id=passage.chunk_id, quote=quote, start=start, end=end,
        score=round(max(evidence.score for evidence in members), 6),
    )
