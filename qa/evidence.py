"""A sentence as evidence for an answer, and the lookups that give sentences their vectors and index-time notes."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from index.speakers import SentenceNote
from index.text import Span
from qa.types import Passage

Embed = Callable[[Sequence[str]], np.ndarray]
SentenceVectors = Callable[[Passage], list[tuple[Span, np.ndarray]]]
SentenceNotes = Callable[[Passage], dict[int, SentenceNote]]
PreviousPassage = Callable[[Passage], Passage | None]


@dataclass(frozen=True)
class Evidence:
    """A sentence of a retrieved passage, with offsets into its article, its score and what index time noted on it."""

    passage: Passage
    rank: int
    span: Span
    score: float
    similarity: float
    coverage: float = 0.0
    note: SentenceNote | None = None


def no_notes(passage: Passage) -> dict[int, SentenceNote]:
    """The notes lookup for texts outside an index: none."""
    return {}


def no_previous(passage: Passage) -> Passage | None:
    """The previous-passage lookup for texts outside an index: none."""
    return None
