"""Extractive answer composition with controlled vectors."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from qa.answer import AnswerPolicy, compose_answer, embedded_sentences
from qa.retrieve import Retrieved
from qa.types import Passage

TEXT = "Alpha beta rose. Gamma delta fell."
PASSAGE = Passage("a", "A", None, "a.txt", None, "a#0", "", TEXT, 10, 10 + len(TEXT), 1.0)


def _embed(texts: Sequence[str]) -> np.ndarray:
    """'Alpha' sentences point one way, everything else the other."""
    return np.array([[1.0, 0.0] if "Alpha" in text else [0.0, 1.0] for text in texts], dtype=np.float32)


def test_weak_sentences_are_not_cited() -> None:
    answer = compose_answer("alpha", np.array([1.0, 0.0]), Retrieved([PASSAGE], {"a#0": 0.9}), embedded_sentences(_embed), AnswerPolicy())
    assert answer.answer == "Alpha beta rose. [1]"
    assert (answer.citations[0].start, answer.citations[0].end) == (10, 26)


def test_with_no_floor_both_sentences_share_one_citation() -> None:
    policy = AnswerPolicy(min_sentence_score=-1.0, max_score_drop=10.0)
    answer = compose_answer("alpha", np.array([1.0, 0.0]), Retrieved([PASSAGE], {"a#0": 0.9}), embedded_sentences(_embed), policy)
    assert answer.answer == "Alpha beta rose. [1] Gamma delta fell. [1]"
    assert len(answer.citations) == 1 and answer.citations[0].quote == TEXT


def test_weak_evidence_abstains() -> None:
    answer = compose_answer("zeta", np.array([0.0, 0.0]), Retrieved([PASSAGE], {"a#0": 0.1}), embedded_sentences(_embed), AnswerPolicy())
    assert answer.abstained and answer.citations == ()
