"""The data model shared by the index, the service and every front end."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date


@dataclass(frozen=True)
class Outlet:
    """Another outlet that published the same story."""

    source: str
    url: str | None = None
    date: date | None = None


def also_published(outlets: Sequence[Outlet], show: Callable[[Outlet], str], most: int | None = None) -> str:
    """'also published by: AP (https://…), BBC', each outlet as `show` writes it, the first `most` of them named and
    the rest counted ('and 3 more'); '' when there are none."""
    if not outlets:
        return ""
    named = [show(outlet) for outlet in outlets[:most]]
    more = f" and {len(outlets) - len(named)} more" if len(outlets) > len(named) else ""
    return f"also published by: {', '.join(named)}{more}"


@dataclass(frozen=True)
class Article:
    """A source article, normalised: its text is what every offset points into."""

    id: str
    title: str
    text: str
    source: str
    date: date | None = None
    url: str | None = None
    outlets: tuple[Outlet, ...] = ()  # the other outlets that published it, besides `source`
    content_hash: str = ""


@dataclass(frozen=True)
class Chunk:
    """A passage of an article: `article.text[start:end] == text`."""

    article_id: str
    ordinal: int
    start: int
    end: int
    text: str
    heading: str = ""

    @property
    def id(self) -> str:
        """Stable chunk id derived from its article and position."""
        return f"{self.article_id}#{self.ordinal}"


@dataclass(frozen=True)
class SearchFilters:
    """Restrict retrieval to a date range and/or to some sources. since/until keep only dated articles in the range;
    as_of only leaves out articles dated after it (an undated article may be from any day, so it stays)."""

    since: date | None = None
    until: date | None = None
    sources: tuple[str, ...] = ()
    exclude_articles: tuple[str, ...] = ()
    as_of: date | None = None


@dataclass(frozen=True)
class Passage:
    """A retrieved chunk with its article metadata and score."""

    article_id: str
    title: str
    date: date | None
    source: str
    url: str | None
    chunk_id: str
    heading: str
    text: str
    start: int
    end: int
    score: float
    outlets: tuple[Outlet, ...] = ()


@dataclass(frozen=True)
class Speaker:
    """Who a cited sentence quotes: the name as shown, where the article names them, the country they speak for."""

    name: str
    start: int
    end: int
    affiliation: str = ""

    @property
    def label(self) -> str:
        """'Putin (Russia)', or just the name when the country is unknown or already in it."""
        if not self.affiliation or self.affiliation.lower() in self.name.lower():
            return self.name
        return f"{self.name} ({self.affiliation})"


@dataclass(frozen=True)
class Citation:
    """A numbered reference `[n]` to the exact quoted span of an article."""

    n: int
    article_id: str
    title: str
    date: date | None
    source: str
    url: str | None
    chunk_id: str
    quote: str
    start: int
    end: int
    score: float
    speaker: Speaker | None = None
    outlets: tuple[Outlet, ...] = ()


@dataclass(frozen=True)
class TimeWindow:
    """The days a question asks about (either end may be open) and the words it named them with."""

    since: date | None
    until: date | None
    phrase: str

    def distance(self, day: date) -> int:
        """Days between a day and the window: 0 inside it (open ends included)."""
        if self.since and day < self.since:
            return (self.since - day).days
        if self.until and day > self.until:
            return (day - self.until).days
        return 0


@dataclass(frozen=True)
class Answer:
    """A grounded answer: text with `[n]` markers, its citations and the passages it drew on."""

    question: str
    answer: str
    abstained: bool
    citations: tuple[Citation, ...] = ()
    passages: tuple[Passage, ...] = ()
    resolved_question: str = ""
    conversation_id: str | None = None
    confidence: float = 0.0
    mode: str = "extractive"
    time_window: TimeWindow | None = None
    time_note: str = ""
    signals: dict[str, float] = field(default_factory=dict, compare=False)


@dataclass(frozen=True)
class Found:
    """Search results with the period searched and, when none of them is from it, the note that says so."""

    passages: list[Passage]
    time_window: TimeWindow | None = None
    time_note: str = ""
    signals: dict[str, float] = field(default_factory=dict, compare=False)
