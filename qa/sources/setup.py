"""Build a watcher (registry, guarded fetcher, ingester) from the settings."""

from __future__ import annotations

import re
from pathlib import Path

import httpx

from qa.config import Settings
from qa.errors import HostNotFoundError, SourceError
from qa.service import QAService
from qa.sources.fetch import Fetcher, FetchPolicy
from qa.sources.guard import AddressGuard
from qa.sources.registry import Source, SourceRegistry
from qa.sources.watcher import Watcher

_INTERVAL = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d)?\s*$", re.IGNORECASE)
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
MIN_FEED_INTERVAL_SECONDS = 60.0


def fetch_policy(settings: Settings) -> FetchPolicy:
    """The fetch limits the settings ask for."""
    return FetchPolicy(
        timeout_seconds=settings.fetch_timeout_seconds,
        max_bytes=settings.fetch_max_bytes,
        host_delay_seconds=settings.fetch_host_delay_seconds,
    )


def make_watcher(service: QAService, transport: httpx.BaseTransport | None = None) -> Watcher:
    """A watcher over the service's index, fetching through the address guard (and `transport`, in tests)."""
    settings = service.settings
    fetcher = Fetcher(fetch_policy(settings), AddressGuard(settings.allowed_fetch_hosts), transport)
    return Watcher(service, SourceRegistry(service.index_dir), fetcher, debounce_ms=settings.watch_debounce_ms)


def parse_interval(text: str) -> float:
    """Seconds from '90s', '10m', '2h', '1d' or a bare number of seconds."""
    match = _INTERVAL.match(text)
    if not match:
        raise SourceError(f"{text!r} is not an interval; write it like 30s, 10m, 2h or 1d")
    return float(match.group(1)) * _UNIT_SECONDS[(match.group(2) or "s").lower()]


def add_source(settings: Settings, location: str, name: str | None, every: str) -> tuple[Source, str]:
    """Follow a feed URL or a folder; return it with a warning ('' when none). A private address is refused now,
    not at its first fetch; a name that does not resolve here is accepted with a warning."""
    seconds = parse_interval(every)
    folder = Path(location).expanduser()
    warning = ""
    if folder.is_dir():
        kind, location = "folder", str(folder.resolve())
        default_name = folder.resolve().name
    elif location.startswith(("http://", "https://")):
        if seconds < MIN_FEED_INTERVAL_SECONDS:
            raise SourceError(f"feeds are polled at most once a minute; use --every 1m or more, not {every}")
        kind = "feed"
        try:
            AddressGuard(settings.allowed_fetch_hosts).check(httpx.URL(location))
        except HostNotFoundError as error:
            warning = f"warning: {error}; the feed is kept and fetched when the name resolves"
        default_name = (httpx.URL(location).host or "feed").removeprefix("www.")
    else:
        raise SourceError(f"{location!r} is neither a folder nor an http(s) feed URL")
    registry = SourceRegistry(settings.index_dir)
    try:
        if name is None and any(source.name == default_name for source in registry.list()):
            raise SourceError(f"a source is already called {default_name!r}; give this one its own name with --name")
        return registry.add(name or default_name, location, kind, seconds), warning
    finally:
        registry.close()
