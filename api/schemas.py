"""Request and response bodies of the HTTP API: inputs are strict, outputs mirror qa.serialize."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from qa.types import SearchFilters

Question = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100_000)]
ConversationId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{1,64}$")]
ArticleId = Annotated[
    str, StringConstraints(pattern=r"^[A-Za-z0-9_](?:[A-Za-z0-9._-]{0,198}[A-Za-z0-9_])?$")
]
WebUrl = Annotated[str, StringConstraints(pattern=r"^https?://\S+$", max_length=2000)]


class Input(BaseModel):
    """A request body: unknown fields are an error, so typos do not pass silently."""

    model_config = ConfigDict(extra="forbid")


class FiltersIn(Input):
    """Only passages from articles dated in [since, until] and/or whose source or url contains one of sources."""

    since: dt.date | None = None
    until: dt.date | None = None
    sources: list[Annotated[str, StringConstraints(min_length=1, max_length=500)]] = Field(default=[], max_length=20)

    def to_filters(self) -> SearchFilters:
        """The library's filters."""
        return SearchFilters(self.since, self.until, tuple(self.sources))


class SearchIn(Input):
    """A question and how to retrieve for it."""

    question: Question = Field(examples=["what did Russia say about the GCC?"])
    k: int | None = Field(default=None, ge=1, le=100, description="Passages to retrieve (default QA_TOP_K).")
    filters: FiltersIn | None = None
    as_of: dt.date | None = Field(
        default=None,
        description="Ask as of this date: nothing published later is used, recent articles are preferred and relative "
        "words ('this week', 'on Monday') count from it. Default today (unless the server sets QA_AS_OF_TODAY=false).",
    )

    def search_filters(self) -> SearchFilters:
        """The library's filters, empty when none were given."""
        return self.filters.to_filters() if self.filters else SearchFilters()


class AskIn(SearchIn):
    """A question, optionally a follow-up in an earlier conversation."""

    conversation_id: ConversationId | None = Field(
        default=None, description="Continue this conversation; omit it to start a new one (its id comes back)."
    )


class OutletIn(Input):
    """Another outlet that published the same story."""

    source: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]
    url: WebUrl | None = None
    date: dt.date | None = None


class ArticleIn(Input):
    """An article to add or replace; its id is kept exactly as given."""

    id: ArticleId
    title: Annotated[str, StringConstraints(strip_whitespace=True, max_length=500)] = ""
    text: Annotated[str, StringConstraints(pattern=r"\S", max_length=5_000_000)] = Field(
        description="Plain text; it must not be blank."
    )
    date: dt.date | None = None
    url: WebUrl | None = None
    outlets: list[OutletIn] = Field(
        default=[], max_length=100, description="The other outlets that published the same story, besides this one."
    )


class ArticlesIn(Input):
    """One or more articles to add or replace."""

    articles: list[ArticleIn] = Field(min_length=1, max_length=100)

    @model_validator(mode="after")
    def _unique_ids(self) -> ArticlesIn:
        """Each id at most once in one request."""
        ids = [article.id for article in self.articles]
        repeated = sorted({article_id for article_id in ids if ids.count(article_id) > 1})
        if repeated:
            raise ValueError(f"article ids must be unique within a request; repeated: {', '.join(repeated)}")
        return self


class OutletOut(BaseModel):
    """Another outlet that published the same story."""

    source: str
    url: str | None = None
    date: dt.date | None = None


Outlets = Annotated[
    list[OutletOut], Field(default=[], description="The other outlets that published the same story, besides source.")
]


class SourceOut(BaseModel):
    """Where a span comes from: its article, that article's metadata and the chunk it lies in."""

    article_id: str
    title: str
    date: dt.date | None
    source: str
    url: str | None
    chunk_id: str
    outlets: Outlets


class SpeakerOut(BaseModel):
    """Who the cited sentences quote: article.text[start:end] is where the article names them."""

    name: str = Field(description="The speaker as the article names them, e.g. 'Putin', 'Russia’s Foreign Ministry'.")
    start: int
    end: int
    affiliation: str = Field(description="The country they speak for ('' when the article does not say).")


class CitationOut(SourceOut):
    """A numbered reference `[n]`: article.text[start:end] == quote."""

    n: int
    quote: str
    start: int
    end: int
    score: float
    speaker: SpeakerOut | None = Field(description="Who the quote reports, when it is an attributed statement.")


class PassageOut(SourceOut):
    """A retrieved passage: article.text[start:end] == text."""

    heading: str
    text: str
    start: int
    end: int
    score: float


class TimeWindowOut(BaseModel):
    """The period the question named, as searched: articles inside it are strongly preferred."""

    since: dt.date | None = Field(description="First day of the period (null: open).")
    until: dt.date | None = Field(description="Last day of the period (null: open).")
    phrase: str = Field(description="The question's words it was read from, e.g. 'this week', 'in mid-May 2022'.")
    label: str = Field(description="What to show a reader, e.g. 'Searched articles from 12–18 May 2022'.")


class AnswerOut(BaseModel):
    """A grounded answer, the same shape as `qa ask --json` (qa.serialize.answer_to_dict)."""

    question: str
    answer: str
    abstained: bool = Field(description="True when the sources do not cover the question; no citations then.")
    resolved_question: str = Field(description="The question as searched, with context carried from earlier turns.")
    conversation_id: str | None
    confidence: float = Field(description="Evidence score compared with QA_MIN_CONFIDENCE to decide abstention.")
    mode: str = Field(description="'extractive', or 'generative' when an answer model wrote the sentences.")
    citations: list[CitationOut]
    passages: list[PassageOut]
    time_window: TimeWindowOut | None = Field(description="The period the question named; null when it named none.")
    time_note: str = Field(description="Set when no article found is from that period: says so, with the closest dates.")


class SearchOut(BaseModel):
    """The best passages for a question, the same shape as `qa search --json`."""

    question: str
    passages: list[PassageOut]
    time_window: TimeWindowOut | None = Field(description="The period the question named; null when it named none.")
    time_note: str = Field(description="Set when no passage is from that period: says so, with the closest dates.")


class ArticleSummaryOut(BaseModel):
    """An article's metadata."""

    id: str
    title: str
    source: str
    date: dt.date | None
    url: str | None
    outlets: Outlets
    content_hash: str


class ArticleOut(ArticleSummaryOut):
    """An article with the text every citation's offsets point into (code points)."""

    text: str


class ArticlePageOut(BaseModel):
    """One page of articles, newest first."""

    articles: list[ArticleSummaryOut]
    total: int
    limit: int
    offset: int
    next_offset: int | None = Field(description="Offset of the next page, or null on the last one.")


class IndexChangeOut(BaseModel):
    """What a write changed in the index."""

    added: int
    updated: int
    removed: int
    unchanged: int
    chunks: int
    embedded: int
    seconds: float
    bytes_written: int | None = Field(description="Bytes the server wrote to storage for this write (/proc/self/io); null where unknown.")
    generation: int = Field(description="Number of the index's last committed write.")
    segments: int = Field(description="Vector segments live after the write (merged in the background).")
    tombstones: int = Field(description="Deleted or replaced chunks a segment still holds until compaction purges them.")


class ArticlesWrittenOut(BaseModel):
    """The ids written; they are searchable now."""

    ids: list[str]
    index: IndexChangeOut


class ArticleDeletedOut(BaseModel):
    """The id deleted; it is never cited again."""

    id: str
    index: IndexChangeOut


class HealthOut(BaseModel):
    """The process is up."""

    status: str = "ok"


class ReadyOut(BaseModel):
    """The model and index are loaded."""

    status: str = "ready"
    model: str
    articles: int
    chunks: int
    vector_store: str = Field(default="faiss", description="Where chunk vectors are searched: faiss or milvus.")


class ErrorBody(BaseModel):
    """What went wrong: a stable code, a message saying what to do, and details (e.g. pydantic's errors)."""

    code: str = Field(examples=["invalid_request"])
    message: str
    detail: Any = None


class ErrorOut(BaseModel):
    """The one error shape of every error response."""

    error: ErrorBody


class FollowedSourceOut(BaseModel):
    """A followed feed or folder: when it was last fetched and is next due, its articles, counts and last error."""

    name: str
    kind: Literal["feed", "folder"]
    location: str
    every_seconds: float
    last_fetch: dt.datetime | None = Field(description="The last pass over the source (UTC); null when never.")
    next_fetch: dt.datetime | None = Field(description="When a feed is next due (UTC; folders follow their files' changes).")
    articles: int = Field(description="Articles the source gave that are indexed (a wire story counts for each outlet).")
    fetches: int
    not_modified: int = Field(description="Requests the source's server answered 304 Not Modified.")
    errors: int
    last_error: str = Field(description="What went wrong in the last pass; empty when it went well.")


class SourcesOut(BaseModel):
    """Every followed source, and whether this server keeps them indexed (`qa serve --watch`)."""

    watching: bool
    sources: list[FollowedSourceOut]
