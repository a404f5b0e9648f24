"""API keys, write access, per-caller rate limits and CORS."""

from __future__ import annotations

import httpx
import pytest

from api.ratelimit import client_bucket
from tests.web.conftest import OpenClient

ASK = {"question": "GCC"}
ARTICLE = {"articles": [{"id": "keyed", "title": "Keyed", "text": "A short note about keys."}]}


def _bearer(key: str) -> dict[str, str]:
    """An Authorization header."""
    return {"Authorization": f"Bearer {key}"}


def test_auth_off_by_default(client: httpx.Client) -> None:
    assert client.post("/v1/ask", json=ASK).status_code == 200
    assert client.post("/v1/articles", json=ARTICLE).status_code == 200


def test_keys_required_on_v1_when_configured(open_client: OpenClient) -> None:
    client = open_client(api_keys="alpha-key,beta-key")
    for headers in ({}, _bearer("wrong"), {"Authorization": "Basic YWxwaGEta2V5"}, _bearer("alpha-key-and-more")):
        response = client.post("/v1/ask", json=ASK, headers=headers)
        assert response.status_code == 401
        assert response.headers["www-authenticate"] == "Bearer"
        assert response.json()["error"]["code"] == "unauthorized"
    assert client.get("/v1/articles").status_code == 401
    assert client.post("/v1/ask", json=ASK, headers=_bearer("alpha-key")).status_code == 200
    assert client.get("/v1/articles", headers=_bearer("beta-key")).status_code == 200
    assert client.post("/v1/articles", json=ARTICLE, headers=_bearer("beta-key")).status_code == 200


def test_unauthenticated_requests_are_refused_before_the_body_is_looked_at(open_client: OpenClient) -> None:
    client = open_client(api_keys="alpha-key")
    assert client.post("/v1/ask", json={"question": ""}).status_code == 401
    response = client.post("/v1/ask", json=ASK, headers=[(b"Authorization", b"Bearer \xff\xfe")])
    assert response.status_code == 401


def test_health_metrics_and_page_need_no_key(open_client: OpenClient) -> None:
    client = open_client(api_keys="alpha-key")
    for path in ("/healthz", "/readyz", "/metrics", "/", "/static/app.js"):
        assert client.get(path).status_code == 200, path


def test_writes_limited_to_admin_keys(open_client: OpenClient) -> None:
    client = open_client(api_keys="reader-key", admin_api_keys="admin-key")
    reader, admin = _bearer("reader-key"), _bearer("admin-key")
    assert client.get("/v1/articles", headers=reader).status_code == 200
    refused = client.post("/v1/articles", json=ARTICLE, headers=reader)
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "forbidden"
    assert client.delete("/v1/articles/keyed", headers=reader).status_code == 403
    assert client.post("/v1/articles", json=ARTICLE, headers=admin).status_code == 200
    assert client.post("/v1/ask", json=ASK, headers=admin).status_code == 200
    assert client.delete("/v1/articles/keyed", headers=admin).status_code == 200


@pytest.mark.parametrize("keys", [{}, {"api_keys": "one-key,two-key"}])
def test_rate_limit_is_429_with_retry_after(open_client: OpenClient, keys: dict[str, str]) -> None:
    client = open_client(rate_limit_per_minute=2, **keys)
    first = _bearer("one-key") if keys else {}
    assert client.post("/v1/ask", json=ASK, headers=first).status_code == 200
    assert client.get("/v1/articles", headers=first).status_code == 200
    limited = client.post("/v1/search", json=ASK, headers=first)
    assert limited.status_code == 429
    assert limited.json()["error"]["code"] == "rate_limited"
    assert 30 <= int(limited.headers["retry-after"]) <= 60  # the minute began with the first request, just now
    assert client.get("/healthz").status_code == 200
    if keys:
        assert client.post("/v1/ask", json=ASK, headers=_bearer("two-key")).status_code == 200


def test_guessing_keys_is_rate_limited_per_client_ip(open_client: OpenClient) -> None:
    client = open_client(rate_limit_per_minute=3, api_keys="right-key")
    guesses = [client.post("/v1/ask", json=ASK, headers=_bearer(f"guess-{n}")).status_code for n in range(3)]
    assert guesses == [401, 401, 401]
    limited = client.post("/v1/ask", json=ASK, headers=_bearer("guess-3"))
    assert limited.status_code == 429 and limited.json()["error"]["code"] == "rate_limited"
    assert 30 <= int(limited.headers["retry-after"]) <= 60  # the window opened just now
    assert limited.headers["www-authenticate"] == "Bearer"
    assert client.get("/v1/articles").status_code == 429  # no key at all counts as a refused request too
    assert client.post("/v1/ask", json=ASK, headers=_bearer("right-key")).status_code == 200


def test_clients_without_a_key_are_limited_by_ipv4_address_or_ipv6_64() -> None:
    assert client_bucket("203.0.113.7") == "203.0.113.7"
    assert client_bucket("2001:db8:1:2:aaaa::1") == client_bucket("2001:db8:1:2:bbbb::9") == "2001:db8:1:2::/64"
    assert client_bucket("2001:db8:1:3::1") != client_bucket("2001:db8:1:2::1")
    assert client_bucket("testclient") == "testclient"  # not an address: kept as it is


def test_cors_only_for_configured_origins(open_client: OpenClient) -> None:
    preflight = {"Origin": "https://app.example", "Access-Control-Request-Method": "POST",
                 "Access-Control-Request-Headers": "authorization,content-type"}
    closed = open_client()
    assert "access-control-allow-origin" not in closed.options("/v1/ask", headers=preflight).headers
    assert "access-control-allow-origin" not in closed.post("/v1/ask", json=ASK, headers={"Origin": "https://app.example"}).headers

    opened = open_client(cors_origins="https://app.example")
    allowed = opened.options("/v1/ask", headers=preflight)
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == "https://app.example"
    assert "authorization" in allowed.headers["access-control-allow-headers"].lower()
    answer = opened.post("/v1/ask", json=ASK, headers={"Origin": "https://app.example"})
    assert answer.headers["access-control-allow-origin"] == "https://app.example"
    other = opened.options("/v1/ask", headers={**preflight, "Origin": "https://evil.example"})
    assert other.headers.get("access-control-allow-origin") != "https://evil.example"
