"""Content terms of a text, stemmed, for lexical evidence (query-term coverage)."""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence

from index.stemming import thread_stemmer
from index.stopwords import STOPWORDS

_TERM = re.compile(r"\w+")


def stemmed_terms(text: str) -> set[str]:
    """Stemmed content words of a text, lower-cased, stop words removed."""
    words = [word for word in _TERM.findall(text.lower()) if word not in STOPWORDS]
    return set(thread_stemmer("english").stemWords(words))


def coverage(question_terms: set[str], text_terms: set[str]) -> float:
    """Share of the question's stemmed content words that a text's stemmed terms contain."""
    return len(question_terms & text_terms) / len(question_terms) if question_terms else 0.0


def distinctive_coverage(question_terms: set[str], candidates: Sequence[set[str]]) -> list[float]:
    """Each candidate's share of the question's terms, weighted by how rare each term is among the candidates, so a
    term every candidate contains (the article's subject, say) decides less than one only a few contain."""
    if not question_terms:
        return [0.0] * len(candidates)
    frequency = Counter(term for terms in candidates for term in terms & question_terms)
    weights = {term: math.log(1 + len(candidates) / (frequency[term] + 1)) for term in question_terms}
    total = sum(weights.values())
    return [sum(weights[term] for term in terms & question_terms) / total for terms in candidates]
