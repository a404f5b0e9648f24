"""parse_feed on every feed dialect feedparser reads, and on hostile or broken XML."""

from __future__ import annotations

import pytest

from qa.errors import FeedError
from qa.sources.feeds import parse_feed
from tests.test_sources_feeds import BILLION_LAUGHS

RSS_091 = b"""<?xml version="1.0"?><rss version="0.91"><channel><title>Old School</title><link>http://news.example/</link>
<description>d</description><item><title>Mill closes</title><link>http://news.example/mill</link></item></channel></rss>"""
RSS_10 = b"""<?xml version="1.0"?><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns="http://purl.org/rss/1.0/"
xmlns:dc="http://purl.org/dc/elements/1.1/"><channel rdf:about="http://news.example/"><title>RDF News</title></channel>
<item rdf:about="http://news.example/dam"><title>Dam opens</title><link>http://news.example/dam</link>
<dc:date>2026-11-27T08:00:00Z</dc:date><dc:creator>Ana Ruiz</dc:creator></item></rdf:RDF>"""
ATOM_RELATIVE = b"""<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom" xml:base="http://news.example/">
<title>Atom News</title><entry><title>Rail strike ends</title><link rel="alternate" href="/rail"/><updated>2026-11-25T18:30:00+02:00</updated>
<author><name>Lee Park</name></author></entry><entry><title>No link at all</title></entry></feed>"""


def test_rss_091_rss_10_and_atom_entries_with_dates_authors_and_resolved_links() -> None:
    assert [entry.link for entry in parse_feed(RSS_091, "http://news.example/rss").entries] == ["http://news.example/mill"]
    rdf = parse_feed(RSS_10, "http://news.example/rdf")
    assert rdf.title == "RDF News"
    assert (rdf.entries[0].link, rdf.entries[0].published.isoformat(), rdf.entries[0].author) == (  # type: ignore[union-attr]
        "http://news.example/dam", "2026-11-27", "Ana Ruiz"
    )
    atom = parse_feed(ATOM_RELATIVE, "http://news.example/atom")
    assert [(entry.link, entry.published.isoformat()) for entry in atom.entries] == [  # type: ignore[union-attr]
        ("http://news.example/rail", "2026-11-25")  # the entry without a link is skipped; 18:30+02:00 is 16:30 UTC
    ]


@pytest.mark.parametrize("encoding", ["utf-8", "utf-16", "utf-16-be", "utf-32"])
def test_entity_declarations_are_refused_in_any_encoding(encoding: str) -> None:
    declared = '<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY a "boom">]><rss version="2.0"><channel><title>&a;</title></channel></rss>'
    with pytest.raises(FeedError, match="entities"):
        parse_feed(declared.encode(encoding), "http://news.example/feed")


def test_billion_laughs_external_entities_broken_xml_and_non_feeds_are_refused() -> None:
    external = b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><rss version="2.0"><channel><title>&x;</title></channel></rss>'
    for body, reason in [
        (BILLION_LAUGHS, "entities"), (external, "entities"), (b"<rss version='2.0'><channel><title>x</channel>", "not well-formed"),
        (b"<html><body>Moved</body></html>", "not an RSS or Atom feed"), (b"", "not an RSS or Atom feed"),
        (b'{"items": []}', "not well-formed"),
    ]:
        with pytest.raises(FeedError, match=reason):
            parse_feed(body, "http://news.example/feed")


@pytest.mark.parametrize("encoding", ["cp037", "cp500"])
def test_an_ebcdic_feed_that_could_hide_a_declaration_is_refused(encoding: str) -> None:
    declared = f'<?xml version="1.0" encoding="{encoding}"?><!DOCTYPE rss [<!ENTITY a "boom">]><rss version="2.0"><channel><title>&a;</title></channel></rss>'
    with pytest.raises(FeedError, match="entities"):
        parse_feed(declared.encode(encoding), "http://news.example/feed")


def test_a_latin_1_feed_is_read() -> None:
    feed = '<?xml version="1.0" encoding="iso-8859-1"?><rss version="2.0"><channel><title>Café</title><item><title>Été</title><link>http://news.example/ete</link></item></channel></rss>'
    parsed = parse_feed(feed.encode("iso-8859-1"), "http://news.example/feed")
    assert (parsed.title, parsed.entries[0].title) == ("Café", "Été")
