"""create_app mounts the configured chat integrations next to the API; they stay off unless configured."""

from __future__ import annotations

import json

from fastapi.testclient import TestClient
from pydantic import SecretStr

from api.app import create_app
from api.chat_settings import ChatSettings
from qa.service import QAService
from tests.chat_support import BOT_TOKEN, SIGNING_SECRET, signed_headers


def test_slack_and_mattermost_are_mounted_when_configured(fake_service: QAService) -> None:
    chat = ChatSettings(
        slack_signing_secret=SecretStr(SIGNING_SECRET), slack_bot_token=SecretStr(BOT_TOKEN),
        mattermost_token=SecretStr("mm-token"),
    )
    client = TestClient(create_app(fake_service, chat=chat))
    body = json.dumps({"type": "url_verification", "challenge": "c-42"})
    answered = client.post("/slack/events", content=body, headers=signed_headers(body))
    assert answered.status_code == 200 and "c-42" in answered.text
    forged = client.post("/slack/events", content=body, headers=signed_headers(body, secret="wrong"))
    assert forged.status_code == 401
    refused = client.post("/mattermost/command", data={"token": "nope", "text": "GCC"})
    assert refused.status_code == 401


def test_chat_routes_are_absent_when_not_configured(fake_service: QAService) -> None:
    client = TestClient(create_app(fake_service, chat=ChatSettings()))
    assert client.post("/slack/events", content="{}").status_code == 404
    assert client.post("/mattermost/command", data={"token": "x"}).status_code == 404
