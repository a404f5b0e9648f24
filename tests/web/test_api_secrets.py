"""Secrets: never in logs or responses over a full request cycle; wrong keys and tokens of any length are refused."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from urllib.parse import urlencode

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import SecretStr

from api.app import create_app
from api.chat_settings import ChatSettings
from api.settings import ApiSettings
from qa.service import QAService
from tests.chat_support import signed_headers

READER_KEY = "reader-key-7c1f2e9a40"
ADMIN_KEY = "admin-key-5d8b3c6e21x"
SIGNING_SECRET = "slack-signing-secret-e4a9"
BOT_TOKEN = "xoxb-bot-token-0f3d6b"
MATTERMOST_TOKEN = "mattermost-token-b72c"
SECRETS = (READER_KEY, ADMIN_KEY, SIGNING_SECRET, BOT_TOKEN, MATTERMOST_TOKEN)
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def _bearer(key: str) -> dict[str, str]:
    """An Authorization header."""
    return {"Authorization": f"Bearer {key}"}


def _mattermost(text: str, token: str) -> str:
    """A Mattermost slash command form."""
    return urlencode({"token": token, "team_id": "t", "channel_id": "c", "user_id": "u", "command": "/ask", "text": text})


def _app(service: QAService, rate_limit: int = 0) -> FastAPI:
    """The app with keys, Slack and Mattermost all configured."""
    chat = ChatSettings(
        slack_signing_secret=SecretStr(SIGNING_SECRET), slack_bot_token=SecretStr(BOT_TOKEN),
        slack_api_url="http://127.0.0.1:9/api/", mattermost_token=SecretStr(MATTERMOST_TOKEN),
    )
    settings = ApiSettings(api_keys=READER_KEY, admin_api_keys=ADMIN_KEY, rate_limit_per_minute=rate_limit)
    return create_app(service, settings, chat)


@pytest.fixture
def secured(fake_service: QAService) -> Iterator[TestClient]:
    """An in-process client on the fully configured app, ready, no rate limit."""
    app = _app(fake_service)
    with TestClient(app, raise_server_exceptions=False) as client:
        assert app.state.api.readiness.wait(60), app.state.api.readiness.error
        yield client


def test_no_secret_in_logs_or_responses_across_successes_and_failures(
    fake_service: QAService, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    caplog.set_level(logging.DEBUG)
    app = _app(fake_service, rate_limit=6)
    responses: list[httpx.Response] = []
    article = {"articles": [{"id": "secret-test", "title": "T", "text": "Rain fell on the harbour town."}]}
    with TestClient(app, raise_server_exceptions=False) as client:
        assert app.state.api.readiness.wait(60)
        send = lambda method, path, **kwargs: responses.append(client.request(method, path, **kwargs)) or responses[-1]  # noqa: E731
        assert send("GET", "/v1/articles", headers=_bearer(READER_KEY)).status_code == 200
        assert send("POST", "/v1/ask", json={"question": "GCC"}, headers=_bearer(READER_KEY[:-1] + "x")).status_code == 401
        assert send("POST", "/v1/ask", json={"question": "GCC"}, headers=_bearer(ADMIN_KEY)).status_code == 200
        assert send("POST", "/v1/articles", json=article, headers=_bearer(READER_KEY)).status_code == 403
        assert send("POST", "/v1/articles", json=article, headers=_bearer(ADMIN_KEY)).status_code == 200
        assert send("POST", "/v1/ask", json={"question": "GCC", "k": "all"}, headers=_bearer(ADMIN_KEY)).status_code == 422
        monkeypatch.setattr(fake_service, "find", _crash)
        assert send("POST", "/v1/search", json={"question": "GCC"}, headers=_bearer(ADMIN_KEY)).status_code == 500
        statuses = [send("GET", "/v1/articles", headers=_bearer(READER_KEY)).status_code for _ in range(6)]
        assert statuses[-1] == 429
        body = json.dumps({"type": "url_verification", "challenge": "c-123", "token": "unused"})
        assert send("POST", "/slack/events", content=body, headers=signed_headers(body, SIGNING_SECRET)).status_code == 200
        assert send("POST", "/slack/events", content=body, headers=signed_headers(body, "forged")).status_code == 401
        for token, status in ((MATTERMOST_TOKEN[:-1] + "x", 401), (MATTERMOST_TOKEN, 200)):
            assert send("POST", "/mattermost/command", content=_mattermost("GCC", token), headers=FORM).status_code == status
        monkeypatch.setattr(fake_service, "ask", _crash)
        assert send("POST", "/mattermost/command", content=_mattermost("GCC", MATTERMOST_TOKEN), headers=FORM).status_code == 200
    assert "answering a chat question failed" in caplog.text and "unexpected error on POST /v1/search" in caplog.text
    for secret in SECRETS:
        assert secret not in caplog.text
        for response in responses:
            assert secret not in response.text and secret not in str(response.headers)


def _crash(*_: object, **__: object) -> None:
    """Fail the way a bug would."""
    raise RuntimeError("internal failure")


def _variants(secret: str) -> list[str]:
    """Wrong values of the same length (first, middle, last character changed; case) and of other lengths."""
    def changed(index: int) -> str:
        return secret[:index] + ("x" if secret[index] != "x" else "y") + secret[index + 1 :]

    same_length = [changed(0), changed(len(secret) // 2), changed(len(secret) - 1), secret.upper(), "z" * len(secret)]
    other_length = ["", "x", secret[:-1], secret + "x", secret * 2, secret[1:], f"{secret[:-1]} {secret[-1]}"]
    assert all(len(value) == len(secret) and value != secret for value in same_length)
    return same_length + other_length


@pytest.mark.parametrize("key", [READER_KEY, ADMIN_KEY])
def test_wrong_keys_of_equal_and_other_lengths_are_refused(secured: TestClient, key: str) -> None:
    for wrong in _variants(key):
        response = secured.get("/v1/articles", headers={"Authorization": f"Bearer {wrong}"} if wrong.strip() else {})
        assert response.status_code == 401, wrong
        assert response.json()["error"]["code"] == "unauthorized"
    assert secured.get("/v1/articles", headers=_bearer(key)).status_code == 200
    write = secured.post("/v1/articles", json={"articles": [{"id": "k", "text": "Some words."}]}, headers=_bearer(key))
    assert write.status_code == (200 if key == ADMIN_KEY else 403)


def test_wrong_mattermost_tokens_of_equal_and_other_lengths_are_refused(secured: TestClient) -> None:
    for wrong in _variants(MATTERMOST_TOKEN):
        form = secured.post("/mattermost/command", content=_mattermost("GCC", wrong), headers=FORM)
        header = secured.post(
            "/mattermost/command", content=_mattermost("GCC", ""), headers={**FORM, "Authorization": f"Token {wrong}"}
        )
        assert form.status_code == header.status_code == 401, wrong
    header = {**FORM, "Authorization": f"Token {MATTERMOST_TOKEN}"}
    assert secured.post("/mattermost/command", content=_mattermost("GCC", ""), headers=header).status_code == 200
