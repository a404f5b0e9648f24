"""Feeds end to end over a loopback HTTP server: RSS 2.0, Atom, broken and hostile feeds, limits, the private-address
guard, conditional GET, updated pages and a wire story republished by three outlets."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from qa.errors import FetchError, FetchRefusedError
from qa.service import QAService
from qa.sources.fetch import Fetcher, FetchPolicy
from qa.sources.guard import AddressGuard
from qa.sources.registry import SourceRegistry
from qa.sources.watcher import Watcher
from qa.types import SearchFilters
from tests.feed_server import FeedServer, RecordingTransport, Route, atom, page, rss

HARBOUR = [
    "The port authority of Valdena said on Monday that its new deep-water container terminal would open in April, "
    "doubling the harbour's capacity to four million containers a year.",
    "Harbour master Ilse Brandt told reporters that dredging of the approach channel had finished two weeks ahead of "
    "schedule and that the first cranes had been delivered from the shipyard in Rostock.",
    "Shipping lines have already reserved most of the berths for the first season, the authority said.",
]
VACCINE = [
    "Health officials in the province of Marrow approved a winter vaccination campaign against influenza on Tuesday, "
    "offering free doses to everyone over sixty and to all schoolchildren.",
    "The chief medical officer, Dr. Amal Haddad, said clinics would open on weekends until the end of January.",
]
ORCHESTRA = (
    "The city orchestra of Lindholm announced on Wednesday that its conductor, Mara Vitale, will step down after the "
    "spring season, ending eleven years at the podium. Vitale said she wanted to spend more time composing and "
    "teaching at the conservatory, where she has taught conducting since 2019. The orchestra's board said a search "
    "for a successor would begin at once and that guest conductors would lead the autumn concerts. Ticket sales rose "
    "by a fifth during her tenure, and the orchestra toured Japan twice. Her final concert, a performance of "
    "Mahler's second symphony, is scheduled for the last Saturday of May."
)
WIRE = [
    "Finance ministers of the Northern Trade Bloc agreed on Thursday to cut tariffs on farm machinery by half from "
    "March, ending a dispute that had held up the bloc's budget for months.",
    "The agreement, reached after talks that ran through the night in the capital Oskarsholm, also sets up a fund of "
    "two billion crowns to help farmers in the poorest member states buy new equipment.",
    "Trade commissioner Petra Lund said the deal showed the bloc could settle its quarrels without outside "
    "mediation, and that the first payments from the fund would be made before the summer harvest.",
    "Farmers' unions welcomed the cut but said the fund was too small to make up for three years of poor prices.",
]
PUB_DATE = "Mon, 30 Nov 2026 09:00:00 GMT"
BILLION_LAUGHS = (
    b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    + b"".join(
        f'<!ENTITY lol{n} "{("&lol" + (str(n - 1) if n > 1 else "") + ";") * 10}">'.encode() for n in range(1, 10)
    )
    + b']><rss version="2.0"><channel><title>&lol9;</title><item><title>x</title><link>/x</link></item></channel></rss>'
)


@pytest.fixture
def server() -> Iterator[FeedServer]:
    """The loopback server, stopped after the test."""
    with FeedServer() as running:
        yield running


@pytest.fixture
def transport() -> RecordingTransport:
    """Connections recorded; only loopback ever reached."""
    return RecordingTransport()


def make_watcher(service: QAService, transport: RecordingTransport, max_bytes: int = 1024 * 1024) -> Watcher:
    """A watcher allowed to fetch from 127.0.0.1 (and nothing else private), without delays."""
    policy = FetchPolicy(host_delay_seconds=0.0, backoff_seconds=0.0, retries=1, max_bytes=max_bytes, timeout_seconds=10)
    return Watcher(service, SourceRegistry(service.index_dir), Fetcher(policy, AddressGuard(["127.0.0.1"]), transport))


BAD_FEEDS = ("broken", "bomb", "not-a-feed", "huge", "loop")


def serve_bad_feeds(server: FeedServer) -> None:
    """Feeds at /NAME.xml for each of BAD_FEEDS: broken XML, a billion-laughs bomb, a page that is no feed, an entry
    whose page is 50 MB (sent without a length), an entry that redirects in a loop."""
    server.routes["/broken.xml"] = Route(b"<rss version='2.0'><channel><item><title>x</broken>", content_type="application/rss+xml")
    server.routes["/bomb.xml"] = Route(BILLION_LAUGHS, content_type="application/rss+xml")
    server.routes["/not-a-feed.xml"] = Route(b"<html><body>Sorry, moved.</body></html>")
    server.routes["/huge.xml"] = Route(rss("Huge", [("Huge page", "/huge.html", PUB_DATE)]))
    server.routes["/huge.html"] = Route(lambda: (b"<p>" + b"x" * (1 << 20) + b"</p>" for _ in range(50)))  # 50 MB, no length
    server.routes["/loop.xml"] = Route(rss("Loop", [("Loop", "/loop-a", PUB_DATE)]))
    server.routes["/loop-a"] = Route(status=302, headers={"Location": "/loop-b"}, etag=False)
    server.routes["/loop-b"] = Route(status=302, headers={"Location": "/loop-a"}, etag=False)


def serve_wire_outlets(server: FeedServer) -> None:
    """A feed at /OUTLET/feed.xml for each of WIRE_OUTLETS, each linking its own page of the same wire story."""
    for outlet, (credit, footer) in WIRE_OUTLETS.items():
        server.routes[f"/{outlet}/farm-tariffs.html"] = Route(
            page("Bloc halves farm machinery tariffs", [f"{credit} {WIRE[0]}", *WIRE[1:], footer], "2026-11-26")
        )
        server.routes[f"/{outlet}/feed.xml"] = Route(rss(outlet, [
            ("Bloc halves farm machinery tariffs", f"/{outlet}/farm-tariffs.html", "Thu, 26 Nov 2026 15:00:00 GMT"),
        ]))


def following_the_courier(service: QAService, server: FeedServer, transport: RecordingTransport) -> Watcher:
    """A watcher following the good RSS feed."""
    serve_good_feeds(server)
    watcher = make_watcher(service, transport)
    watcher.registry.add("courier", server.url("/rss.xml"), "feed", 600)
    return watcher


def serve_good_feeds(server: FeedServer) -> None:
    """An RSS 2.0 feed linking two pages, and an Atom feed carrying its story's full text."""
    server.routes["/news/harbour.html"] = Route(page("New container terminal to open in April", HARBOUR, "2026-11-30"))
    server.routes["/news/vaccine.html"] = Route(page("Winter flu campaign approved", VACCINE, "2026-11-29"))
    server.routes["/rss.xml"] = Route(rss("Valdena Courier", [
        ("New container terminal to open in April", "/news/harbour.html", PUB_DATE),
        ("Winter flu campaign approved", "/news/vaccine.html", "Sun, 29 Nov 2026 08:00:00 GMT"),
    ]), content_type="application/rss+xml")
    server.routes["/atom.xml"] = Route(atom("Lindholm Arts", [
        ("Conductor to step down", server.url("/arts/conductor"), "2026-11-28T10:00:00Z", f"<p>{ORCHESTRA}</p>"),
    ]), content_type="application/atom+xml")


def test_rss_and_atom_entries_become_searchable_articles_with_url_and_date(
    fake_service: QAService, server: FeedServer, transport: RecordingTransport
) -> None:
    watcher = following_the_courier(fake_service, server, transport)
    watcher.registry.add("arts", server.url("/atom.xml"), "feed", 600)
    reports = {report.source: report for report in watcher.run_once()}
    assert [reports[name].errors for name in ("courier", "arts")] == [[], []]
    assert len(reports["courier"].added) == 2 and len(reports["arts"].added) == 1
    harbour = fake_service.search("container terminal capacity", k=1)[0]
    assert harbour.url == server.url("/news/harbour.html")
    assert harbour.date is not None and harbour.date.isoformat() == "2026-11-30"
    assert harbour.source == "courier" and "Ilse Brandt" in fake_service.article(harbour.article_id).text
    assert "Privacy" not in fake_service.article(harbour.article_id).text  # page chrome stripped
    conductor = fake_service.search("conductor Mara Vitale step down", k=1)[0]
    assert conductor.url == server.url("/arts/conductor") and conductor.date.isoformat() == "2026-11-28"  # type: ignore[union-attr]
    assert server.requests["/arts/conductor"] == 0  # the feed carried the full text: the page was never fetched
    assert set(transport.attempts) == {"127.0.0.1"}


def test_second_pass_fetches_nothing_unchanged_and_counts_304s(
    fake_service: QAService, server: FeedServer, transport: RecordingTransport
) -> None:
    watcher = following_the_courier(fake_service, server, transport)
    watcher.run_once()
    generation = fake_service.snapshot().state.generation
    again = watcher.run_once()[0]
    assert again.not_modified == 1 and again.fetched == 0 and not again.added and not again.updated
    assert server.not_modified["/rss.xml"] == 1
    assert server.requests["/news/harbour.html"] == 1 and server.requests["/news/vaccine.html"] == 1
    assert fake_service.snapshot().state.generation == generation  # nothing written
    source = watcher.registry.get("courier")
    assert (source.fetches, source.not_modified, source.articles, source.last_error) == (2, 1, 2, "")


def test_a_page_updated_later_is_reindexed_and_unchanged_pages_answer_304(
    fake_service: QAService, server: FeedServer, transport: RecordingTransport
) -> None:
    watcher = following_the_courier(fake_service, server, transport)
    watcher.run_once()
    corrected = [*HARBOUR[:2], "Correction: the terminal will open in May, not April, the authority said on Tuesday."]
    server.routes["/news/harbour.html"] = Route(page("New container terminal to open in May", corrected, "2026-11-30"))
    server.routes["/rss.xml"] = Route(rss("Valdena Courier", [
        ("New container terminal to open in May", "/news/harbour.html", "Tue, 01 Dec 2026 09:00:00 GMT"),
        ("Winter flu campaign approved", "/news/vaccine.html", "Sun, 29 Nov 2026 08:00:00 GMT"),
    ]), content_type="application/rss+xml")
    report = watcher.run_once()[0]
    assert report.errors == [] and len(report.updated) == 1 and not report.added
    assert report.not_modified == 1  # the vaccine page, asked with its ETag
    article = fake_service.article(report.updated[0])
    assert "open in May, not April" in article.text and len(fake_service.articles()) == 2


def test_bad_feeds_are_reported_and_never_stop_the_good_ones(
    fake_service: QAService, server: FeedServer, transport: RecordingTransport
) -> None:
    serve_good_feeds(server)
    serve_bad_feeds(server)
    watcher = make_watcher(fake_service, transport)
    for name in BAD_FEEDS:
        watcher.registry.add(name, server.url(f"/{name}.xml"), "feed", 600)
    watcher.registry.add("courier", server.url("/rss.xml"), "feed", 600)
    watcher.registry.add("missing", server.url("/gone.xml"), "feed", 600)
    reports = {report.source: report for report in watcher.run_once()}
    assert "not well-formed" in reports["broken"].errors[0]
    assert "entities" in reports["bomb"].errors[0]
    assert "not an RSS or Atom feed" in reports["not-a-feed"].errors[0]
    assert "byte limit" in reports["huge"].errors[0]
    assert "redirects" in reports["loop"].errors[0]
    assert "HTTP 404" in reports["missing"].errors[0]
    assert reports["courier"].errors == [] and len(reports["courier"].added) == 2
    assert server.requests["/loop-a"] <= 6  # capped: 5 redirects
    listed = {source.name: source for source in watcher.registry.list()}
    assert all(listed[name].last_error for name in ("broken", "bomb", "not-a-feed", "huge", "loop", "missing"))
    assert listed["courier"].last_error == "" and watcher.tally.errors >= 6
    assert {article.source for article in fake_service.articles()} == {"courier"}


def test_a_redirect_to_a_private_address_is_refused_before_any_connection(
    fake_service: QAService, server: FeedServer, transport: RecordingTransport
) -> None:
    server.routes["/sneaky.xml"] = Route(rss("Sneaky", [("Internal", "/to-internal", PUB_DATE)]))
    server.routes["/to-internal"] = Route(status=302, headers={"Location": "http://10.0.0.1/admin"}, etag=False)
    server.routes["/metadata.xml"] = Route(status=301, headers={"Location": "http://169.254.169.254/latest/meta-data/"}, etag=False)
    watcher = make_watcher(fake_service, transport)
    watcher.registry.add("sneaky", server.url("/sneaky.xml"), "feed", 600)
    watcher.registry.add("metadata", server.url("/metadata.xml"), "feed", 600)
    reports = {report.source: report for report in watcher.run_once()}
    assert "10.0.0.1" in reports["sneaky"].errors[0] and "QA_FETCH_ALLOW_HOSTS" in reports["sneaky"].errors[0]
    assert "169.254.169.254" in reports["metadata"].errors[0]
    assert server.requests["/to-internal"] == 1
    assert set(transport.attempts) == {"127.0.0.1"}  # the guard refused before the transport was asked


def test_the_guard_refuses_private_hosts_and_names_that_resolve_to_them() -> None:
    guard = AddressGuard(resolver=lambda host: {"intranet.example": ["192.168.1.5"], "news.example": ["93.184.216.34"]}[host])
    import httpx

    for url in ("http://10.0.0.1/", "http://127.0.0.1:8000/", "http://[::1]/", "http://169.254.169.254/",
                "http://intranet.example/feed", "ftp://news.example/feed", "http://0.0.0.0/", "http://[::ffff:10.0.0.1]/"):
        with pytest.raises(FetchRefusedError):
            guard.check(httpx.URL(url))
    guard.check(httpx.URL("https://news.example/feed"))
    AddressGuard(["127.0.0.1"]).check(httpx.URL("http://127.0.0.1:9/"))


def test_robots_txt_is_obeyed_even_behind_a_redirect(
    fake_service: QAService, server: FeedServer, transport: RecordingTransport
) -> None:
    watcher = following_the_courier(fake_service, server, transport)
    server.routes["/robots.txt"] = Route(status=301, headers={"Location": "/robots-real.txt"}, etag=False)
    server.routes["/robots-real.txt"] = Route(b"User-agent: *\nDisallow: /news/vaccine\n", content_type="text/plain")
    report = watcher.run_once()[0]
    assert len(report.added) == 1 and report.errors == [] and "robots.txt" in report.skipped[0]
    assert server.requests["/news/vaccine.html"] == 0
    assert watcher.run_once()[0].not_modified == 1  # the feed is remembered: a skipped page is not a failure


def test_fetcher_limits_redirect_schemes_and_sizes(server: FeedServer, transport: RecordingTransport) -> None:
    server.routes["/to-file"] = Route(status=302, headers={"Location": "file:///etc/passwd"}, etag=False)
    server.routes["/big"] = Route(b"y" * 5000)
    fetcher = Fetcher(FetchPolicy(host_delay_seconds=0, retries=0, max_bytes=4096), AddressGuard(["127.0.0.1"]), transport)
    with pytest.raises(FetchRefusedError, match="http and https"):
        fetcher.fetch(server.url("/to-file"))
    with pytest.raises(FetchError, match="limit"):
        fetcher.fetch(server.url("/big"))


WIRE_OUTLETS = {
    "north": ("OSKARSHOLM (North Wire) -", "Reporting by Jon Berg; editing by Kari Nes"),
    "daily": ("By Daily Post staff and agencies.", "Follow the Daily Post for more business news."),
    "globe": ("(Globe/North Wire)", "Copyright 2026 The Globe. This story was republished from North Wire."),
}


def test_a_wire_story_from_three_outlets_is_one_article_listing_all_three(
    fake_service: QAService, server: FeedServer, transport: RecordingTransport
) -> None:
    watcher = make_watcher(fake_service, transport)
    serve_wire_outlets(server)
    for outlet in WIRE_OUTLETS:
        watcher.registry.add(outlet, server.url(f"/{outlet}/feed.xml"), "feed", 600)
    serve_good_feeds(server)
    watcher.registry.add("courier", server.url("/rss.xml"), "feed", 600)
    reports = watcher.run_once()
    assert sum(len(report.added) for report in reports) == 3  # the wire story once, and the courier's two stories
    assert sum(len(report.merged) for report in reports) == 2
    stories = [article for article in fake_service.articles() if "farm machinery" in article.text]
    assert len(stories) == 1
    story = fake_service.article(stories[0].id)
    assert {story.source, *(outlet.source for outlet in story.outlets)} == {"north", "daily", "globe"}
    assert {outlet.url for outlet in story.outlets} | {story.url} == {server.url(f"/{name}/farm-tariffs.html") for name in WIRE_OUTLETS}
    answer = fake_service.ask("how much did the bloc cut farm machinery tariffs?")
    cited = [citation for citation in answer.citations if citation.article_id == story.id]
    assert cited and {citation.source for citation in cited} | {outlet.source for outlet in cited[0].outlets} == set(WIRE_OUTLETS)
    assert fake_service.search("farm machinery tariffs", filters=SearchFilters(sources=("globe",)))[0].article_id == story.id
    again = watcher.run_once()
    assert not any(report.added or report.merged or report.updated for report in again)


def test_sources_status_and_removal(fake_service: QAService, server: FeedServer, transport: RecordingTransport, tmp_path: Path) -> None:
    watcher = following_the_courier(fake_service, server, transport)
    watcher.run_once()
    source = watcher.registry.get("courier")
    assert source.last_fetch is not None and source.next_fetch >= source.last_fetch + 599
    assert watcher.run_due() == []  # not due again for ten minutes
    watcher.registry.remove("courier")
    assert watcher.registry.list() == [] and len(fake_service.articles()) == 2  # its articles stay


def test_an_entry_that_failed_is_retried_on_the_next_pass(
    fake_service: QAService, server: FeedServer, transport: RecordingTransport
) -> None:
    watcher = following_the_courier(fake_service, server, transport)
    vaccine = server.routes["/news/vaccine.html"]
    server.routes["/news/vaccine.html"] = Route(status=503, etag=False)
    first = watcher.run_once()[0]
    assert len(first.added) == 1 and "HTTP 503" in first.errors[0]
    server.routes["/news/vaccine.html"] = vaccine
    second = watcher.run_once()[0]
    assert len(second.added) == 1 and second.errors == [] and second.not_modified == 1  # the harbour page: 304
    assert len(fake_service.articles()) == 2


def test_a_page_in_a_legacy_charset_named_only_in_its_meta_tag(
    fake_service: QAService, server: FeedServer, transport: RecordingTransport
) -> None:
    text = "Le café de la gare rouvre après deux ans de travaux, a annoncé la mairie de Valdena ce lundi."
    html = f'<html><head><meta charset="windows-1252"><title>Café</title></head><body><article><h1>Le café rouvre</h1><p>{text}</p><p>{text}</p></article></body></html>'
    server.routes["/cafe.html"] = Route(html.encode("windows-1252"), content_type="text/html")
    server.routes["/fr.xml"] = Route(rss("Journal", [("Le café rouvre", "/cafe.html", PUB_DATE)]))
    watcher = make_watcher(fake_service, transport)
    watcher.registry.add("journal", server.url("/fr.xml"), "feed", 600)
    report = watcher.run_once()[0]
    assert "Le café de la gare rouvre après" in fake_service.article(report.added[0]).text


def test_a_server_with_only_last_modified_answers_304_too(
    fake_service: QAService, server: FeedServer, transport: RecordingTransport
) -> None:
    serve_good_feeds(server)
    stamp = "Mon, 30 Nov 2026 09:00:00 GMT"
    for path in ("/rss.xml", "/news/harbour.html", "/news/vaccine.html"):
        route = server.routes[path]
        server.routes[path] = Route(route.body, content_type=route.content_type, etag=False, last_modified=stamp)
    watcher = make_watcher(fake_service, transport)
    watcher.registry.add("courier", server.url("/rss.xml"), "feed", 600)
    watcher.run_once()
    again = watcher.run_once()[0]
    assert again.not_modified == 1 and server.not_modified["/rss.xml"] == 1 and again.fetched == 0
