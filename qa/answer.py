"""Compose an extractive answer: the best supporting sentences, each with its [n] citation, or an abstention."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from index.speakers import SentenceNote
from index.store import IndexSnapshot
from index.text import Span, chunk_sentences
from qa.abstain import AbstentionModel, evidence_features, expected_kinds
from qa.compose import arrange, asks_for_latest, without_repeats
from qa.evidence import Embed, Evidence, PreviousPassage, SentenceNotes, SentenceVectors, no_notes, no_previous
from qa.retrieve import Retrieved, to_passage
from qa.speaker_question import AskedSpeaker, asked_speaker, mentions, speaks_for
from qa.terms import coverage, distinctive_coverage, stemmed_terms
from qa.time_text import day_text
from qa.types import Answer, Citation, Passage, Speaker, TimeWindow

MIN_CROWD = 20  # candidate articles needed before standing out from them is evidence
MIN_TIME_BONUS = 0.2  # z units: a candidate within ~4 half-lives of the day asked about
NOT_FOUND = "The sources don't cover this: no passage in the indexed articles answers the question."


@dataclass(frozen=True)
class AnswerPolicy:
    """How answers are chosen; the defaults are what `qa eval` measured (docs/benchmarks.md)."""

    max_sentences: int = 3
    min_confidence: float = 0.3
    lexical_weight: float = 0.8
    confidence_lexical_weight: float = 0.2
    rank_penalty: float = 0.05
    passages_considered: int = 3
    min_sentence_score: float = 0.3
    max_score_drop: float = 1.0
    speaker_weight: float = 0.3
    type_weight: float = 0.3
    model: AbstentionModel | None = None


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


def stored_notes(snapshot: IndexSnapshot) -> SentenceNotes:
    """Index-time notes on a passage's sentences (speaker, kinds of names), by the sentence's start in the article."""

    def lookup(passage: Passage) -> dict[int, SentenceNote]:
        return {note.start: note for note in snapshot.sentence_notes(passage.article_id, passage.start, passage.end)}

    return lookup


def stored_previous(snapshot: IndexSnapshot) -> PreviousPassage:
    """The chunk before a passage in its article, read from the generation the passage was retrieved from."""

    def lookup(passage: Passage) -> Passage | None:
        ordinal = int(passage.chunk_id.rsplit("#", 1)[1])
        if ordinal == 0:
            return None
        before = next((row for row in snapshot.neighbours(passage.article_id, ordinal) if row.ordinal == ordinal - 1), None)
        return to_passage(before, passage.score) if before else None

    return lookup


def rank_evidence(
    question: str,
    query_vector: np.ndarray,
    passages: Sequence[Passage],
    sentence_vectors: SentenceVectors,
    policy: AnswerPolicy,
    asked: str | None = None,
    notes: SentenceNotes = no_notes,
    speaker: AskedSpeaker | None = None,
) -> list[Evidence]:
    """Sentences of the top passages, best first: cosine to the question plus distinctive term coverage, minus a
    rank penalty, plus a bonus for a statement by the speaker the question asks about and one for holding the kind of
    name the question wants (a person for 'who', a date for 'when', a number for 'how many'…). Each also records its
    coverage of the terms asked (a follow-up's own words, when it has any) and its index-time note."""
    seen: set[tuple[str, int, int]] = set()
    candidates: list[tuple[Passage, int, Span, np.ndarray, SentenceNote | None]] = []
    for rank, passage in enumerate(passages[: policy.passages_considered]):
        passage_notes = notes(passage)
        for span, vector in sentence_vectors(passage):
            key = (passage.article_id, span.start, span.end)
            if key not in seen:
                seen.add(key)
                candidates.append((passage, rank, span, vector, passage_notes.get(span.start)))
    terms = stemmed_terms(question)
    asked_terms = (stemmed_terms(asked) if asked else set()) or terms
    kinds = expected_kinds(asked or question) if policy.type_weight else None
    sentence_terms = [stemmed_terms(span.text) for _, _, span, _, _ in candidates]
    distinctive = distinctive_coverage(terms, sentence_terms)
    scored: list[Evidence] = []
    for (passage, rank, span, vector, note), words, weighted in zip(candidates, sentence_terms, distinctive, strict=True):
        similarity = float(vector @ query_vector)
        covered = coverage(asked_terms, words)
        score = similarity + policy.lexical_weight * weighted - policy.rank_penalty * rank
        if speaker is not None and speaks_for(speaker, note):
            score += policy.speaker_weight
        if kinds and note is not None and kinds & note.labels:
            score += policy.type_weight
        scored.append(Evidence(passage, rank, span, score, similarity, covered, note))
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
    notes: SentenceNotes = no_notes,
    window: TimeWindow | None = None,
    previous_passage: PreviousPassage = no_previous,
    previous_speaker: str = "",
) -> Answer:
    """Choose the sentences that best answer the question (as resolved against the conversation) and arrange them to
    read well (by article, in article order, referents named), or abstain when the evidence for what was asked is
    weak. A question about someone's words is answered from that speaker's statements and the sentences that name
    them, and refused when the passages neither quote nor mention them."""
    speaker = asked_speaker(asked or question, previous_speaker)
    ranked = rank_evidence(question, query_vector, retrieved.passages, sentence_vectors, policy, asked, notes, speaker)
    score, signals = answer_probability(asked or question, retrieved, ranked, policy, window, speaker)
    someone = speaker if speaker is not None and speaker.who and speaker.strict else None
    unmentioned = someone is not None and not mentions(someone, [passage.text for passage in retrieved.passages[: policy.passages_considered]])
    if not ranked or score < policy.min_confidence or unmentioned:  # weak evidence, or no word from or about them
        return replace(abstention(question, retrieved, score), signals=signals)
    if someone is not None:
        ranked = [  # their statements, and what the sources say of them
            evidence for evidence in ranked if speaks_for(someone, evidence.note) or mentions(someone, [evidence.span.text])
        ] or ranked
    floor = max(policy.min_sentence_score, ranked[0].score - policy.max_score_drop)
    chosen = without_repeats(ranked, policy.max_sentences, floor)
    arranged = arrange(chosen, query_vector, sentence_vectors, asks_for_latest(asked or question), previous_passage)
    return replace(cite(question, arranged, retrieved, score, label_articles=True), signals=signals)


def answer_probability(
    question: str,
    retrieved: Retrieved,
    ranked: Sequence[Evidence],
    policy: AnswerPolicy,
    window: TimeWindow | None = None,
    speaker: AskedSpeaker | None = None,
) -> tuple[float, dict[str, float]]:
    """How likely the evidence answers the question (the policy's model; without one, the raw-similarity confidence),
    and the signals it was read from."""
    signals = evidence_features(
        question, list(retrieved.cosines.values()), article_scores(retrieved), ranked, window, speaker, time_bonus_share(retrieved)
    )
    score = policy.model.probability(signals) if policy.model else confidence(retrieved, ranked, policy.confidence_lexical_weight)
    return score, signals


def time_bonus_share(retrieved: Retrieved) -> float:
    """The first article's time bonus as a share of the largest any candidate got: whether the best answer is as close
    to the period asked about (or the as-of day) as the closest candidates. NaN when no candidate is near it (no time
    preference, or a corpus that ends long before the as-of day), where time says nothing."""
    if not retrieved.passages or not retrieved.time_bonus:
        return math.nan
    largest = max(retrieved.time_bonus.values())
    if largest < MIN_TIME_BONUS:
        return math.nan
    return retrieved.time_bonus.get(retrieved.passages[0].article_id, 0.0) / largest


def article_scores(retrieved: Retrieved) -> list[float]:
    """How far each candidate article stands out from the others, before any time bonus, best first; none when there
    are too few candidates for that to mean anything (a small corpus)."""
    if len(retrieved.relevance) < MIN_CROWD:
        return []
    return sorted(retrieved.relevance.values(), reverse=True)


def cite(
    question: str,
    sentences_with_evidence: Sequence[tuple[str, Evidence]],
    retrieved: Retrieved,
    score: float,
    mode: str = "extractive",
    label_articles: bool = False,
) -> Answer:
    """Number citations by first use, one per passage; each quote runs from the first to the last supporting sentence
    of its passage. With
    label_articles, an answer drawn from several articles names each one and its date before its sentences."""
    groups: dict[str, list[Evidence]] = {}
    for _, evidence in sentences_with_evidence:
        groups.setdefault(evidence.passage.chunk_id, []).append(evidence)
    numbers = {chunk_id: number for number, chunk_id in enumerate(groups, start=1)}
    citations = tuple(_citation(numbers[chunk_id], members) for chunk_id, members in groups.items())
    several = label_articles and len({evidence.passage.article_id for _, evidence in sentences_with_evidence}) > 1
    pieces: list[str] = []
    previous_article = None
    for sentence, evidence in sentences_with_evidence:
        if several and evidence.passage.article_id != previous_article:
            pieces.append(f"{article_label(evidence.passage)}:")
            previous_article = evidence.passage.article_id
        pieces.append(f"{sentence} [{numbers[evidence.passage.chunk_id]}]")
    return Answer(
        question=question, answer=" ".join(pieces), abstained=False, citations=citations,
        passages=tuple(retrieved.passages), confidence=score, mode=mode,
    )


def article_label(passage: Passage) -> str:
    """'Title (7 March 2026)': which article (by its id when untitled), and when, a group of sentences comes from."""
    when = day_text(passage.date) if passage.date else "undated"
    return f"{passage.title or passage.article_id} ({when})"


def _citation(number: int, members: Sequence[Evidence]) -> Citation:
    """A citation whose quote runs from the first to the last supporting sentence of one passage, with the speaker
    of its first sentence when that sentence is a statement (never a narration's: the label must hold for what it
    opens)."""
    passage = members[0].passage
    start = min(evidence.span.start for evidence in members)
    end = max(evidence.span.end for evidence in members)
    quote = passage.text[start - passage.start : end - passage.start]
    opening = min(members, key=lambda item: item.span.start).note
    note = opening if opening is not None and opening.speaker else None
    speaker = Speaker(note.speaker, note.speaker_start, note.speaker_end, note.affiliation) if note else None
    return Citation(
        n=number, article_id=passage.article_id, title=passage.title, date=passage.date, source=passage.source,
        url=passage.url, chunk_id=passage.chunk_id, quote=quote, start=start, end=end,
        score=round(max(evidence.score for evidence in members), 6), speaker=speaker, outlets=passage.outlets,
    )
