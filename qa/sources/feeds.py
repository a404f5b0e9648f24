"""Read RSS 0.9x/1.0/2.0 and Atom feeds with feedparser; refuse entity declarations and malformed XML."""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date, datetime, timezone
from typing import Any
from xml.sax import SAXParseException

import feedparser
import httpx

from qa.errors import FeedError

_ENTITY_DECLARATION = re.compile(rb"<!ENTITY", re.IGNORECASE)
FULL_CONTENT_CHARS = 400  # content:encoded / atom:content shorter than this is a teaser, so the page is fetched


@dataclass(frozen=True)
class FeedEntry:
    """One item of a feed: its link, what the feed says of it, and its full content when the feed carries it."""

    link: str
    title: str
    author: str
    published: date | None
    updated: str
    content_html: str


@dataclass(frozen=True)
class Feed:
    """A parsed feed: its title and entries."""

    title: str
    entries: tuple[FeedEntry, ...]


def parse_feed(body: bytes, url: str) -> Feed:
    """A feed's title and entries with links (relative links resolved against the feed's URL)."""
    if _declares_entities(body):
        raise FeedError(
            f"{url}: the feed declares XML entities (a possible entity-expansion bomb) or is in an encoding that could "
            "hide them; refused"
        )
    parsed = feedparser.parse(body, response_headers={"content-location": url})
    problem = parsed.get("bozo_exception")
    if isinstance(problem, SAXParseException):
        raise FeedError(f"{url}: not well-formed XML (line {problem.getLineNumber()}, column {problem.getColumnNumber()}: {problem.getMessage()})")
    if parsed.get("version", "") == "":
        raise FeedError(f"{url}: not an RSS or Atom feed")
    base = httpx.URL(url)
    entries = tuple(entry for entry in (_entry(item, base) for item in parsed.entries) if entry is not None)
    return Feed(str(parsed.feed.get("title", "")).strip(), entries)


def _declares_entities(body: bytes) -> bool:
    """Whether the document declares an XML entity. UTF-16 and UTF-32 are decoded first; any other encoding must be
    ASCII-compatible, so the declaration's bytes are plain ASCII; a document that opens with neither `<` nor ASCII
    (EBCDIC, say, where they are not) is refused as if it declared one."""
    if body.startswith((b"\xff\xfe", b"\xfe\xff")) or b"\x00" in body[:4]:
        decoded = [_decode_or_none(body, encoding) for encoding in ("utf-32", "utf-16", "utf-32-be", "utf-16-be")]
        readable = [text for text in decoded if text is not None]
        return not readable or any("<!ENTITY" in text.upper() for text in readable)
    start = body.removeprefix(b"\xef\xbb\xbf").lstrip()
    hidden = bool(start) and not start.startswith(b"<") and not start[:64].isascii()
    return hidden or bool(_ENTITY_DECLARATION.search(body))


def _decode_or_none(body: bytes, encoding: str) -> str | None:
    """The body decoded, or None when it is not in that encoding."""
    try:
        return body.decode(encoding)
    except UnicodeDecodeError:
        return None


def _entry(item: Any, base: httpx.URL) -> FeedEntry | None:
    """A feed item with a link, or None when it has none."""
    link = str(item.get("link") or "").strip()
    if not link:
        return None
    contents = item.get("content") or []
    content_html = max((str(part.get("value", "")) for part in contents), key=len, default="")
    stamp = _field(item, "published_parsed") or _field(item, "updated_parsed")
    return FeedEntry(
        link=str(base.join(link)),
        title=str(item.get("title", "")).strip(),
        author=str(item.get("author", "")).strip(),
        published=_day(stamp),
        updated=str(_field(item, "updated") or _field(item, "published") or ""),
        content_html=content_html,
    )


def _field(item: Any, name: str) -> Any:
    """An entry's field, without feedparser's deprecated fallback from `updated` to `published`."""
    return item[name] if name in item else None


def _day(stamp: Any) -> date | None:
    """A feedparser UTC time tuple as a day."""
    if not stamp:
        return None
    return datetime.fromtimestamp(calendar.timegm(stamp), tz=timezone.utc).date()
