"""Keyword terms within a postings budget: the rarest first, so a keyword search stays cheap on huge indexes."""

from __future__ import annotations

import sqlite3

from index.stemming import thread_stemmer

POSTINGS_BUDGET = 5_000
_CACHE_LIMIT = 100_000


class TermFrequencies:
    """How many chunks contain each keyword term, read from one generation's FTS5 index and remembered."""

    def __init__(self, connection: sqlite3.Connection) -> None:
        connection.execute("CREATE VIRTUAL TABLE IF NOT EXISTS temp.chunk_vocab USING fts5vocab(main, chunk_terms, row)")
        self._connection = connection
        self._known: dict[str, int] = {}

    def of(self, words: list[str]) -> dict[str, int | None]:
        """Chunks containing each word as FTS5 indexes it (porter stems); None when the stem is not found as such."""
        stems = {word: stem for word, stem in zip(words, thread_stemmer("porter").stemWords(words), strict=True)}
        unknown = sorted({stem for stem in stems.values() if stem not in self._known})
        if unknown:
            if len(self._known) > _CACHE_LIMIT:
                self._known.clear()
            marks = ",".join("?" * len(unknown))
            found = dict(self._connection.execute(f"SELECT term, doc FROM temp.chunk_vocab WHERE term IN ({marks})", unknown))
            self._known.update({stem: int(found.get(stem, -1)) for stem in unknown})
        return {word: (None if self._known[stem] < 0 else self._known[stem]) for word, stem in stems.items()}


def affordable_terms(words: list[str], frequencies: dict[str, int | None], budget: int = POSTINGS_BUDGET) -> list[str]:
    """The words to search for: the rarest first while their postings fit the budget (always the rarest one);
    words whose frequency is unknown are kept, and words no chunk contains are dropped."""
    ranked = sorted((word for word in words if frequencies.get(word) != 0), key=lambda word: frequencies.get(word) or 0)
    chosen: list[str] = []
    spent = 0
    for word in ranked:
        cost = frequencies.get(word) or 0
        if chosen and spent + cost > budget:
            break
        chosen.append(word)
        spent += cost
    return chosen
