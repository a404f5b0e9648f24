"""POST /mattermost/command: static token checked in constant time, Slack-compatible JSON reply with sources."""

from __future__ import annotations

from datetime import date
from urllib.parse import urlencode

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import SecretStr

from api.chat_reply import ChatReply
from api.chat_settings import ChatSettings, Visibility
from api.chat_text import ZERO_WIDTH_SPACE
from api.mattermost import mattermost_router
from api.mattermost_format import mattermost_text
from qa.service import QAService
from qa.types import Answer, Citation, Outlet
from tests.chat_support import serve
from tests.conftest import GCC_QUESTION

TOKEN = "mm-token-3b1c"


def form(text: str, token: str = TOKEN) -> str:
    """Mattermost's slash command form post."""
    return urlencode({
        "token": token, "team_id": "team1", "team_domain": "news", "channel_id": "chan1", "channel_name": "town-square",
        "user_id": "user1", "user_name": "ana", "command": "/ask", "text": text,
        "response_url": "http://127.0.0.1:9/hooks/commands/x", "trigger_id": "t1",
    })


def client(service: QAService, visibility: Visibility = "ephemeral") -> TestClient:
    """A TestClient over an app with only the Mattermost router."""
    settings = ChatSettings(mattermost_token=SecretStr(TOKEN), mattermost_reply_visibility=visibility)
    app = FastAPI()
    app.include_router(mattermost_router(service, settings))
    return TestClient(app)


FORM = {"Content-Type": "application/x-www-form-urlencoded"}


@pytest.fixture
def indexed_service(fake_service: QAService) -> QAService:
    """The fake-embedder service with the seeds indexed."""
    fake_service.ensure_index()
    return fake_service


@pytest.mark.parametrize("token", ["wrong", "", TOKEN[:-1], TOKEN + "x"])
def test_wrong_token_gets_401_and_never_reaches_the_library(indexed_service: QAService, token: str) -> None:
    response = client(indexed_service).post("/mattermost/command", content=form(GCC_QUESTION, token), headers=FORM)
    assert response.status_code == 401
    assert TOKEN not in response.text
    assert len(indexed_service.conversations) == 0


def test_right_token_gets_the_answer_with_numbered_sources(real_service: QAService) -> None:
    response = client(real_service).post("/mattermost/command", content=form(GCC_QUESTION), headers=FORM)
    assert response.status_code == 200
    data = response.json()
    assert data["response_type"] == "ephemeral"
    assert data["text"].startswith(f"**Question:** {GCC_QUESTION}\n\n")
    assert "Gulf Cooperation Council (GCC)" in data["text"].split("**Sources**", 1)[0]
    sources = data["text"].split("**Sources**\n", 1)[1].splitlines()
    assert sources[0].startswith("1. Telephonic Condolences to Iran · 2026-03-07 — ")
    gcc = next(line for line in sources if "Gulf Cooperation Council (GCC)" in line)
    assert " — Putin (Russia): “" in gcc, "the statement is shown with who made it"


def test_authorization_header_token_and_in_channel(indexed_service: QAService) -> None:
    body = urlencode({"text": GCC_QUESTION, "channel_id": "chan1", "user_id": "user1"})
    headers = {**FORM, "Authorization": f"Token {TOKEN}"}
    test_client = client(indexed_service, "in_channel")
    response = test_client.post("/mattermost/command", content=body, headers=headers)
    assert response.status_code == 200 and response.json()["response_type"] == "in_channel"


def test_empty_question_gets_a_hint(indexed_service: QAService) -> None:
    response = client(indexed_service).post("/mattermost/command", content=form(" "), headers=FORM)
    assert response.status_code == 200 and "Ask me a question" in response.json()["text"]


def test_over_http(indexed_service: QAService) -> None:
    app = FastAPI()
    app.include_router(mattermost_router(indexed_service, ChatSettings(mattermost_token=SecretStr(TOKEN))))
    with serve(app) as url, httpx.Client(timeout=30) as http:
        good = http.post(f"{url}/mattermost/command", content=form(GCC_QUESTION), headers=FORM)
        bad = http.post(f"{url}/mattermost/command", content=form(GCC_QUESTION, "nope"), headers=FORM)
    assert good.status_code == 200 and "**Sources**\n1. " in good.json()["text"]
    assert bad.status_code == 401


def test_abstained_answer_has_no_sources() -> None:
    text = mattermost_text(ChatReply("q?", Answer("q?", "nothing", True)))
    assert "don't cover" in text and "Sources" not in text


def test_article_markdown_and_mentions_are_neutralised() -> None:
    evil = "@channel see [your bank](https://evil.example) <!here> *now*"
    quoted = Citation(1, "a", f"T {evil}", date(2026, 3, 7), "s", "https://news.example/a (b)", "a#0", evil, 0, 1, 0.9)
    text = mattermost_text(ChatReply("q?", Answer("q?", f"{evil} [1]", False, (quoted,), resolved_question="q?")))
    assert "[your bank](" not in text and "@channel" not in text and "<!here>" not in text
    assert f"@{ZERO_WIDTH_SPACE}channel" in text and r"\[your bank\]" in text
    assert "1. [T @\u200bchannel" in text and "(https://news.example/a%20%28b%29)" in text


def test_a_source_names_the_other_outlets_that_published_it() -> None:
    outlets = (Outlet("AP", "https://apnews.example/a (b)"), Outlet("*BBC* @here"))
    cited = Citation(1, "a", "T", date(2026, 3, 7), "s", None, "a#0", "quote", 0, 5, 0.9, outlets=outlets)
    text = mattermost_text(ChatReply("q?", Answer("q?", "quote [1]", False, (cited,), resolved_question="q?")))
    expected = rf"1. T · 2026-03-07 · also published by: [AP](https://apnews.example/a%20%28b%29), \*BBC\* @{ZERO_WIDTH_SPACE}here — “quote”"
    assert expected in text
