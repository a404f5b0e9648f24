"""robots.txt rules per site, fetched once an hour and read with protego."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import httpx
from protego import Protego

USER_AGENT_TOKEN = "grounded-qa"
ROBOTS_TTL_SECONDS = 3600.0
UNREACHABLE_TTL_SECONDS = 60.0
MAX_CRAWL_DELAY_SECONDS = 60.0  # a site asking for more is still fetched once a minute at most  # a site whose robots.txt failed is asked again after a minute
RobotsFetcher = Callable[[str], tuple[int, bytes]]


class RobotsRules:
    """Whether a site's robots.txt lets us fetch a URL, and the crawl delay it asks for."""

    def __init__(self, fetch_robots: RobotsFetcher, clock: Callable[[], float] = time.monotonic) -> None:
        self._fetch = fetch_robots
        self._clock = clock
        self._lock = threading.Lock()
        self._cache: dict[str, tuple[float, Protego | None, bool]] = {}

    def allowed(self, url: httpx.URL) -> bool:
        """Whether the URL may be fetched."""
        rules, everything_disallowed = self._rules(url)
        if everything_disallowed:
            return False
        return rules is None or bool(rules.can_fetch(str(url), USER_AGENT_TOKEN))

    def crawl_delay(self, url: httpx.URL) -> float | None:
        """The delay in seconds the site asks for between requests, if any."""
        rules, _ = self._rules(url)
        delay = rules.crawl_delay(USER_AGENT_TOKEN) if rules else None
        return min(float(delay), MAX_CRAWL_DELAY_SECONDS) if delay is not None else None

    def _rules(self, url: httpx.URL) -> tuple[Protego | None, bool]:
        """The site's parsed rules (None: no robots.txt, everything allowed) and whether everything is disallowed
        (the site answered robots.txt with a server error, so we keep off until it recovers)."""
        site = f"{url.scheme}://{url.netloc.decode()}"
        with self._lock:
            cached = self._cache.get(site)
        if cached and self._clock() < cached[0]:
            return cached[1], cached[2]
        status, body = self._fetch(f"{site}/robots.txt")
        rules = Protego.parse(body.decode("utf-8", "replace")) if status == 200 else None
        disallowed = status >= 500 or status == 0
        with self._lock:
            expires = self._clock() + (UNREACHABLE_TTL_SECONDS if disallowed else ROBOTS_TTL_SECONDS)
            self._cache[site] = (expires, rules, disallowed)
        return rules, disallowed
