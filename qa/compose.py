"""How chosen sentences read as an answer: grouped by article (the best first, or the newest first when the question
asks for the latest), in each article's own order; a sentence that leans on the one before it ("He confirmed…",
"But…") names its referent in brackets ("He [Putin] confirmed…") when index time found who "he" is, or brings that
sentence along; a sentence that repeats one already chosen is left out."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace
from datetime import date

import numpy as np

from qa.evidence import Evidence, PreviousPassage, SentenceVectors, no_previous
from qa.terms import stemmed_terms

LEANING_PRONOUNS = frozenset({"he", "she", "it", "they", "his", "her", "its", "their", "him", "them"})
LEANING_WORDS = LEANING_PRONOUNS | frozenset(
    {"this", "that", "these", "those", "but", "however", "also", "meanwhile", "moreover", "still", "yet", "instead",
     "such", "then", "there", "thus", "therefore", "furthermore", "additionally", "nevertheless"}
)
_FIRST_WORD = re.compile(r"^\W*(\w+)")
_TIME_OPENING = re.compile(
    r"^\W*(?:this|that|these|those)\s+(?:morning|afternoon|evening|night|week|weekend|month|year|spring|summer|fall|"
    r"autumn|winter|season|time|past|coming|last|next|\d)",
    re.IGNORECASE,
)
_EXPLETIVE = re.compile(
    r"^\W*(?:there(?:'s|’s|\s+(?:is|are|was|were|has|have|had|will|may|might|could|would|remains?|seems?)\b)"
    r"|it(?:'s|’s|\s+(?:is|was|has\s+been|had\s+been|will\s+be|would\s+be|remains|seems|appears))\s+(?:\w+\s+){0,3}?(?:that|to|whether|how|why|when|if)\b)",
    re.IGNORECASE,
)
_LATEST = re.compile(r"\b(?:latest|newest|most\s+recent(?:ly)?|recently|lately)\b", re.IGNORECASE)
_REPEAT_OVERLAP = 0.7
_FIGURE = re.compile(r"\d[\d,]*(?:\.\d+)?")
_MAX_BROUGHT = 3


def first_word(text: str) -> str:
    """The sentence's first word, lower-cased ('' when it has none)."""
    match = _FIRST_WORD.match(text)
    return match.group(1).lower() if match else ""


def leans_on_previous(text: str) -> bool:
    """Whether a sentence opens with a pronoun or a connective that needs the sentence before it ("There is…" and
    "It was determined that…" do not: their 'there' and 'it' point at nothing; nor does "This fall…")."""
    return first_word(text) in LEANING_WORDS and not _EXPLETIVE.match(text) and not _TIME_OPENING.match(text)


def asks_for_latest(question: str) -> bool:
    """Whether the question asks for the newest news ('latest', 'most recent', 'recently')."""
    return bool(_LATEST.search(question))


def figures(text: str) -> frozenset[str]:
    """The numbers a sentence states ('5', '2,000', '3.5'), as written without thousands separators."""
    return frozenset(match.replace(",", "") for match in _FIGURE.findall(text))


def without_repeats(ranked: Sequence[Evidence], limit: int, floor: float) -> list[Evidence]:
    """The best sentence and the next best above the floor, up to limit, skipping any that mostly repeats (by stemmed
    words) one already taken. A sentence of another article that says the same with other figures ("5 died" against
    "7 died") is a disagreement, not a repeat: both are kept, each under its article's date."""
    chosen: list[Evidence] = []
    seen: list[tuple[set[str], Evidence]] = []
    for evidence in ranked:
        if len(chosen) == limit:
            break
        if chosen and evidence.score < floor:
            break
        words = stemmed_terms(evidence.span.text)
        if any(_repeats(words, evidence, other_words, other) for other_words, other in seen):
            continue
        chosen.append(evidence)
        seen.append((words, evidence))
    return chosen


def _repeats(words: set[str], evidence: Evidence, other_words: set[str], other: Evidence) -> bool:
    """Whether a sentence mostly says what another already chosen says, figures included."""
    if not words or not other_words or len(words & other_words) < _REPEAT_OVERLAP * min(len(words), len(other_words)):
        return False
    mine, theirs = figures(evidence.span.text), figures(other.span.text)
    disagree = evidence.passage.article_id != other.passage.article_id and bool(mine) and bool(theirs) and mine != theirs
    return not disagree


def arrange(
    chosen: Sequence[Evidence],
    query_vector: np.ndarray,
    sentence_vectors: SentenceVectors,
    newest_first: bool,
    previous_passage: PreviousPassage = no_previous,
) -> list[tuple[str, Evidence]]:
    """The chosen sentences as they will read: (text shown, evidence), grouped by article and in article order."""
    groups: dict[str, list[Evidence]] = {}
    for evidence in chosen:
        groups.setdefault(evidence.passage.article_id, []).append(evidence)
    order = list(groups)
    if newest_first:
        order.sort(key=lambda article_id: groups[article_id][0].passage.date or date.min, reverse=True)
    arranged: list[tuple[str, Evidence]] = []
    for article_id in order:
        members = sorted(groups[article_id], key=lambda evidence: evidence.span.start)
        arranged.extend(_readable(members, query_vector, sentence_vectors, previous_passage))
    return arranged


def _readable(
    members: list[Evidence], query_vector: np.ndarray, sentence_vectors: SentenceVectors, previous_passage: PreviousPassage
) -> list[tuple[str, Evidence]]:
    """One article's sentences; the first, when it leans on the sentence before, made readable on its own (its
    referent named, or up to three sentences before it brought along)."""
    first = members[0]
    text = first.span.text
    if not leans_on_previous(text):
        return [(evidence.span.text, evidence) for evidence in members]
    note = first.note
    if first_word(text) in LEANING_PRONOUNS and note and note.speaker and 0 <= note.speaker_start < first.span.start:
        named = re.sub(r"^(\W*\w+)", lambda match: f"{match.group(1)} [{note.speaker}]", text, count=1)
        return [(named, first), *((evidence.span.text, evidence) for evidence in members[1:])]
    shown: list[Evidence] = []
    leaning = first
    while len(shown) < _MAX_BROUGHT:  # a brought sentence that leans too brings the one before it
        before = _sentence_before(leaning, query_vector, sentence_vectors, previous_passage)
        if before is None or before.span.start in {evidence.span.start for evidence in members}:
            break
        shown.insert(0, before)
        if not leans_on_previous(before.span.text):
            break
        leaning = before
    return [(evidence.span.text, evidence) for evidence in [*shown, *members]]


def _sentence_before(
    evidence: Evidence, query_vector: np.ndarray, sentence_vectors: SentenceVectors, previous_passage: PreviousPassage
) -> Evidence | None:
    """The sentence just before this one in its article, as evidence of the same rank: from its own passage, or, at
    the passage's start, from the passage before it (None at the article's start)."""
    for passage in (evidence.passage, previous_passage(evidence.passage)):
        if passage is None:
            return None
        earlier = [(span, vector) for span, vector in sentence_vectors(passage) if span.end <= evidence.span.start]
        if earlier:
            span, vector = earlier[-1]
            similarity = float(vector @ query_vector)
            return replace(evidence, passage=passage, span=span, similarity=similarity, coverage=0.0, note=None)
    return None

