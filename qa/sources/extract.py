"""A fetched page's main text and metadata (title, author, date, canonical URL), extracted with trafilatura."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import date

import httpx
import trafilatura

from qa.errors import ArticleError

_ID_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_TRACKING = re.compile(r"^(utm_|fbclid$|gclid$|mc_cid$|mc_eid$|ocid$|cmpid$)")
_SLUG_CHARS = 160


@dataclass(frozen=True)
class Extracted:
    """What a page says of itself, and its main text (paragraphs separated by blank lines)."""

    text: str
    title: str
    author: str
    published: date | None
    canonical_url: str


def extract_page(html: str | bytes, url: str) -> Extracted:
    """The page's main text and metadata; ArticleError when it has no main text."""
    document = trafilatura.bare_extraction(html, url=url, with_metadata=True, include_comments=False, include_tables=False)
    text = str(getattr(document, "text", "") or "").strip() if document is not None else ""
    if not text:
        raise ArticleError(f"{url}: no article text found on the page")
    title = str(getattr(document, "title", "") or "").strip()
    lines = [line.strip() for line in text.split("\n") if line.strip()]
    if lines and title and lines[0] == title:  # trafilatura repeats the headline as the first line
        lines = lines[1:]
    if not lines:
        raise ArticleError(f"{url}: the page has a headline but no article text")
    return Extracted(
        text="\n\n".join(lines),
        title=title,
        author=str(getattr(document, "author", "") or "").strip(),
        published=_day(str(getattr(document, "date", "") or "")),
        canonical_url=canonical_url(str(getattr(document, "url", "") or ""), url),
    )


def canonical_url(declared: str, fetched: str) -> str:
    """The page's canonical URL without its fragment and tracking parameters: its own declaration when that is an
    http(s) URL on the same site (a page may not claim another site's article), else the URL it was fetched from."""
    origin = httpx.URL(fetched)
    try:
        candidate = origin.join(declared) if declared else origin
    except httpx.InvalidURL:
        candidate = origin
    if candidate.scheme not in ("http", "https") or _site(candidate) != _site(origin):
        candidate = origin
    kept = [(key, value) for key, value in candidate.params.multi_items() if not _TRACKING.match(key.lower())]
    return str(httpx.URL(candidate.copy_with(fragment=None, query=None), params=kept))


def _site(url: httpx.URL) -> str:
    """A URL's host without a leading www."""
    return (url.host or "").lower().removeprefix("www.")


def article_id_for(url: str) -> str:
    """A stable, readable article id from a canonical URL: host and path, and a short hash of the whole URL."""
    parsed = httpx.URL(url)
    host = (parsed.host or "").removeprefix("www.")
    readable = _ID_UNSAFE.sub("-", f"{host}{parsed.path}").strip("-.")[:_SLUG_CHARS].rstrip("-.")
    return f"{readable}-{hashlib.sha256(url.encode()).hexdigest()[:8]}"


def _day(value: str) -> date | None:
    """An ISO date trafilatura found, as a day."""
    try:
        return date.fromisoformat(value[:10]) if value else None
    except ValueError:
        return None
