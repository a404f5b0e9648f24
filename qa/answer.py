"""Compose an extractive answer: the best supporting sentences, each with its [n] citation, or an abstention."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from index.store import IndexSnapshot
from index.text import Span, chunk_sentences
from qa.retrieve import Retrieved
from qa.terms import coverage, distinctive_coverage, stemmed_terms
from qa.types import Answer, Citation, Passage

NOT_FOUND = "The sources don't cover this: no passage in the indexed articles answers the question."

Embed = Callable[[Sequence[str]], np.ndarray]
SentenceVectors = Callable[[Passage], list[tuple[Span, np.ndarray]]]


@dataclass(frozen=True)
class AnswerPolicy:
    """How answers are chosen; the defaults are what `qa eval` measured (docs/benchmarks.md)."""

    max_sentences: int = 3
    min_confidence: float = 0.45
    lexical_weight: float = 0.8
    confidence_lexical_weight: float = 0.2
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
    coverage: float = 0.0


def passage_sentences(passage: Passage) -> list[Span]:
    """The sentences of a passage, with offsets into its article."""
    return [Span(passage.start + span.start, passage.start + span.end, span.text) for span in chunk_sentences(passage.text)]


def embedded_sentences(embed: Embed) -> SentenceVectors:
    """Sentence vectors computed on demand by an embedding function (for tests and for texts outside the index)."""

    def lookup(passage: Passage) -> list[tuple[Span, np.ndarray]]:
        spans = passage_sentences(passage)
        return list(zip(spans, embed([span.text for span in spans]), strict=True)) if spans else []

    return lookup


def confidence(retrieved: Retrieved, evidence: Sequence[Evidence] = (), lexical_weight: float = 0.2) -> float:
    """Best passage cosine, or best sentence cosine plus its weighted term coverage: raw similarities (unlike fused
    scores) are comparable across questions, and sentences make them comparable across chunk lengths."""
    sentences = (item.similarity + lexical_weight * item.coverage for item in evidence)
    return max([*retrieved.cosines.values(), *sentences], default=0.0)


def abstention(question: str, retrieved: Retrieved, score: float) -> Answer:
    """The answer given when the sources do not cover the question: no citations."""
    return Answer(
        question=question, answer=NOT_FOUND, abstained=True, passages=tuple(retrieved.passages), confidence=score
    )


def stored_sentences(snapshot: IndexSnapshot) -> SentenceVectors:
    """Sentence vectors computed at index time, read from the generation the passages were retrieved from."""

    def lookup(passage: Passage) -> list[tuple[Span, np.ndarray]]:
        ordinal = int(passage.chunk_id.rsplit("#", 1)[1])
        return [
            (Span(passage.start + start, passage.start + end, passage.text[start:end]), vector)
            for start, end, vector in snapshot.sentence_vectors(passage.article_id, ordinal)
        ]

    return lookup


def rank_evidence(
    question: str,
    query_vector: np.ndarray,
    passages: Sequence[Passage],
    sentence_vectors: SentenceVectors,
    policy: AnswerPolicy,
    asked: str | None = None,
) -> list[Evidence]:
    """Sentences of the top passages, best first: cosine to the question plus distinctive term coverage, minus a
    rank penalty. Each also records its coverage of the terms asked (a follow-up's own words, when it has any)."""
    seen: set[tuple[str, int, int]] = set()
    candidates: list[tuple[Passage, int, Span, np.ndarray]] = []
    for rank, passage in enumerate(passages[: policy.passages_considered]):
        for span, vector in sentence_vectors(passage):
            key = (passage.article_id, span.start, span.end)
            if key not in seen:
                seen.add(key)
                candidates.append((passage, rank, span, vector))
    terms = stemmed_terms(question)
    asked_terms = (stemmed_terms(asked) if asked else set()) or terms
    sentence_terms = [stemmed_terms(span.text) for _, _, span, _ in candidates]
    distinctive = distinctive_coverage(terms, sentence_terms)
    scored: list[Evidence] = []
    for (passage, rank, span, vector), words, weighted in zip(candidates, sentence_terms, distinctive, strict=True):
        similarity = float(vector @ query_vector)
        covered = coverage(asked_terms, words)
        score = similarity + policy.lexical_weight * weighted - policy.rank_penalty * rank
        scored.append(Evidence(passage, rank, span, score, similarity, covered))
    return sorted(scored, key=lambda evidence: evidence.score, reverse=True)


def supporting_sentence(
    claim_vector: np.ndarray, passage: Passage, rank: int, sentence_vectors: SentenceVectors
) -> Evidence | None:
    """The sentence of a passage closest in meaning to a claim (None when the passage has no sentence)."""
    candidates = sentence_vectors(passage)
    if not candidates:
        return None
    similarities = [float(vector @ claim_vector) for _, vector in candidates]
    best = int(np.argmax(similarities))
    return Evidence(passage, rank, candidates[best][0], similarities[best], similarities[best])


def compose_answer(
    question: str,
    query_vector: np.ndarray,
    retrieved: Retrieved,
    sentence_vectors: SentenceVectors,
    policy: AnswerPolicy,
    asked: str | None = None,
) -> Answer:
    """Choose the sentences that best answer the question (as resolved against the conversation), or abstain when
    the evidence for what was asked is weak."""
    ranked = rank_evidence(question, query_vector, retrieved.passages, sentence_vectors, policy, asked)
    score = confidence(retrieved, ranked, policy.confidence_lexical_weight)
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
