"""POST /v1/ask, /v1/ask/stream and /v1/search, in-process and over real HTTP, with the fake embedder."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from api.schemas import AnswerOut
from api.sse import answer_pieces
from qa.serialize import answer_to_dict
from qa.service import QAService
from tests.conftest import GCC_QUESTION, SEED_ID

pytestmark = pytest.mark.both_stores  # run against the FAISS segments and against Milvus Lite


def _shape(value: Any) -> Any:
    """The keys of nested dicts (lists by their first item), without the values."""
    if isinstance(value, dict):
        return {key: _shape(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_shape(value[0])] if value else []
    return None


def _events(body: str) -> list[tuple[str, dict[str, Any]]]:
    """Server-sent events as (name, JSON data) pairs."""
    events = []
    for block in body.strip().split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.splitlines())
        events.append((fields["event"], json.loads(fields["data"])))
    return events


def test_ask_answers_with_citations_shaped_like_qa_ask_json(client: httpx.Client, fake_service: QAService) -> None:
    response = client.post("/v1/ask", json={"question": GCC_QUESTION})
    assert response.status_code == 200
    body = response.json()
    expected = answer_to_dict(fake_service.ask(GCC_QUESTION))
    assert _shape(body) == _shape(expected)
    assert {**body, "conversation_id": None} == {**expected, "conversation_id": None}
    assert body["conversation_id"] and not body["abstained"]
    assert body["citations"][0]["n"] == 1 and "[1]" in body["answer"]
    text = client.get(f"/v1/articles/{SEED_ID}").json()["text"]
    for citation in body["citations"]:
        assert text[citation["start"] : citation["end"]] == citation["quote"]


def test_answer_schema_keeps_every_field_of_answer_to_dict(fake_service: QAService) -> None:
    fake_service.ensure_index()
    data = answer_to_dict(fake_service.ask("Gulf Cooperation Council member states"))
    assert data["citations"] and data["passages"]
    assert AnswerOut.model_validate(data).model_dump(mode="json") == data


def test_follow_up_in_the_same_conversation(client: httpx.Client) -> None:
    first = client.post("/v1/ask", json={"question": "What did Putin say about the Gulf Cooperation Council?"}).json()
    follow_up = client.post(
        "/v1/ask", json={"question": "and what about them?", "conversation_id": first["conversation_id"]}
    ).json()
    assert follow_up["conversation_id"] == first["conversation_id"]
    assert follow_up["question"] == "and what about them?"
    assert "Gulf" in follow_up["resolved_question"]
    fresh = client.post("/v1/ask", json={"question": "and what about them?"}).json()
    assert fresh["conversation_id"] != first["conversation_id"]
    assert fresh["resolved_question"] == "and what about them?"


def test_search_returns_passages_and_no_answer(client: httpx.Client) -> None:
    response = client.post("/v1/search", json={"question": "Operation Epic Fury", "k": 2})
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"question", "passages", "time_window", "time_note"}
    assert (body["time_window"], body["time_note"]) == (None, "")  # the question names no period
    assert len(body["passages"]) == 2
    text = client.get(f"/v1/articles/{SEED_ID}").json()["text"]
    for passage in body["passages"]:
        assert text[passage["start"] : passage["end"]] == passage["text"]


def test_filters_and_as_of(client: httpx.Client) -> None:
    later = {"question": "GCC", "filters": {"since": "2027-01-01"}}
    abstained = client.post("/v1/ask", json=later).json()
    assert abstained["abstained"] is True and abstained["citations"] == []
    assert client.post("/v1/search", json=later).json()["passages"] == []
    elsewhere = {"question": "GCC", "filters": {"sources": ["no-such-source"]}}
    assert client.post("/v1/search", json=elsewhere).json()["passages"] == []
    covering = {"question": "GCC", "filters": {"since": "2026-03-01", "until": "2026-03-31", "sources": ["seeds"]}}
    assert client.post("/v1/search", json={**covering, "as_of": "2026-03-08"}).json()["passages"]


def test_stream_sends_citations_then_answer_pieces_then_done(client: httpx.Client) -> None:
    plain = client.post("/v1/ask", json={"question": GCC_QUESTION}).json()
    response = client.post("/v1/ask/stream", json={"question": GCC_QUESTION})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    events = _events(response.text)
    names = [name for name, _ in events]
    assert names[0] == "citations" and names[-1] == "done" and set(names[1:-1]) == {"answer"}
    assert events[0][1]["citations"] == plain["citations"]
    assert "".join(data["text"] for name, data in events if name == "answer") == plain["answer"]
    done = events[-1][1]
    assert done["question"] == GCC_QUESTION and done["abstained"] is False
    follow_up = client.post(
        "/v1/ask/stream", json={"question": "and what about them?", "conversation_id": done["conversation_id"]}
    )
    assert _events(follow_up.text)[-1][1]["conversation_id"] == done["conversation_id"]


def test_stream_errors_are_plain_http_errors(client: httpx.Client) -> None:
    response = client.post("/v1/ask/stream", json={"question": " "})
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "invalid_request"


def test_answer_pieces_join_back_to_the_answer() -> None:
    text = "First claim. [1] Second claim [2] and more. [3]\nLast."
    pieces = answer_pieces(text)
    assert "".join(pieces) == text
    assert pieces[0] == "First claim. [1]" and len(pieces) == 4
    assert answer_pieces("No markers at all.") == ["No markers at all."]


def test_the_server_searches_the_configured_vector_store(client: httpx.Client, fake_service: QAService, vector_store: str) -> None:
    ready = client.get("/readyz").json()
    assert ready["vector_store"] == vector_store and ready["chunks"] == fake_service.snapshot().size > 0
    assert (fake_service.snapshot().milvus is not None) == (vector_store == "milvus")
    assert not fake_service.snapshot().loaded_segments if vector_store == "milvus" else fake_service.snapshot().loaded_segments
