"""Chat settings from QA_* variables, the routers they turn on, the summary line, and duplicate memory."""

from __future__ import annotations

import pytest
from pydantic import SecretStr, ValidationError

from api.chat_settings import ChatSettings
from api.dedupe import RecentKeys
from api.integrations import chat_routers, chat_summary
from api.slack_events import question_from_event, strip_mention
from qa.service import QAService


def paths(service: QAService, settings: ChatSettings) -> set[str]:
    """The paths served by the routers chat_routers returns."""
    routers = chat_routers(service, settings)
    return {route.path for router in routers for route in router.routes}  # type: ignore[attr-defined]


def test_off_unless_configured(fake_service: QAService) -> None:
    settings = ChatSettings()
    assert not settings.slack_enabled and not settings.mattermost_enabled
    assert chat_routers(fake_service, settings) == []
    assert chat_summary(settings).startswith("chat integrations: off")


def test_environment_turns_integrations_on(monkeypatch: pytest.MonkeyPatch, fake_service: QAService) -> None:
    monkeypatch.setenv("QA_SLACK_SIGNING_SECRET", "sign-secret-1")
    monkeypatch.setenv("QA_SLACK_BOT_TOKEN", "xoxb-token-1")
    monkeypatch.setenv("QA_SLACK_API_URL", "http://127.0.0.1:9/api")
    monkeypatch.setenv("QA_SLACK_CHANNELS", "C0123, C0456 G0789")
    monkeypatch.setenv("QA_SLACK_REPLY_VISIBILITY", "in_channel")
    monkeypatch.setenv("QA_MATTERMOST_TOKEN", "mm-token-1")
    settings = ChatSettings()
    assert settings.slack_channels == ("C0123", "C0456", "G0789")
    assert settings.slack_api_url == "http://127.0.0.1:9/api/"
    assert settings.channel_allowed("C0456") and not settings.channel_allowed("C9")
    assert paths(fake_service, settings) == {"/slack/events", "/slack/commands", "/mattermost/command"}
    summary = chat_summary(settings)
    assert "Slack on" in summary and "C0123, C0456, G0789" in summary and "in_channel" in summary
    assert "Mattermost on" in summary and "\n" not in summary
    for secret in ("sign-secret-1", "xoxb-token-1", "mm-token-1"):
        assert secret not in summary and secret not in repr(settings)


def test_mattermost_alone(fake_service: QAService) -> None:
    assert paths(fake_service, ChatSettings(mattermost_token=SecretStr("t"))) == {"/mattermost/command"}
    assert ChatSettings(mattermost_token=SecretStr("  ")).mattermost_enabled is False


def test_half_configured_slack_is_an_error_naming_the_missing_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QA_SLACK_SIGNING_SECRET", "sign-secret-2")
    with pytest.raises(ValidationError, match="QA_SLACK_BOT_TOKEN") as raised:
        ChatSettings()
    assert "sign-secret-2" not in str(raised.value)


@pytest.mark.parametrize("value", ["#general", "general", "c0123"])
def test_channel_names_are_refused(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("QA_SLACK_CHANNELS", value)
    with pytest.raises(ValidationError, match="channel IDs"):
        ChatSettings()


def test_api_url_must_be_http() -> None:
    with pytest.raises(ValidationError, match="QA_SLACK_API_URL"):
        ChatSettings(slack_api_url="slack.com/api")


def test_recent_keys_claim_once_expire_and_stay_bounded() -> None:
    now = [0.0]
    keys = RecentKeys(ttl_seconds=10, capacity=3, clock=lambda: now[0])
    assert keys.claim("a") and not keys.claim("a")
    now[0] = 10.5
    assert keys.claim("a"), "expired keys can be claimed again"
    for key in "bcde":
        keys.claim(key)
    assert len(keys) == 3 and keys.claim("a"), "the oldest keys are dropped past capacity"


def test_question_from_event_strips_the_bot_mention_and_keys_the_thread() -> None:
    event = {
        "type": "app_mention", "user": "U1", "channel": "C1", "ts": "2.0", "thread_ts": "1.0",
        "text": "<@UBOT> what about <@U2>?",
    }
    body = {"team_id": "T1", "event": event}
    question = question_from_event(body, "UBOT")
    assert question is not None
    assert question.text == "what about <@U2>?"
    assert question.conversation_id == "slack:T1:C1:1.0" and question.thread_ts == "1.0"
    assert strip_mention("<@UOTHER|bot>  hello   there", None) == "hello there"
    dm_mention = {**body, "event": {**event, "channel": "D1"}}
    assert question_from_event(dm_mention, "UBOT") is None, "DMs are answered from their message.im event"
