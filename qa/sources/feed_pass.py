"""One pass over a feed: fetch it (conditionally), then each entry's page unless the feed carries its full text."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Collection
from dataclasses import replace

from index.articles import make_article, parse_html
from qa.errors import ArticleError, FeedError, FetchError, RobotsDisallowedError
from qa.sources.extract import Extracted, article_id_for, canonical_url, extract_page
from qa.sources.feeds import FULL_CONTENT_CHARS, FeedEntry, parse_feed
from qa.sources.fetch import Fetcher
from qa.sources.ingest import Pending
from qa.sources.registry import Document, Source, SourceRegistry
from qa.sources.report import PassReport


def read_feed(
    source: Source,
    registry: SourceRegistry,
    fetcher: Fetcher,
    report: PassReport,
    indexed: Callable[[Collection[str]], bool],
) -> tuple[list[Pending], Document | None]:
    """The articles a feed's new and changed entries hold, and the feed's own document to remember once they are
    written (None when the feed answered 304, or when an entry failed: the next pass reads the feed again and retries
    it). A failing entry is reported and skipped; a failing feed raises. When an article the feed gave is no longer
    indexed (`qa index` pruned it), the feed and its pages are fetched again without validators."""
    pruned = {document.location for document in registry.documents(source.name) if not indexed(document.article_ids)}
    known = registry.document(source.location) if not pruned else None
    fetched = fetcher.fetch(source.location, known and known.etag, known and known.last_modified)
    if fetched.not_modified:
        report.not_modified += 1
        return [], None
    report.fetched += 1
    feed = parse_feed(fetched.body, fetched.url)
    report.entries = len(feed.entries)
    pending: list[Pending] = []
    failed = False
    for entry in feed.entries:
        try:
            found = _entry_article(source, entry, registry, fetcher, report, entry.link in pruned)
        except RobotsDisallowedError as error:  # the site's wish, not a failure: not retried before robots.txt changes
            report.skipped.append(str(error))
            continue
        except (FetchError, ArticleError, FeedError) as error:
            report.errors.append(str(error))
            failed = True
            continue
        if found is not None:
            pending.append(found)
    if failed:
        return pending, None
    return pending, Document(source.location, source.name, fetched.etag, fetched.last_modified, _hash(fetched.body), time.time())


def _entry_article(
    source: Source,
    entry: FeedEntry,
    registry: SourceRegistry,
    fetcher: Fetcher,
    report: PassReport,
    pruned: bool,
) -> Pending | None:
    """The entry as an article, or None when its page answered 304 or holds what it held last time (and that is
    still indexed: a pruned one is fetched again without validators)."""
    known = None if pruned else registry.document(entry.link)
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
    document = Document(entry.link, source.name, etag, last_modified, _hash(body), time.time())
    if known is not None and known.body_hash == document.body_hash:
        registry.save_document(replace(document, placements=known.placements))  # new validators, same content
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


def _decoded(body: bytes, content_type: str) -> str | bytes:
    """A page's text in the charset its Content-Type names; without one, its bytes (trafilatura reads the page's
    own <meta charset>)."""
    charset = content_type.partition("charset=")[2].split(";")[0].strip().strip('"')
    if not charset:
        return body
    try:
        return body.decode(charset, "replace")
    except LookupError:
        return body


def _hash(body: bytes) -> str:
    """A short content hash."""
    return hashlib.sha256(body).hexdigest()
