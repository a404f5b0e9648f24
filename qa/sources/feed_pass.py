"""One pass over a feed: fetch it (conditionally), then each entry's page unless the feed carries its full text."""

from __future__ import annotations

import hashlib
import time

from index.articles import make_article, parse_html
from qa.errors import ArticleError, FeedError, FetchError
from qa.sources.extract import Extracted, article_id_for, canonical_url, extract_page
from qa.sources.feeds import FULL_CONTENT_CHARS, FeedEntry, parse_feed
from qa.sources.fetch import Fetcher
from qa.sources.ingest import Pending
from qa.sources.registry import Document, Source, SourceRegistry
from qa.sources.report import PassReport


def read_feed(source: Source, registry: SourceRegistry, fetcher: Fetcher, report: PassReport) -> tuple[list[Pending], Document | None]:
    """The articles a feed's new and changed entries hold, and the feed's own document to remember once they are
    written (None when the feed answered 304). A failing entry is reported and skipped; a failing feed raises."""
    known = registry.document(source.location)
    fetched = fetcher.fetch(source.location, known and known.etag, known and known.last_modified)
    if fetched.not_modified:
        report.not_modified += 1
        return [], None
    report.fetched += 1
    feed = parse_feed(fetched.body, fetched.url)
    report.entries = len(feed.entries)
    pending: list[Pending] = []
    for entry in feed.entries:
        try:
            found = _entry_article(source, entry, registry, fetcher, report)
        except (FetchError, ArticleError, FeedError) as error:
            report.errors.append(str(error))
            continue
        if found is not None:
            pending.append(found)
    return pending, Document(source.location, source.name, fetched.etag, fetched.last_modified, _hash(fetched.body), (), time.time())


def _entry_article(
    source: Source, entry: FeedEntry, registry: SourceRegistry, fetcher: Fetcher, report: PassReport
) -> Pending | None:
    """The entry as an article, or None when its page answered 304 or holds what it held last time."""
    known = registry.document(entry.link)
    full = _feed_text(entry)
    if full is not None:
        body, etag, last_modified = full.text.encode(), None, None
        extracted = full
    else:
        fetched = fetcher.fetch(entry.link, known and known.etag, known and known.last_modified)
        if fetched.not_modified:
            report.not_modified += 1
            return None
        report.fetched += 1
        body, etag, last_modified = fetched.body, fetched.etag, fetched.last_modified
        extracted = extract_page(_decoded(fetched.body, fetched.content_type), fetched.url)
    document = Document(entry.link, source.name, etag, last_modified, _hash(body), known.article_ids if known else (), time.time())
    if known is not None and known.body_hash == document.body_hash:
        registry.save_document(document)  # new validators, same content
        return None
    url = extracted.canonical_url
    article = make_article(
        article_id_for(url), entry.title or extracted.title, extracted.text, source.name,
        entry.published or extracted.published, url=url,
    )
    return Pending(article, document)


def _feed_text(entry: FeedEntry) -> Extracted | None:
    """The entry's full text when the feed carries it (content:encoded or atom:content, not a teaser)."""
    if not entry.content_html:
        return None
    try:
        text = parse_html(entry.content_html, "entry", entry.link).text
    except ArticleError:
        return None
    if len(text) < FULL_CONTENT_CHARS:
        return None
    return Extracted(text, entry.title, entry.author, entry.published, canonical_url("", entry.link))


def _decoded(body: bytes, content_type: str) -> str:
    """A page's text in the charset its Content-Type names (UTF-8 otherwise, bad bytes replaced)."""
    charset = content_type.partition("charset=")[2].split(";")[0].strip().strip('"') or "utf-8"
    try:
        return body.decode(charset, "replace")
    except LookupError:
        return body.decode("utf-8", "replace")


def _hash(body: bytes) -> str:
    """A short content hash."""
    return hashlib.sha256(body).hexdigest()
