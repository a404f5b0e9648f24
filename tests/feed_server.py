"""A loopback HTTP server for feed tests: routes written by the tests, requests counted, ETags honoured."""

from __future__ import annotations

import hashlib
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx

Body = bytes | Callable[[], Iterator[bytes]]


@dataclass
class Route:
    """What a path answers: a status, headers and a body (bytes, or a generator of chunks sent without a length)."""

    body: Body = b""
    status: int = 200
    content_type: str = "text/html; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)
    etag: bool = True
    last_modified: str = ""  # served as Last-Modified (and If-Modified-Since honoured) when set


class FeedServer:
    """Serves `routes` on 127.0.0.1; counts requests and 304 answers per path."""

    def __init__(self) -> None:
        self.routes: dict[str, Route] = {"/robots.txt": Route(b"User-agent: *\nAllow: /\n", content_type="text/plain")}
        self.requests: Counter[str] = Counter()
        self.not_modified: Counter[str] = Counter()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base(self) -> str:
        """http://127.0.0.1:PORT"""
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def url(self, path: str) -> str:
        """The absolute URL of a path."""
        return self.base + path

    def __enter__(self) -> FeedServer:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        """A request handler bound to this server's routes."""
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:  # noqa: N802 (the stdlib's name)
                path = self.path.split("?")[0]
                server.requests[path] += 1
                route = server.routes.get(path)
                if route is None:
                    self._send(404, {"Content-Type": "text/plain"}, b"not found")
                    return
                headers = {"Content-Type": route.content_type, **route.headers}
                if route.last_modified:
                    headers["Last-Modified"] = route.last_modified
                    if self.headers.get("If-Modified-Since") == route.last_modified:
                        server.not_modified[path] += 1
                        self._send(304, {"Last-Modified": route.last_modified}, b"")
                        return
                if route.etag and isinstance(route.body, bytes):
                    tag = '"' + hashlib.sha256(route.body).hexdigest()[:16] + '"'
                    headers["ETag"] = tag
                    if self.headers.get("If-None-Match") == tag:
                        server.not_modified[path] += 1
                        self._send(304, {"ETag": tag}, b"")
                        return
                if callable(route.body):
                    self.send_response(route.status)
                    for name, value in headers.items():
                        self.send_header(name, value)
                    self.send_header("Transfer-Encoding", "chunked")
                    self.end_headers()
                    try:
                        for chunk in route.body():
                            self.wfile.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
                        self.wfile.write(b"0\r\n\r\n")
                    except (BrokenPipeError, ConnectionResetError):
                        pass
                    return
                self._send(route.status, headers, route.body)

            def _send(self, status: int, headers: dict[str, str], body: bytes) -> None:
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_: object) -> None:
                """Quiet."""

        return Handler


class RecordingTransport(httpx.BaseTransport):
    """Records every connection attempt; connects only to 127.0.0.1 (anything else is recorded and refused here, so
    no packet can leave loopback even if the guard above failed)."""

    def __init__(self) -> None:
        self.attempts: list[str] = []
        self._inner = httpx.HTTPTransport()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        """Record, then connect (loopback only)."""
        self.attempts.append(str(request.url.host))
        if request.url.host != "127.0.0.1":
            raise httpx.ConnectError(f"test transport: no connection outside loopback ({request.url.host})", request=request)
        return self._inner.handle_request(request)

    def close(self) -> None:
        """Close the loopback connections."""
        self._inner.close()


def rss(title: str, items: list[tuple[str, str, str]], content: dict[str, str] | None = None) -> bytes:
    """An RSS 2.0 feed: items of (title, link, RFC 822 date); `content` maps a link to its content:encoded HTML."""
    content = content or {}
    entries = "".join(
        f"<item><title>{item_title}</title><link>{link}</link><guid>{link}</guid><pubDate>{when}</pubDate>"
        + (f"<content:encoded><![CDATA[{content[link]}]]></content:encoded>" if link in content else "")
        + "</item>"
        for item_title, link, when in items
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/">'
        f"<channel><title>{title}</title><link>http://127.0.0.1/</link><description>test</description>{entries}</channel></rss>"
    ).encode()


def atom(title: str, entries: list[tuple[str, str, str, str]]) -> bytes:
    """An Atom feed: entries of (title, link, ISO time, full HTML content or '')."""
    body = "".join(
        f"<entry><title>{entry_title}</title><link href=\"{link}\"/><id>{link}</id><updated>{when}</updated>"
        f"<author><name>Staff</name></author>"
        + (f'<content type="html"><![CDATA[{content}]]></content>' if content else "")
        + "</entry>"
        for entry_title, link, when, content in entries
    )
    return (
        f'<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom"><title>{title}</title>'
        f"<id>urn:test</id><updated>2026-12-01T00:00:00Z</updated>{body}</feed>"
    ).encode()


def page(title: str, paragraphs: list[str], published: str = "", canonical: str = "", chrome: str = "") -> bytes:
    """An article page with navigation and a footer around the story (what trafilatura must strip)."""
    meta = f'<meta property="article:published_time" content="{published}">' if published else ""
    link = f'<link rel="canonical" href="{canonical}">' if canonical else ""
    body = "".join(f"<p>{paragraph}</p>" for paragraph in paragraphs)
    return (
        f"<!doctype html><html><head><title>{title}</title>{meta}{link}</head><body>"
        f"<nav><a href='/'>Home</a> <a href='/world'>World</a> <a href='/business'>Business</a></nav>"
        f"<main><article><h1>{title}</h1>{body}</article></main>"
        f"<footer>{chrome or 'Copyright 2026. All rights reserved.'} <a href='/privacy'>Privacy</a></footer></body></html>"
    ).encode()
