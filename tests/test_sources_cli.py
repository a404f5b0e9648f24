"""`qa sources` and `qa watch` from the command line, fetching from a loopback server allowed by QA_FETCH_ALLOW_HOSTS."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from index.embedder import HashingEmbedder
from qa.cli import main
from qa.config import Settings
from qa.service import QAService
from tests.feed_server import FeedServer, Route, rss
from tests.test_sources_feeds import BAD_FEEDS, PUB_DATE, WIRE_OUTLETS, serve_bad_feeds, serve_good_feeds, serve_wire_outlets


@pytest.fixture
def invoke(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Callable[..., Result]:
    """Run `qa` with a fake-embedder service and a private index; loopback fetches allowed, no delays."""
    monkeypatch.setenv("QA_INDEX_DIR", str(tmp_path / "index"))
    monkeypatch.setenv("QA_FETCH_ALLOW_HOSTS", "127.0.0.1")
    monkeypatch.setenv("QA_FETCH_HOST_DELAY_SECONDS", "0")
    embedder = HashingEmbedder()

    def run(*args: str) -> Result:
        factory: Callable[[Settings], QAService] = lambda settings: QAService(settings, embedder=embedder)
        return CliRunner().invoke(main, list(args), obj=factory, catch_exceptions=False)

    return run


@pytest.fixture
def server() -> Iterator[FeedServer]:
    """The loopback server with the good feeds."""
    with FeedServer() as running:
        serve_good_feeds(running)
        yield running


def test_add_list_watch_once_and_remove(invoke: Callable[..., Result], server: FeedServer, tmp_path: Path) -> None:
    added = invoke("sources", "add", server.url("/rss.xml"), "--name", "Valdena Courier", "--every", "15m")
    assert added.exit_code == 0 and "following feed" in added.output
    assert invoke("sources", "add", server.url("/rss.xml")).exit_code == 1  # already followed
    folder = tmp_path / "drop"
    folder.mkdir()
    (folder / "note.txt").write_text(" date 2026-11-30 Council vote\nThe town council voted to build a new school.\n")
    assert invoke("sources", "add", str(folder)).exit_code == 0
    watched = invoke("watch", "--once")
    assert watched.exit_code == 0, watched.output
    assert "Valdena Courier: 2 entries, 2 new" in watched.output and "drop: 1 entries, 1 new" in watched.output
    again = json.loads(invoke("watch", "--once", "--json").output)
    assert {item["source"]: item["not_modified"] for item in again["sources"]} == {"Valdena Courier": 1, "drop": 0}
    listed = json.loads(invoke("sources", "list", "--json").output)["sources"]
    courier = next(item for item in listed if item["name"] == "Valdena Courier")
    assert (courier["articles"], courier["every_seconds"], courier["not_modified"]) == (2, 900.0, 1)
    assert courier["last_fetch"] and courier["next_fetch"] > courier["last_fetch"]
    found = json.loads(invoke("search", "container terminal", "--json").output)["passages"][0]
    assert found["url"] == server.url("/news/harbour.html") and found["date"] == "2026-11-30"
    assert "no longer following" in invoke("sources", "remove", "Valdena Courier").output
    assert "Valdena Courier" not in invoke("sources", "list").output


def test_watch_once_reports_a_bad_feed_and_exits_nonzero(invoke: Callable[..., Result], server: FeedServer) -> None:
    invoke("sources", "add", server.url("/missing.xml"), "--name", "gone")
    invoke("sources", "add", server.url("/rss.xml"), "--name", "courier")
    result = invoke("watch", "--once")
    assert result.exit_code == 1 and "HTTP 404" in result.output and "courier: 2 entries, 2 new" in result.output


def test_adding_is_refused_for_private_addresses_bad_intervals_and_unknown_things(
    invoke: Callable[..., Result], monkeypatch: pytest.MonkeyPatch
) -> None:
    refused = invoke("sources", "add", "http://10.0.0.1/feed.xml")
    assert refused.exit_code == 1 and "QA_FETCH_ALLOW_HOSTS" in refused.output
    assert "at most once a minute" in invoke("sources", "add", "http://127.0.0.1:9/f.xml", "--every", "5s").output
    assert "not an interval" in invoke("sources", "add", "http://127.0.0.1:9/f.xml", "--every", "soon").output
    assert "neither a folder nor" in invoke("sources", "add", "no-such-folder").output
    assert "no source named" in invoke("sources", "remove", "nothing").output
    assert "no sources yet" in invoke("sources", "list").output


def test_watch_once_without_sources_and_with_an_unknown_one(invoke: Callable[..., Result], tmp_path: Path) -> None:
    nothing = invoke("watch", "--once")
    assert nothing.exit_code == 0 and "no sources yet" in nothing.output
    unknown = invoke("watch", "--once", "--source", "nosuch")
    assert unknown.exit_code == 1 and "no source named 'nosuch'" in unknown.output
    assert "no sources yet" in invoke("sources", "list", "--index-dir", str(tmp_path / "typo")).output
    assert not (tmp_path / "typo").exists()  # listing never creates an index folder


def test_a_second_feed_on_the_same_host_needs_its_own_name(invoke: Callable[..., Result], server: FeedServer) -> None:
    assert invoke("sources", "add", server.url("/rss.xml")).exit_code == 0
    clash = invoke("sources", "add", server.url("/atom.xml"))
    assert clash.exit_code == 1 and "--name" in clash.output
    assert invoke("sources", "add", server.url("/atom.xml"), "--name", "arts").exit_code == 0


def test_two_watchers_on_one_index_are_refused(invoke: Callable[..., Result], server: FeedServer, tmp_path: Path) -> None:
    from qa.sources.registry import SourceRegistry
    from qa.sources.watcher import LOCK_NAME
    import fcntl

    invoke("sources", "add", server.url("/rss.xml"))
    SourceRegistry(tmp_path / "index").close()
    with (tmp_path / "index" / LOCK_NAME).open("a") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        refused = invoke("watch", "--once")
    assert refused.exit_code == 1 and "another `qa watch`" in refused.output


CONNECTIONS: list[tuple[str, int]] = []  # every TCP connection this process attempts while RECORDING is on
RECORDING: list[bool] = []


def _record_connections(event: str, args: tuple[object, ...]) -> None:
    """An audit hook: note socket connections (it only records; it never blocks one)."""
    if RECORDING and event == "socket.connect" and isinstance(args[1], tuple):
        CONNECTIONS.append((str(args[1][0]), int(args[1][1])))


sys.addaudithook(_record_connections)


def test_watch_once_over_every_fixture(invoke: Callable[..., Result], server: FeedServer) -> None:
    """The issue's acceptance run: RSS 2.0, Atom, broken XML, a billion-laughs feed, a 50 MB page, a redirect loop, a
    redirect to 10.0.0.1, a 304 on the second pass and three outlets of one wire story, through `qa watch --once`."""
    serve_bad_feeds(server)
    serve_wire_outlets(server)
    server.routes["/sneaky.xml"] = Route(rss("Sneaky", [("Internal", "/to-internal", PUB_DATE)]))
    server.routes["/to-internal"] = Route(status=302, headers={"Location": "http://10.0.0.1/admin"}, etag=False)
    feeds = {"courier": "/rss.xml", "arts": "/atom.xml", "sneaky": "/sneaky.xml"}
    feeds |= {name: f"/{name}.xml" for name in BAD_FEEDS} | {name: f"/{name}/feed.xml" for name in WIRE_OUTLETS}
    for name, path in feeds.items():
        assert invoke("sources", "add", server.url(path), "--name", name).exit_code == 0
    RECORDING.append(True)
    try:
        first = invoke("watch", "--once", "--json")
        second = invoke("watch", "--once", "--json")
    finally:
        RECORDING.clear()
    assert first.exit_code == 1 and second.exit_code == 1  # the bad feeds fail on every pass, and say so
    reports = {item["source"]: item for item in json.loads(first.output)["sources"]}
    assert all(reports[name]["errors"] for name in (*BAD_FEEDS, "sneaky"))
    assert "10.0.0.1" in reports["sneaky"]["errors"][0]
    assert {address for address, _ in CONNECTIONS} == {"127.0.0.1"}  # no connection ever left loopback
    assert sum(len(item["added"]) for item in reports.values()) == 4  # harbour, vaccine, conductor, the wire story
    assert sum(len(item["merged"]) for item in reports.values()) == 2
    for question, path, day in [
        ("container terminal capacity", "/news/harbour.html", "2026-11-30"),
        ("winter flu vaccination campaign", "/news/vaccine.html", "2026-11-29"),
        ("conductor Mara Vitale steps down", "/arts/conductor", "2026-11-28"),
    ]:
        found = json.loads(invoke("search", question, "--k", "1", "--json").output)["passages"][0]
        assert (found["url"], found["date"]) == (server.url(path), day)
    wire = json.loads(invoke("search", "farm machinery tariffs", "--k", "1", "--json").output)["passages"][0]
    assert {wire["source"], *(outlet["source"] for outlet in wire["outlets"])} == set(WIRE_OUTLETS)
    again = {item["source"]: item for item in json.loads(second.output)["sources"]}
    good = ["courier", "arts", *WIRE_OUTLETS]
    assert all(again[name]["not_modified"] == 1 and again[name]["fetched"] == 0 for name in good)
    assert all(server.requests[f"/{name}/farm-tariffs.html"] == 1 for name in WIRE_OUTLETS)
    assert server.requests["/news/harbour.html"] == 1 and server.requests["/news/vaccine.html"] == 1
