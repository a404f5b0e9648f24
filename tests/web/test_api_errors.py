"""Every error has one shape and the right status; nothing a client sends gives a 500."""

from __future__ import annotations

import logging
import socket
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from api.app import create_app
from api.errors import LIBRARY_ERRORS
from api.settings import ApiSettings
from qa.errors import QAError
from qa.service import QAService
from tests.web.conftest import OpenClient
from tests.web.servers import serve_in_thread

pytestmark = pytest.mark.both_stores  # run against the FAISS segments and against Milvus Lite


def _error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """Check the status and the documented error shape; the error object."""
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "detail"}
    assert body["error"]["code"] == code and body["error"]["message"]
    return dict(body["error"])


def test_malformed_json_is_422_with_pydantics_detail(client: httpx.Client) -> None:
    response = client.post("/v1/ask", content=b'{"question": ', headers={"content-type": "application/json"})
    error = _error(response, 422, "invalid_request")
    assert error["detail"][0]["type"] == "json_invalid"
    assert "JSON" in error["message"] and "see detail" in error["message"]


@pytest.mark.parametrize("question", ["", "   \n\t"])
def test_empty_question_is_422(client: httpx.Client, question: str) -> None:
    error = _error(client.post("/v1/ask", json={"question": question}), 422, "invalid_request")
    assert error["detail"][0]["loc"] == ["body", "question"]
    assert error["message"].startswith("the request is not valid: question: "), error["message"]


@pytest.mark.parametrize(
    ("body", "location"),
    [
        ({}, ["body", "question"]),
        ({"question": "GCC", "k": 0}, ["body", "k"]),
        ({"question": "GCC", "k": "many"}, ["body", "k"]),
        ({"question": "GCC", "colour": "red"}, ["body", "colour"]),
        ({"question": "GCC", "filters": {"since": "last week"}}, ["body", "filters", "since"]),
        ({"question": "GCC", "conversation_id": "../../etc"}, ["body", "conversation_id"]),
        ({"question": ["GCC"]}, ["body", "question"]),
    ],
)
def test_invalid_fields_are_422_naming_the_field(client: httpx.Client, body: dict[str, Any], location: list[str]) -> None:
    for path in ("/v1/ask", "/v1/search"):
        if path == "/v1/search" and "conversation_id" in body:
            continue
        error = _error(client.post(path, json=body), 422, "invalid_request")
        assert error["detail"][0]["loc"] == location


def test_question_over_the_length_limit_is_422(client: httpx.Client, fake_service: QAService) -> None:
    limit = fake_service.settings.max_question_chars
    assert client.post("/v1/search", json={"question": "GCC " * (limit // 4)}).status_code == 200
    error = _error(client.post("/v1/ask", json={"question": "x" * (limit + 1)}), 422, "invalid_question")
    assert str(limit) in error["message"]
    _error(client.post("/v1/ask/stream", json={"question": "x" * (limit + 1)}), 422, "invalid_question")


def test_unknown_article_is_404(client: httpx.Client) -> None:
    _error(client.get("/v1/articles/no-such-article"), 404, "article_not_found")
    _error(client.delete("/v1/articles/no-such-article"), 404, "article_not_found")


def test_unknown_route_and_wrong_method(client: httpx.Client) -> None:
    _error(client.get("/v1/nothing-here"), 404, "not_found")
    response = client.put("/v1/ask", json={"question": "GCC"})
    _error(response, 405, "method_not_allowed")
    assert response.headers["allow"] == "POST"


def test_body_over_the_limit_is_413(open_client: OpenClient) -> None:
    client = open_client(max_body_bytes=2048)
    big = {"question": "GCC " * 1000}
    _error(client.post("/v1/ask", json=big), 413, "body_too_large")

    def chunks() -> Iterator[bytes]:
        yield b'{"question": "'
        yield b"GCC " * 1000
        yield b'"}'

    _error(client.post("/v1/ask", content=chunks(), headers={"content-type": "application/json"}), 413, "body_too_large")
    assert client.post("/v1/ask", json={"question": "GCC"}).status_code == 200


@pytest.mark.parametrize(("kind", "status", "code"), LIBRARY_ERRORS, ids=[kind.__name__ for kind, *_ in LIBRARY_ERRORS])
def test_library_errors_map_to_their_status(
    client: httpx.Client, fake_service: QAService, monkeypatch: pytest.MonkeyPatch, kind: type[QAError], status: int, code: str
) -> None:
    def fail(*_: object, **__: object) -> None:
        raise kind("what went wrong and what to do next")

    monkeypatch.setattr(fake_service, "ask", fail)
    error = _error(client.post("/v1/ask", json={"question": "GCC"}), status, code)
    assert error["message"] == "what went wrong and what to do next"


def test_an_unexpected_error_is_a_500_in_the_documented_shape(
    client: httpx.Client, fake_service: QAService, monkeypatch: pytest.MonkeyPatch
) -> None:
    def crash(*_: object, **__: object) -> None:
        raise RuntimeError("secret internal detail")

    monkeypatch.setattr(fake_service, "find", crash)
    response = client.post("/v1/search", json={"question": "GCC"})
    _error(response, 500, "internal_error")
    assert "secret internal detail" not in response.text


def test_a_500_keeps_the_connection_for_the_next_request(
    fake_service: QAService, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def crash(*_: object, **__: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(fake_service, "find", crash)
    app = create_app(fake_service, ApiSettings(rate_limit_per_minute=0))
    body = b'{"question": "GCC"}'
    failing = b"POST /v1/search HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)
    healthy = b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n"
    with serve_in_thread(app) as base_url, caplog.at_level(logging.ERROR, logger="qa.api"):
        assert app.state.api.readiness.wait(60), app.state.api.readiness.error
        host, port = base_url.removeprefix("http://").split(":")
        with socket.create_connection((host, int(port)), timeout=10) as connection:
            connection.sendall(failing + healthy)  # both on one keep-alive connection, the second already sent
            received = b""
            while received.count(b"HTTP/1.1 ") < 2:
                chunk = connection.recv(65536)
                assert chunk, f"the server closed the connection after: {received!r}"
                received += chunk
    assert received.startswith(b"HTTP/1.1 500 ") and b'"internal_error"' in received
    assert b"HTTP/1.1 200 " in received.split(b"HTTP/1.1 500 ", 1)[1]
    assert [record.getMessage() for record in caplog.records] == ["unexpected error on POST /v1/search"]  # logged once
