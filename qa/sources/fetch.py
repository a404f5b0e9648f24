"""Polite, bounded HTTP fetching: conditional GET, robots.txt, per-host pacing, retries, size and redirect limits."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import httpx

from qa.errors import FetchError, FetchRefusedError, HostNotFoundError, RobotsDisallowedError
from qa.sources.guard import AddressGuard, GuardedTransport
from qa.sources.pacing import HostPacer
from qa.sources.pinned import PinnedBackend, pinned_transport
from qa.sources.robots import USER_AGENT_TOKEN, RobotsRules

_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_RETRIED = frozenset({429, 500, 502, 503, 504})
_MAX_RETRY_AFTER_SECONDS = 30.0
ROBOTS_REDIRECTS = 5


@dataclass(frozen=True)
class FetchPolicy:
    """Limits and manners of every fetch."""

    timeout_seconds: float = 15.0  # connect, and each read (httpx's timeouts)
    deadline_seconds: float = 60.0  # one fetch, redirects and retries included (a server trickling bytes stops here)
    max_bytes: int = 5 * 1024 * 1024
    max_redirects: int = 5
    retries: int = 2
    backoff_seconds: float = 1.0
    host_delay_seconds: float = 1.0
    host_concurrency: int = 1
    obey_robots: bool = True
    user_agent: str = f"{USER_AGENT_TOKEN}/0.1 (news question answering; feed reader)"


@dataclass(frozen=True)
class Fetched:
    """A response: the final URL after redirects, its status (200, or 304 when unchanged), body and validators."""

    url: str
    status: int
    body: bytes = b""
    etag: str | None = None
    last_modified: str | None = None
    content_type: str = ""

    @property
    def not_modified(self) -> bool:
        """Whether the server said the resource is unchanged since the validators we sent."""
        return self.status == 304


class Fetcher:
    """Fetches http(s) resources with the policy's limits; every connection goes through the address guard."""

    def __init__(
        self,
        policy: FetchPolicy,
        guard: AddressGuard,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.policy = policy
        self._sleep = sleep
        self._backend = PinnedBackend(guard)
        self._client = httpx.Client(
            transport=GuardedTransport(guard, transport or pinned_transport(self._backend)),
            follow_redirects=False,
            timeout=policy.timeout_seconds,
            headers={"User-Agent": policy.user_agent},
        )
        self._pacer = HostPacer(policy.host_delay_seconds, policy.host_concurrency, sleep=sleep)
        self._robots = RobotsRules(self._fetch_robots)

    def close(self) -> None:
        """Close the connections."""
        self._client.close()

    def fetch(self, url: str, etag: str | None = None, last_modified: str | None = None) -> Fetched:
        """GET a URL, following at most max_redirects http(s) redirects, all within the deadline; a 304 when the
        validators still hold."""
        with self._backend.deadline(self.policy.deadline_seconds):
            try:
                return self._fetch(url, etag, last_modified)
            except FetchError as error:
                if self._backend.expired():
                    raise FetchError(f"{url}: not done after {self.policy.deadline_seconds:g} s; gave up") from error
                raise

    def _fetch(self, url: str, etag: str | None, last_modified: str | None) -> Fetched:
        """fetch, inside its deadline."""
        headers = {}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        current = _parse_url(url)
        for _ in range(self.policy.max_redirects + 1):
            if self.policy.obey_robots and not self._robots.allowed(current):
                raise RobotsDisallowedError(f"{current}: robots.txt does not let {USER_AGENT_TOKEN} fetch it; skipped")
            response, body = self._get(current, headers, self._robots.crawl_delay(current) if self.policy.obey_robots else None)
            if response.status_code in _REDIRECTS and "location" in response.headers:
                current = _parse_url(str(current.join(response.headers["location"])))
                continue
            if response.status_code == 304:
                return Fetched(str(current), 304, etag=etag, last_modified=last_modified)
            if response.status_code >= 400:
                raise FetchError(f"{current}: the server answered HTTP {response.status_code}")
            return Fetched(
                str(current), response.status_code, body, response.headers.get("etag"),
                response.headers.get("last-modified"), response.headers.get("content-type", ""),
            )
        raise FetchError(f"{url}: more than {self.policy.max_redirects} redirects (a redirect loop?)")

    def _get(self, url: httpx.URL, headers: dict[str, str], crawl_delay: float | None) -> tuple[httpx.Response, bytes]:
        """One GET with retries and backoff on connection errors and on 429/5xx answers."""
        for attempt in range(self.policy.retries + 1):
            last = attempt == self.policy.retries
            try:
                with self._pacer.slot(url.host, crawl_delay):
                    response, body = self._read(url, headers)
            except HostNotFoundError as error:  # perhaps a passing DNS failure: retried like a connection error
                if last:
                    raise
                self._sleep(self.policy.backoff_seconds * 2**attempt)
                continue
            except FetchRefusedError:
                raise
            except httpx.TransportError as error:
                if last or self._backend.expired():
                    raise FetchError(f"{url}: {type(error).__name__}: {error or 'no answer'}") from error
                self._sleep(self.policy.backoff_seconds * 2**attempt)
                continue
            if response.status_code not in _RETRIED or last:
                return response, body
            self._sleep(_retry_after(response) or self.policy.backoff_seconds * 2**attempt)
        raise AssertionError("unreachable: the last attempt returns or raises")

    def _read(self, url: httpx.URL, headers: dict[str, str]) -> tuple[httpx.Response, bytes]:
        """Send a GET and read at most max_bytes of its (decoded) body."""
        limit = self.policy.max_bytes
        with self._client.stream("GET", url, headers=headers) as response:
            declared = response.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > limit:
                raise FetchError(f"{url}: {int(declared):,} bytes, over the {limit:,}-byte limit")
            chunks: list[bytes] = []
            size = 0
            for chunk in response.iter_bytes():
                size += len(chunk)
                if size > limit:
                    raise FetchError(f"{url}: more than the {limit:,}-byte limit")
                if self._backend.expired():  # the fetch's deadline, also when a transport is given (tests)
                    raise FetchError(f"{url}: still sending after {self.policy.deadline_seconds:g} s; gave up")
                chunks.append(chunk)
        return response, b"".join(chunks)

    def _fetch_robots(self, url: str) -> tuple[int, bytes]:
        """A site's robots.txt, following up to five redirects as RFC 9309 asks: its status and body (status 0 when
        it could not be fetched)."""
        current = _parse_url(url)
        try:
            for _ in range(ROBOTS_REDIRECTS + 1):
                response, body = self._get(current, {}, None)
                if response.status_code not in _REDIRECTS or "location" not in response.headers:
                    return response.status_code, body
                current = _parse_url(str(current.join(response.headers["location"])))
        except FetchRefusedError:
            raise
        except FetchError:
            return 0, b""
        return 404, b""  # a redirect loop: as if there were no robots.txt


def _parse_url(url: str) -> httpx.URL:
    """A URL, or a FetchError that says why it is not one."""
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError) as error:
        raise FetchError(f"{url!r} is not a valid URL ({error})") from error
    if parsed.scheme not in ("http", "https"):
        raise FetchRefusedError(f"{url}: only http and https links are fetched")
    return parsed


def _retry_after(response: httpx.Response) -> float | None:
    """Seconds a 429/503 asks us to wait (Retry-After in seconds), capped."""
    value = response.headers.get("retry-after", "")
    return min(float(value), _MAX_RETRY_AFTER_SECONDS) if value.isdigit() else None
