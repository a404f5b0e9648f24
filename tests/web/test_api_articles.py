"""The articles behind the answers: list, read, add or replace, delete."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from index.build import written_bytes
from tests.conftest import SEED_ID

pytestmark = pytest.mark.both_stores  # run against the FAISS segments and against Milvus Lite

MARLOW = {
    "id": "marlow-flood",
    "title": "Flood in Marlow",
    "text": "Heavy rain flooded the river town of Marlow on Tuesday. Volunteers evacuated four hundred residents by boat.",
    "date": "2026-04-02",
    "url": "https://news.example/marlow-flood",
}
MARLOW_QUESTION = "how many residents of Marlow did volunteers evacuate by boat?"


def _cited_ids(client: httpx.Client, question: str) -> set[str]:
    """Article ids cited by the answer to a question."""
    answer = client.post("/v1/ask", json={"question": question}).json()
    return {citation["article_id"] for citation in answer["citations"]}


def _write(client: httpx.Client, *articles: dict[str, Any]) -> httpx.Response:
    """POST articles."""
    return client.post("/v1/articles", json={"articles": list(articles)})


def test_added_article_is_cited_and_deleted_one_never_again(client: httpx.Client) -> None:
    written = _write(client, MARLOW)
    assert written.status_code == 200
    assert written.json()["ids"] == ["marlow-flood"] and written.json()["index"]["added"] == 1
    if written_bytes() is not None:  # Linux: what the write cost on disk is reported
        assert written.json()["index"]["bytes_written"] > 0
    answer = client.post("/v1/ask", json={"question": MARLOW_QUESTION}).json()
    first = answer["citations"][0]
    assert first["article_id"] == "marlow-flood" and first["url"] == MARLOW["url"] and first["date"] == "2026-04-02"
    article = client.get("/v1/articles/marlow-flood").json()
    assert article["text"][first["start"] : first["end"]] == first["quote"]

    deleted = client.delete("/v1/articles/marlow-flood")
    assert deleted.status_code == 200 and deleted.json()["id"] == "marlow-flood"
    assert deleted.json()["index"]["removed"] == 1
    change = deleted.json()["index"]
    assert change["tombstones"] >= 1 and change["segments"] >= 2 and change["generation"] > written.json()["index"]["generation"]
    assert client.get("/v1/articles/marlow-flood").status_code == 404
    for question in (MARLOW_QUESTION, "Marlow flood volunteers boat", "Heavy rain flooded the river town"):
        assert "marlow-flood" not in _cited_ids(client, question)
        passages = client.post("/v1/search", json={"question": question, "k": 10}).json()["passages"]
        assert "marlow-flood" not in {passage["article_id"] for passage in passages}


def test_writing_an_existing_id_replaces_the_article(client: httpx.Client) -> None:
    _write(client, MARLOW)
    changed = {**MARLOW, "text": "The Marlow ferry was cancelled because of fog over the estuary."}
    response = _write(client, changed)
    assert response.json()["index"]["updated"] == 1
    assert client.get("/v1/articles/marlow-flood").json()["text"] == changed["text"]
    answer = client.post("/v1/ask", json={"question": "why was the Marlow ferry cancelled?"}).json()
    assert answer["citations"][0]["article_id"] == "marlow-flood"
    assert "fog" in answer["citations"][0]["quote"]


def test_articles_are_listed_newest_first_one_page_at_a_time(client: httpx.Client) -> None:
    extra = [
        {"id": f"note-{day}", "title": f"Note {day}", "text": f"Town notice number {day}.", "date": f"2026-05-{day:02d}"}
        for day in (1, 2, 3)
    ]
    assert _write(client, *extra).json()["index"]["added"] == 3
    first = client.get("/v1/articles", params={"limit": 2}).json()
    assert [article["id"] for article in first["articles"]] == ["note-3", "note-2"]
    assert (first["total"], first["limit"], first["offset"], first["next_offset"]) == (4, 2, 0, 2)
    assert "text" not in first["articles"][0]
    assert set(first["articles"][0]) == {"id", "title", "source", "date", "url", "outlets", "content_hash"}
    second = client.get("/v1/articles", params={"limit": 2, "offset": first["next_offset"]}).json()
    assert [article["id"] for article in second["articles"]] == ["note-1", SEED_ID]
    assert second["next_offset"] is None


def test_an_article_has_its_metadata_and_text(client: httpx.Client) -> None:
    article = client.get(f"/v1/articles/{SEED_ID}").json()
    assert article["title"] == "Telephonic Condolences to Iran" and article["date"] == "2026-03-07"
    assert "Gulf Cooperation Council (GCC)" in article["text"]


def test_an_article_names_the_other_outlets_that_published_it_in_every_answer(client: httpx.Client) -> None:
    outlets = [{"source": "AP", "url": "https://apnews.example/marlow", "date": "2026-04-03"}, {"source": " BBC "}]
    shown = [{**outlets[0]}, {"source": "BBC", "url": None, "date": None}]
    assert _write(client, {**MARLOW, "outlets": outlets}).json()["index"]["added"] == 1
    assert client.get("/v1/articles/marlow-flood").json()["outlets"] == shown
    listed = client.get("/v1/articles").json()["articles"]
    assert {article["id"]: article["outlets"] for article in listed} == {"marlow-flood": shown, SEED_ID: []}
    citations = client.post("/v1/ask", json={"question": MARLOW_QUESTION}).json()["citations"]
    assert citations[0]["article_id"] == "marlow-flood" and citations[0]["outlets"] == shown
    filters = {"sources": ["apnews.example"]}
    passages = client.post("/v1/search", json={"question": "Marlow flood", "filters": filters}).json()["passages"]
    assert {passage["article_id"] for passage in passages} == {"marlow-flood"} and passages[0]["outlets"] == shown
    replaced = _write(client, {**MARLOW, "outlets": outlets[:1]}).json()["index"]
    assert (replaced["updated"], replaced["embedded"]) == (1, 0)
    assert client.get("/v1/articles/marlow-flood").json()["outlets"] == shown[:1]


@pytest.mark.parametrize(
    "article",
    [
        {**MARLOW, "outlets": [{"url": "https://apnews.example/marlow"}]},
        {**MARLOW, "outlets": [{"source": "   "}]},
        {**MARLOW, "outlets": [{"source": "AP", "url": "javascript:alert(1)"}]},
        {**MARLOW, "outlets": [{"source": "AP", "date": "yesterday"}]},
        {**MARLOW, "outlets": [{"source": "AP", "author": "someone"}]},
        {**MARLOW, "outlets": "AP"},
        {**MARLOW, "id": "has spaces"},
        {**MARLOW, "id": "-leading-dash"},
        {**MARLOW, "text": "   \n "},
        {**MARLOW, "date": "yesterday"},
        {**MARLOW, "url": "javascript:alert(1)"},
        {**MARLOW, "author": "someone"},
        {"id": "no-text", "title": "No text"},
    ],
)
def test_invalid_articles_are_422(client: httpx.Client, article: dict[str, Any]) -> None:
    response = _write(client, article)
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "invalid_request"


def test_a_request_needs_one_to_a_hundred_distinct_articles(client: httpx.Client) -> None:
    assert _write(client).status_code == 422
    repeated = _write(client, MARLOW, MARLOW)
    assert repeated.status_code == 422 and "repeated: marlow-flood" in repeated.text
    assert client.post("/v1/articles", json=MARLOW).status_code == 422
