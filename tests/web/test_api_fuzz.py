"""Whatever JSON or path a client sends, the answer is a 2xx or a 4xx in the documented shape, never a 500."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from api.app import create_app
from api.settings import ApiSettings
from qa.service import QAService

_scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40)
_json = st.recursive(_scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4), max_leaves=12)
_fields = st.sampled_from(["question", "k", "filters", "as_of", "conversation_id", "since", "until", "sources", "articles", "id", "text", "title", "date", "url"])
_bodies = _json | st.dictionaries(_fields, _json, max_size=5)
_fuzz = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.fixture
def fuzz_client(fake_service: QAService) -> Iterator[TestClient]:
    """An in-process client with no rate limit, ready."""
    app = create_app(fake_service, ApiSettings(rate_limit_per_minute=0))
    with TestClient(app, raise_server_exceptions=False) as client:
        assert app.state.api.readiness.wait(60)
        yield client


def _check(status: int, body: Any) -> None:
    """A success, or a client error with the documented shape."""
    assert status < 500, body
    if status >= 400:
        assert set(body["error"]) == {"code", "message", "detail"}


@_fuzz
@given(path=st.sampled_from(["/v1/ask", "/v1/search", "/v1/ask/stream", "/v1/articles"]), body=_bodies)
def test_any_json_body(fuzz_client: TestClient, path: str, body: Any) -> None:
    response = fuzz_client.post(path, content=json.dumps(body), headers={"content-type": "application/json"})
    _check(response.status_code, None if response.headers["content-type"].startswith("text/event-stream") else response.json())


@_fuzz
@given(raw=st.binary(max_size=200))
def test_any_bytes_body(fuzz_client: TestClient, raw: bytes) -> None:
    response = fuzz_client.post("/v1/ask", content=raw, headers={"content-type": "application/json"})
    _check(response.status_code, response.json())


@_fuzz
@given(article_id=st.text(min_size=1, max_size=60), limit=st.text(max_size=12), offset=st.text(max_size=12))
def test_any_path_and_query(fuzz_client: TestClient, article_id: str, limit: str, offset: str) -> None:
    response = fuzz_client.get(f"/v1/articles/{quote(article_id, safe='')}")
    _check(response.status_code, response.json() if response.headers["content-type"] == "application/json" else None)
    page = fuzz_client.get("/v1/articles", params={"limit": limit, "offset": offset})
    _check(page.status_code, page.json())
