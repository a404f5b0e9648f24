"""Which article each chunk belongs to, with the article fields that filters test, held in memory for one state of
the index: a filtered search tests a few arrays instead of joining every chunk in SQLite."""

from __future__ import annotations

import copy
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date

import numpy as np

from index.database import in_batches
from qa.types import SearchFilters

_UNDATED = -1
_ARTICLE_FIELDS = "SELECT id, date, source, coalesce(url, ''), {others} FROM articles"
_OUTLET_FIELDS = (  # each article's other outlets' sources and urls, one a line
    "coalesce((SELECT group_concat(source, char(10)) FROM article_outlets WHERE article_id = articles.id), ''), "
    "coalesce((SELECT group_concat(url, char(10)) FROM article_outlets WHERE article_id = articles.id), '')"
)


@dataclass(frozen=True)
class ChunkOwner:
    """The article a chunk belongs to, and its date."""

    article_id: str
    date: date | None


class ChunkCatalog:
    """Chunk row id → article, and each article's day, sources and urls (its own and its other outlets', one a line),
    read from one state's database; a later state's catalog is this one brought up to date with the articles changed
    in between (their old slots are marked gone, their current rows appended), so a reader does not read every chunk
    again after each write. With outlets False the database has no outlets to read (or no table for them)."""

    def __init__(self, connection: sqlite3.Connection, outlets: bool = False) -> None:
        self._ids: list[str] = []
        self._position: dict[str, int] = {}
        self._days = np.zeros(0, dtype=np.int64)
        self._alive = np.zeros(0, dtype=bool)
        self._sources: list[str] = []
        self._urls: list[str] = []
        self._article_of = np.full(1, -1, dtype=np.int64)
        self._add_articles(connection.execute(_article_fields(outlets)).fetchall())
        self._map_chunks(connection.execute("SELECT rowid, article_id FROM chunks").fetchall())

    def updated(self, connection: sqlite3.Connection, changed: Sequence[str], outlets: bool = False) -> ChunkCatalog:
        """A copy brought up to date with these articles (added, replaced or deleted since this catalog was read),
        read through the connection; this catalog stays as it was (older readers may still use it)."""
        new = copy.copy(self)
        new._ids, new._sources, new._urls = list(self._ids), list(self._sources), list(self._urls)
        new._position, new._alive, new._article_of = dict(self._position), self._alive.copy(), self._article_of.copy()
        gone = [new._position.pop(article_id) for article_id in changed if article_id in new._position]
        if gone:
            new._alive[gone] = False
            new._article_of[np.isin(new._article_of, gone)] = -1
        for batch, marks in in_batches(changed):
            new._add_articles(connection.execute(f"{_article_fields(outlets)} WHERE id IN ({marks})", batch).fetchall())
            new._map_chunks(connection.execute(f"SELECT rowid, article_id FROM chunks WHERE article_id IN ({marks})", batch).fetchall())
        return new

    @property
    def gone_share(self) -> float:
        """The share of slots held by articles since deleted or replaced."""
        return 1.0 - float(self._alive.mean()) if len(self._alive) else 0.0

    def _add_articles(self, rows: list[tuple[str, str | None, str, str, str, str]]) -> None:
        """Append articles' slots."""
        first = len(self._ids)
        self._ids += [str(row[0]) for row in rows]
        self._position.update((str(row[0]), first + number) for number, row in enumerate(rows))
        days = [date.fromisoformat(row[1]).toordinal() if row[1] else _UNDATED for row in rows]
        self._days = np.concatenate([self._days, np.array(days, dtype=np.int64)])
        self._alive = np.concatenate([self._alive, np.ones(len(rows), dtype=bool)])
        self._sources += [_lines(row[2], row[4]) for row in rows]
        self._urls += [_lines(row[3], row[5]) for row in rows]

    def _map_chunks(self, rows: list[tuple[int, str]]) -> None:
        """Point chunks at their articles' slots."""
        if not rows:
            return
        rowids = np.fromiter((row[0] for row in rows), dtype=np.int64, count=len(rows))
        if int(rowids.max()) >= len(self._article_of):
            grown = np.full(int(rowids.max()) + 1, -1, dtype=np.int64)
            grown[: len(self._article_of)] = self._article_of
            self._article_of = grown
        self._article_of[rowids] = np.fromiter((self._position[row[1]] for row in rows), dtype=np.int64, count=len(rows))

    def owners(self, rowids: Iterable[int]) -> dict[int, ChunkOwner]:
        """The article (id and date) of each of these chunks that this generation holds."""
        owners: dict[int, ChunkOwner] = {}
        for rowid in rowids:
            number = int(self._article_of[rowid]) if 0 <= rowid < len(self._article_of) else -1
            if number >= 0:
                day = int(self._days[number])
                owners[rowid] = ChunkOwner(self._ids[number], date.fromordinal(day) if day != _UNDATED else None)
        return owners

    def chunk_articles(self, rowids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Each chunk's article slot (-1 where this state holds no such chunk) and that article's day as an ordinal
        (-1 when undated or unknown), as arrays."""
        rowids = np.asarray(rowids, dtype=np.int64)
        slots = np.full(len(rowids), -1, dtype=np.int64)
        inside = (rowids >= 0) & (rowids < len(self._article_of))
        slots[inside] = self._article_of[rowids[inside]]
        days = np.full(len(rowids), _UNDATED, dtype=np.int64)
        known = slots >= 0
        days[known] = self._days[slots[known]]
        return slots, days

    def slot_ids(self, slots: np.ndarray) -> list[str]:
        """The ids of the articles in these slots."""
        return [self._ids[slot] for slot in slots.tolist()]

    def allowed_articles(self, filters: SearchFilters) -> np.ndarray | None:
        """Which articles pass the filters (a mask in catalog order), or None when all of them do."""
        passing = self._alive.copy()
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
        return None if passing[self._alive].all() else passing

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


def _article_fields(outlets: bool) -> str:
    """The query for articles' catalog fields: id, date, source, url, other outlets' sources and urls."""
    return _ARTICLE_FIELDS.format(others=_OUTLET_FIELDS if outlets else "'', ''")


def _lines(own: str, others: str) -> str:
    """An article's own value and its other outlets' (one a line), lower-cased for substring tests."""
    return f"{own}\n{others}".lower() if others else str(own).lower()
