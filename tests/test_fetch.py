"""The fetcher's manners and limits with in-memory transports: retries and backoff, Retry-After, conditional GET,
per-host pacing, robots.txt, decompression bombs."""

from __future__ import annotations

import gzip
import time

import httpx
import pytest

from qa.errors import FetchError, FetchRefusedError
from qa.sources.fetch import Fetcher, FetchPolicy
from qa.sources.guard import AddressGuard
from qa.sources.pacing import HostPacer

PUBLIC = AddressGuard(resolver=lambda host: ["93.184.216.34"])  # every name is public here; nothing connects


def fetcher_over(handler: httpx.MockTransport, waits: list[float], **policy: object) -> Fetcher:
    """A fetcher over a mock transport, its sleeps recorded instead of slept."""
    return Fetcher(FetchPolicy(host_delay_seconds=0.0, **policy), PUBLIC, handler, sleep=waits.append)  # type: ignore[arg-type]


def test_retries_with_backoff_then_succeeds_and_honours_retry_after() -> None:
    answers = iter([httpx.Response(503), httpx.Response(429, headers={"Retry-After": "7"}), httpx.Response(200, content=b"ok")])
    waits: list[float] = []
    transport = httpx.MockTransport(lambda request: httpx.Response(404) if request.url.path == "/robots.txt" else next(answers))
    fetched = fetcher_over(transport, waits, retries=2, backoff_seconds=0.5).fetch("https://news.example/feed")
    assert fetched.body == b"ok" and waits == [0.5, 7.0]


def test_connection_errors_are_retried_then_reported() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/robots.txt":
            return httpx.Response(404)
        raise httpx.ConnectError("connection refused", request=request)

    waits: list[float] = []
    with pytest.raises(FetchError, match="ConnectError"):
        fetcher_over(httpx.MockTransport(refuse), waits, retries=2, backoff_seconds=1.0).fetch("https://news.example/feed")
    assert waits == [1.0, 2.0]


def test_validators_are_sent_and_a_304_keeps_them() -> None:
    seen: list[httpx.Headers] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers)
        return httpx.Response(404) if request.url.path == "/robots.txt" else httpx.Response(304)

    fetched = fetcher_over(httpx.MockTransport(handler), []).fetch("https://news.example/feed", '"v1"', "Mon, 30 Nov 2026 09:00:00 GMT")
    assert fetched.not_modified and fetched.etag == '"v1"'
    assert seen[-1]["If-None-Match"] == '"v1"' and seen[-1]["If-Modified-Since"] == "Mon, 30 Nov 2026 09:00:00 GMT"
    assert "grounded-qa" in seen[-1]["User-Agent"]


def test_a_decompression_bomb_stops_at_the_size_limit() -> None:
    bomb = gzip.compress(b"\0" * (20 * 1024 * 1024))
    transport = httpx.MockTransport(
        lambda request: httpx.Response(404) if request.url.path == "/robots.txt"
        else httpx.Response(200, content=bomb, headers={"Content-Encoding": "gzip"})
    )
    assert len(bomb) < 100_000
    with pytest.raises(FetchError, match="limit"):
        fetcher_over(transport, [], max_bytes=1024 * 1024).fetch("https://news.example/page")


def test_robots_crawl_delay_and_a_failing_robots_txt() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.host == "slow.example":
            return httpx.Response(200, text="User-agent: *\nCrawl-delay: 5\n") if request.url.path == "/robots.txt" else httpx.Response(200)
        return httpx.Response(500)

    waits: list[float] = []
    fetcher = fetcher_over(httpx.MockTransport(handler), waits, retries=0)
    fetcher.fetch("https://slow.example/a")
    fetcher.fetch("https://slow.example/b")
    assert len(waits) == 1 and 4.0 < waits[0] <= 5.0  # the second request waited for the crawl delay
    with pytest.raises(FetchError, match="robots.txt"):
        fetcher.fetch("https://down.example/a")  # robots.txt answered 500: keep off the site for now


def test_the_pacer_spaces_requests_to_one_host_and_not_across_hosts() -> None:
    now = [100.0]
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        now[0] += seconds

    pacer = HostPacer(2.0, clock=lambda: now[0], sleep=sleep)
    for host in ("a.example", "a.example", "b.example", "a.example"):
        with pacer.slot(host):
            pass
    assert waits == [2.0, 2.0]


def test_a_body_trickled_past_the_deadline_is_abandoned() -> None:
    class Trickle(httpx.SyncByteStream):
        def __iter__(self):  # type: ignore[no-untyped-def]
            for _ in range(100):
                time.sleep(0.02)
                yield b"x"

    transport = httpx.MockTransport(
        lambda request: httpx.Response(404) if request.url.path == "/robots.txt" else httpx.Response(200, stream=Trickle())
    )
    with pytest.raises(FetchError, match="gave up"):
        fetcher_over(transport, [], deadline_seconds=0.2).fetch("https://news.example/slow")


def test_a_name_that_resolves_public_for_the_check_and_private_for_the_connection_is_refused() -> None:
    answers = iter([["93.184.216.34"], ["127.0.0.1"]])  # a rebinding DNS server: public first, loopback after
    guard = AddressGuard(resolver=lambda host: next(answers))
    fetcher = Fetcher(FetchPolicy(host_delay_seconds=0, retries=0, obey_robots=False), guard)
    with pytest.raises(FetchRefusedError, match="127.0.0.1"):
        fetcher.fetch("http://rebind.example/admin")  # refused when connecting: the address checked is the one used


def test_the_pinned_connection_reaches_an_allowed_loopback_server_within_its_deadline() -> None:
    from tests.feed_server import FeedServer, Route

    with FeedServer() as server:
        server.routes["/hello"] = Route(b"hello", content_type="text/plain")
        allowed = Fetcher(FetchPolicy(host_delay_seconds=0, retries=0), AddressGuard([f"127.0.0.1:{server.url('').split(':')[-1]}"]))
        assert allowed.fetch(server.url("/hello")).body == b"hello"
        other_port = AddressGuard(["127.0.0.1:1"])
        with pytest.raises(FetchRefusedError):
            Fetcher(FetchPolicy(host_delay_seconds=0, retries=0), other_port).fetch(server.url("/hello"))


def test_slow_headers_stop_at_the_deadline() -> None:
    import socket
    import threading

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()

    def trickle() -> None:
        connection, _ = listener.accept()
        connection.recv(65536)
        try:
            for byte in b"HTTP/1.1 200 OK\r\nX-Slow: " + b"a" * 100:
                connection.send(bytes([byte]))
                time.sleep(0.05)
        except OSError:
            pass
        connection.close()

    threading.Thread(target=trickle, daemon=True).start()
    policy = FetchPolicy(host_delay_seconds=0, retries=2, obey_robots=False, deadline_seconds=0.5, timeout_seconds=5)
    started = time.monotonic()
    with pytest.raises(FetchError, match="gave up"):
        Fetcher(policy, AddressGuard(["127.0.0.1"]), sleep=lambda seconds: None).fetch(f"http://127.0.0.1:{listener.getsockname()[1]}/")
    assert time.monotonic() - started < 2.0
    listener.close()


@pytest.mark.parametrize("address", ["2002:7f00:1::", "2002:a9fe:a9fe::", "fec0::1", "2001:0:4136:e378:8000:63bf:f5ff:fffe", "::ffff:10.0.0.1"])
def test_ipv4_private_addresses_inside_ipv6_are_not_public(address: str) -> None:
    from qa.sources.guard import is_public

    assert not is_public(address)


def test_a_huge_crawl_delay_is_capped_at_a_minute() -> None:
    transport = httpx.MockTransport(
        lambda request: httpx.Response(200, text="User-agent: *\nCrawl-delay: 86400\n") if request.url.path == "/robots.txt" else httpx.Response(200)
    )
    waits: list[float] = []
    fetcher = fetcher_over(transport, waits)
    fetcher.fetch("https://slow.example/a")
    fetcher.fetch("https://slow.example/b")
    assert len(waits) == 1 and 59.0 < waits[0] <= 60.0


def test_a_name_that_does_not_resolve_is_retried() -> None:
    from qa.errors import HostNotFoundError

    calls: list[str] = []

    def flaky(host: str) -> list[str]:
        calls.append(host)
        if len(calls) < 2:
            raise HostNotFoundError(f"{host}: the name does not resolve (temporary failure)")
        return ["93.184.216.34"]

    transport = httpx.MockTransport(lambda request: httpx.Response(200, content=b"ok"))
    fetcher = Fetcher(FetchPolicy(host_delay_seconds=0, backoff_seconds=0.1, obey_robots=False), AddressGuard(resolver=flaky), transport, sleep=lambda s: None)
    assert fetcher.fetch("https://news.example/feed").body == b"ok" and len(calls) == 2
