"""POST /slack/commands over real HTTP: quick ack, the answer posted to response_url on a fake Slack."""

from __future__ import annotations

import time

import pytest

from api.chat_reply import ASK_HINT, LOOKING_UP
from api.slack import NOT_HERE
from qa.service import QAService
from tests.chat_support import command_body, running_bot, section_texts, signed_headers, sources
from tests.conftest import GCC_QUESTION


@pytest.fixture
def indexed_service(fake_service: QAService) -> QAService:
    """The fake-embedder service with the seeds indexed."""
    fake_service.ensure_index()
    return fake_service


def test_slash_command_acks_then_answers_at_response_url(real_service: QAService) -> None:
    with running_bot(real_service) as bot:
        started = time.monotonic()
        response = bot.post("/slack/commands", command_body(GCC_QUESTION, f"{bot.slack.url}/response/1"))
        acked_in = time.monotonic() - started
        [answer] = bot.slack.wait_for("/response/1")
        bot.settle()
        assert len(bot.slack.requests("/response/1")) == 1
        assert bot.slack.requests("/api/chat.postMessage") == []
    assert response.status_code == 200 and response.text == LOOKING_UP and acked_in < 3.0
    assert answer.body["response_type"] == "ephemeral" and answer.body["replace_original"] is False
    blocks = answer.body["blocks"]
    assert section_texts(blocks)[0] == f"*Question:* {GCC_QUESTION}"
    [first, *rest] = sources(blocks)
    assert first[0].startswith("[1] Telephonic Condolences to Iran")
    assert any("Putin (Russia): “" in source[1] and "Gulf Cooperation Council" in source[1] for source in [first, *rest])


def test_in_channel_visibility_when_configured(indexed_service: QAService) -> None:
    with running_bot(indexed_service, slack_reply_visibility="in_channel") as bot:
        bot.post("/slack/commands", command_body(GCC_QUESTION, f"{bot.slack.url}/response/2"))
        [answer] = bot.slack.wait_for("/response/2")
        bot.settle()
    assert answer.body["response_type"] == "in_channel"


def test_forged_command_gets_401_and_no_answer(indexed_service: QAService) -> None:
    body = command_body(GCC_QUESTION, "http://127.0.0.1:9/never")
    with running_bot(indexed_service) as bot:
        forged = bot.post("/slack/commands", body, headers=signed_headers(body, secret="wrong"))
        stale = bot.post("/slack/commands", body, headers=signed_headers(body, timestamp=int(time.time()) - 600))
        bot.settle()
        assert bot.slack.received == []
    assert forged.status_code == stale.status_code == 401
    assert len(indexed_service.conversations) == 0


def test_empty_command_gets_a_hint_and_nothing_else(indexed_service: QAService) -> None:
    with running_bot(indexed_service) as bot:
        response = bot.post("/slack/commands", command_body("   ", f"{bot.slack.url}/response/3"))
        bot.settle()
        assert bot.slack.requests("/response/3") == []
    assert response.text == ASK_HINT


def test_command_outside_the_allowed_channels_is_declined(indexed_service: QAService) -> None:
    with running_bot(indexed_service, slack_channels="C1") as bot:
        response = bot.post("/slack/commands", command_body(GCC_QUESTION, f"{bot.slack.url}/response/4", channel="C2"))
        bot.settle()
        assert bot.slack.requests("/response/4") == []
    assert response.text == NOT_HERE
    assert len(indexed_service.conversations) == 0


def test_follow_up_commands_share_the_users_conversation(indexed_service: QAService) -> None:
    with running_bot(indexed_service) as bot:
        bot.post("/slack/commands", command_body(GCC_QUESTION, f"{bot.slack.url}/response/5"))
        bot.slack.wait_for("/response/5")
        bot.post("/slack/commands", command_body("and how did Iran respond?", f"{bot.slack.url}/response/6"))
        bot.slack.wait_for("/response/6")
        bot.settle()
    turns = indexed_service.conversations.get_or_create("slack:T1:C1:U1:command").turns
    assert [turn.question for turn in turns] == [GCC_QUESTION, "and how did Iran respond?"]
