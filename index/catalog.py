"""Which article each chunk belongs to, with the article fields that filters test, held in memory for one
generation: a filtered search tests a few arrays instead of joining every chunk in SQLite."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

import numpy as np

from qa.types import SearchFilters

_UNDATED = -1


@dataclass(frozen=True)
class ChunkOwner:
    """The article a chunk belongs to, and its date."""

    article_id: str
    date: date | None


class ChunkCatalog:
    """Chunk row id → article, and each article's day, source and url, read once from a generation's database."""

    def __init__(self, connection: sqlite3.Connection) -> None:
        articles = connection.execute("SELECT id, date, source, coalesce(url, '') FROM articles").fetchall()
        self._ids = [str(row[0]) for row in articles]
        self._position = {article_id: number for number, article_id in enumerate(self._ids)}
        self._days = np.array([date.fromisoformat(row[1]).toordinal() if row[1] else _UNDATED for row in articles], dtype=np.int64)
        self._sources = [str(row[2]).lower() for row in articles]
        self._urls = [str(row[3]).lower() for row in articles]
        chunks = connection.execute("SELECT rowid, article_id FROM chunks").fetchall()
        rowids = np.fromiter((row[0] for row in chunks), dtype=np.int64, count=len(chunks))
        self._article_of = np.full(int(rowids.max(initial=0)) + 1, -1, dtype=np.int64)
        self._article_of[rowids] = np.fromiter((self._position[row[1]] for row in chunks), dtype=np.int64, count=len(chunks))

    def owners(self, rowids: Iterable[int]) -> dict[int, ChunkOwner]:
        """The article (id and date) of each of these chunks that this generation holds."""
        owners: dict[int, ChunkOwner] = {}
        for rowid in rowids:
            number = int(self._article_of[rowid]) if 0 <= rowid < len(self._article_of) else -1
            if number >= 0:
                day = int(self._days[number])
                owners[rowid] = ChunkOwner(self._ids[number], date.fromordinal(day) if day != _UNDATED else None)
        return owners

    def allowed_articles(self, filters: SearchFilters) -> np.ndarray | None:
        """Which articles pass the filters (a mask in catalog order), or None when all of them do."""
        passing = np.ones(len(self._ids), dtype=bool)
        if filters.since or filters.until:
            dated = self._days != _UNDATED
            since = filters.since.toordinal() if filters.since else -np.inf
            until = filters.until.toordinal() if filters.until else np.inf
            passing &= dated & (self._days >= since) & (self._days <= until)
        if filters.as_of:
            passing &= (self._days == _UNDATED) | (self._days <= filters.as_of.toordinal())
        if filters.sources:
            needles = [source.lower() for source in filters.sources]
            passing &= np.array(
                [any(needle in source or needle in url for needle in needles) for source, url in zip(self._sources, self._urls, strict=True)],
                dtype=bool,
            )
        excluded = [self._position[article_id] for article_id in filters.exclude_articles if article_id in self._position]
        passing[excluded] = False
        return None if passing.all() else passing

    def article_ids(self, mask: np.ndarray) -> tuple[str, ...]:
        """The ids of the articles a mask selects."""
        return tuple(self._ids[number] for number in np.flatnonzero(mask))

    def live_chunks(self) -> np.ndarray:
        """A mask over chunk row ids, True where a stored chunk has that id."""
        return self._article_of >= 0

    def allowed_chunks(self, filters: SearchFilters) -> np.ndarray | None:
        """A mask over chunk row ids (True where the chunk's article passes), or None when every article passes."""
        articles = self.allowed_articles(filters)
        if articles is None:
            return None
        known = self._article_of >= 0
        allowed = np.zeros(len(self._article_of), dtype=bool)
        allowed[known] = articles[self._article_of[known]]
        return allowed
