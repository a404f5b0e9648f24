"""Limits and hostile bytes the other API tests leave out, each a 4xx in the documented shape, never a 500."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from qa.service import QAService

JSON = {"content-type": "application/json"}


def _error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """The status and the documented error shape; the error object."""
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "detail"}
    assert body["error"]["code"] == code
    return dict(body["error"])


def test_search_question_over_the_length_limit_is_422(client: httpx.Client, fake_service: QAService) -> None:
    limit = fake_service.settings.max_question_chars
    assert client.post("/v1/search", json={"question": "x" * limit}).status_code == 200
    error = _error(client.post("/v1/search", json={"question": "x" * (limit + 1)}), 422, "invalid_question")
    assert str(limit) in error["message"]


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/v1/ask", '{"question": "GCC \\ud800"}'),
        ("/v1/search", '{"question": "GCC", "filters": {"sources": ["\\udfff"]}}'),
        ("/v1/articles", '{"articles": [{"id": "s", "title": "\\ud83d", "text": "Some words."}]}'),
        ("/v1/articles", '{"articles": [{"id": "s", "text": "Lone \\ud800 surrogate."}]}'),
    ],
)
def test_lone_surrogates_are_422_not_500(client: httpx.Client, path: str, body: str) -> None:
    error = _error(client.post(path, content=body, headers=JSON), 422, "invalid_request")
    assert error["detail"][0]["type"] == "string_unicode"


@pytest.mark.parametrize("body", [b"\xff\xfe", b'{"question": "caf\xe9"}', b"\xc3"])
def test_a_body_that_is_not_utf8_is_422(client: httpx.Client, body: bytes) -> None:
    error = _error(client.post("/v1/ask", content=body, headers=JSON), 422, "invalid_request")
    assert error["detail"][0]["type"] == "json_invalid"


@pytest.mark.parametrize("path", ["/nothing-here", "/static/no-such-file.js", "/v1", "/v1/articles/a/b"])
def test_unknown_paths_outside_the_api_routes_are_404(client: httpx.Client, path: str) -> None:
    _error(client.get(path), 404, "not_found")
