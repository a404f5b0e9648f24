"""POST /slack/events over real HTTP: signatures, acks, threads, dedupe, filtering; replies land on a fake Slack."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from api.chat_reply import FAILED
from index.embedder import HashingEmbedder
from qa.config import Settings
from qa.service import QAService
from qa.types import Answer
from tests.chat_support import (
    BOT_ID,
    BOT_TOKEN,
    BOT_USER_ID,
    SIGNING_SECRET,
    TEAM_ID,
    direct_message,
    event_body,
    mention,
    running_bot,
    section_texts,
    signed_headers,
    sources,
)
from tests.conftest import GCC_QUESTION

THREAD = "1772900000.000100"


class GatedService(QAService):
    """A real service whose answers wait until the test opens the gate."""

    def __init__(self, settings: Settings, **parts: object) -> None:
        super().__init__(settings, **parts)  # type: ignore[arg-type]
        self.gate = threading.Event()

    def ask(self, question: str, *args: object, **kwargs: object) -> Answer:
        """Wait for the gate, then answer."""
        assert self.gate.wait(30), "the test never opened the gate"
        return super().ask(question, *args, **kwargs)  # type: ignore[arg-type]


class BrokenService(QAService):
    """A service whose answering fails with an internal error."""

    def ask(self, question: str, *args: object, **kwargs: object) -> Answer:
        """Fail the way a bug would."""
        raise RuntimeError("internal detail: /srv/secret/path exploded")


@pytest.fixture
def indexed_service(fake_service: QAService) -> QAService:
    """The fake-embedder service with the seeds indexed."""
    fake_service.ensure_index()
    return fake_service


def test_url_verification_answers_the_challenge(indexed_service: QAService) -> None:
    challenge = "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"
    body = json.dumps({"token": "t", "challenge": challenge, "type": "url_verification"})
    with running_bot(indexed_service) as bot:
        response = bot.post("/slack/events", body)
        unsigned = bot.post("/slack/events", body, headers={})
    assert response.status_code == 200
    assert response.json() == {"challenge": challenge}
    assert unsigned.status_code == 401


def test_mention_is_answered_once_in_its_thread_with_the_gcc_passage(real_service: QAService) -> None:
    with running_bot(real_service) as bot:
        response = bot.event(mention(f"<@{BOT_USER_ID}> {GCC_QUESTION}", THREAD), "Ev-gcc")
        assert response.status_code == 200
        [post] = bot.slack.wait_for("/api/chat.postMessage")
        bot.settle()
        assert len(bot.slack.requests("/api/chat.postMessage")) == 1
    assert post.headers["Authorization"] == f"Bearer {BOT_TOKEN}"
    assert post.body["channel"] == "C1" and post.body["thread_ts"] == THREAD
    [first, *rest] = sources(post.body["blocks"])
    assert first[0] == "[1] Telephonic Condolences to Iran · 2026-03-07"
    assert any("Gulf Cooperation Council (GCC)" in source[1] for source in [first, *rest])
    answer = " ".join(section_texts(post.body["blocks"]))
    assert "He confirmed that Moscow maintained constant contact with Gulf Cooperation Council" in answer
    assert not answer.startswith("He "), "the answer opens with a pronoun it does not resolve"
    assert "[1]" in answer and post.body["text"].startswith(answer[:40])
    [turn] = real_service.conversations.get_or_create(f"slack:{TEAM_ID}:C1:{THREAD}").turns
    assert turn.question == GCC_QUESTION


def _gcc_then_follow_up(service: QAService, thread: str) -> list[dict[str, Any]]:
    """Ask the GCC question in a new thread, then 'and how did Iran respond?' in it; the two posted messages."""
    with running_bot(service) as bot:
        bot.event(mention(f"<@{BOT_USER_ID}> {GCC_QUESTION}", thread), f"Ev-{thread}-1")
        bot.slack.wait_for("/api/chat.postMessage")
        follow_up = mention(f"<@{BOT_USER_ID}> and how did Iran respond?", f"{thread}1", thread_ts=thread)
        assert bot.event(follow_up, f"Ev-{thread}-2").status_code == 200
        bot.slack.wait_for("/api/chat.postMessage", 2)
        bot.settle()
        return [request.body for request in bot.slack.requests("/api/chat.postMessage")]


def test_follow_up_in_the_thread_is_answered_from_the_iran_passage(real_service: QAService) -> None:
    thread = "1772900001.000200"
    first, second = _gcc_then_follow_up(real_service, thread)
    assert first["thread_ts"] == second["thread_ts"] == thread
    turns = real_service.conversations.get_or_create(f"slack:{TEAM_ID}:C1:{thread}").turns
    assert [turn.question for turn in turns] == [GCC_QUESTION, "and how did Iran respond?"]
    contexts = [block for block in second["blocks"] if block["type"] == "context"]
    notes = [element["text"] for block in contexts for element in block["elements"]]
    assert (f"Read as: {turns[1].resolved}" in notes) == (turns[1].resolved != turns[1].question)
    assert any("Pezeshkian expressed gratitude" in source[1] for source in sources(second["blocks"]))


UNVERIFIED: dict[str, Callable[[str], dict[str, str]]] = {
    "forged": lambda body: signed_headers(body, secret="not-the-secret"),
    "stale": lambda body: signed_headers(body, timestamp=int(time.time()) - 6 * 60),
    "future": lambda body: signed_headers(body, timestamp=int(time.time()) + 6 * 60),
    "missing-headers": lambda body: {},
    "no-signature": lambda body: {"X-Slack-Request-Timestamp": str(int(time.time()))},
    "no-timestamp": lambda body: {"X-Slack-Signature": signed_headers(body)["X-Slack-Signature"]},
    "other-version": lambda body: {
        **signed_headers(body), "X-Slack-Signature": signed_headers(body)["X-Slack-Signature"].replace("v0=", "v1=")
    },
}


@pytest.mark.parametrize("kind", UNVERIFIED)
def test_unverified_requests_get_401_and_never_reach_the_library(indexed_service: QAService, kind: str) -> None:
    body = event_body(mention(f"<@{BOT_USER_ID}> {GCC_QUESTION}", THREAD), f"Ev-{kind}")
    with running_bot(indexed_service) as bot:
        response = bot.post("/slack/events", body, headers=UNVERIFIED[kind](body))
        bot.settle()
        assert response.status_code == 401
        assert bot.slack.received == []
    assert len(indexed_service.conversations) == 0
    assert SIGNING_SECRET not in response.text and BOT_TOKEN not in response.text


def test_body_altered_after_signing_is_rejected(indexed_service: QAService) -> None:
    body = event_body(mention(f"<@{BOT_USER_ID}> {GCC_QUESTION}", THREAD), "Ev-altered")
    headers = signed_headers(body)
    with running_bot(indexed_service) as bot:
        response = bot.post("/slack/events", body.replace("GCC", "CIA"), headers=headers)
        bot.settle()
        assert response.status_code == 401 and bot.slack.received == []
    assert len(indexed_service.conversations) == 0


def test_retries_and_duplicate_deliveries_get_one_answer(indexed_service: QAService) -> None:
    event = mention(f"<@{BOT_USER_ID}> {GCC_QUESTION}", THREAD)
    with running_bot(indexed_service) as bot:
        assert bot.event(event, "Ev-dup").status_code == 200
        retry = bot.event(event, "Ev-dup", extra={"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"})
        again = bot.event(event, "Ev-dup")
        bot.slack.wait_for("/api/chat.postMessage")
        bot.settle()
        posts = bot.slack.requests("/api/chat.postMessage")
    assert [retry.status_code, again.status_code] == [200, 200]
    assert len(posts) == 1


def test_a_retry_of_an_event_never_received_is_answered(indexed_service: QAService) -> None:
    event = mention(f"<@{BOT_USER_ID}> {GCC_QUESTION}", THREAD)
    with running_bot(indexed_service) as bot:
        bot.event(event, "Ev-lost", extra={"X-Slack-Retry-Num": "2", "X-Slack-Retry-Reason": "http_error"})
        bot.slack.wait_for("/api/chat.postMessage")
        bot.settle()
        assert len(bot.slack.requests("/api/chat.postMessage")) == 1


def test_one_message_delivered_under_two_event_ids_gets_one_answer(indexed_service: QAService) -> None:
    message = direct_message(GCC_QUESTION, "1772900004.000500")
    with running_bot(indexed_service) as bot:
        bot.event(message, "Ev-first-id")
        bot.event(message, "Ev-second-id")
        bot.slack.wait_for("/api/chat.postMessage")
        bot.settle()
        assert len(bot.slack.requests("/api/chat.postMessage")) == 1


@pytest.mark.parametrize(
    "event",
    [
        pytest.param(direct_message("hi", "1.1", user=BOT_USER_ID), id="own-message"),
        pytest.param(direct_message("hi", "1.2", bot_id=BOT_ID), id="own-bot-id"),
        pytest.param(
            direct_message("the GCC?", "1.3", bot_id="B999", subtype="bot_message", user=None), id="other-bot"
        ),
        pytest.param(direct_message("the GCC?", "1.4", bot_id="B999", user="U9"), id="other-bot-with-user"),
        pytest.param(direct_message("the GCC?", "1.5", subtype="message_changed"), id="edit"),
        pytest.param(direct_message("the GCC?", "1.6", channel_type="channel", channel="C1"), id="channel-message"),
        pytest.param(
            direct_message(f"<@{BOT_USER_ID}> the GCC?", "1.7", channel_type="channel", channel="C1"),
            id="channel-message-echoing-a-mention",
        ),
    ],
)
def test_ignored_messages_get_no_reply(indexed_service: QAService, event: dict[str, object]) -> None:
    with running_bot(indexed_service) as bot:
        assert bot.event(event, f"Ev-ignored-{event['ts']}").status_code == 200
        bot.settle()
        assert bot.slack.requests("/api/chat.postMessage") == []
    assert len(indexed_service.conversations) == 0


def test_mention_and_its_channel_message_echo_get_one_answer(indexed_service: QAService) -> None:
    text = f"<@{BOT_USER_ID}> {GCC_QUESTION}"
    with running_bot(indexed_service) as bot:
        bot.event(direct_message(text, THREAD, channel_type="channel", channel="C1"), "Ev-echo-message")
        bot.event(mention(text, THREAD), "Ev-echo-mention")
        bot.slack.wait_for("/api/chat.postMessage")
        bot.settle()
        [post] = bot.slack.requests("/api/chat.postMessage")
    assert post.body["thread_ts"] == THREAD and post.body["channel"] == "C1"


def test_direct_message_is_answered_in_its_thread(indexed_service: QAService) -> None:
    with running_bot(indexed_service) as bot:
        bot.event(direct_message(GCC_QUESTION, "1772900003.000400"), "Ev-dm")
        [post] = bot.slack.wait_for("/api/chat.postMessage")
        bot.settle()
        assert len(bot.slack.requests("/api/chat.postMessage")) == 1
    assert post.body["channel"] == "D1" and post.body["thread_ts"] == "1772900003.000400"
    assert sources(post.body["blocks"])[0][0].startswith("[1] Telephonic Condolences to Iran")


def test_only_allowed_channels_are_answered(indexed_service: QAService) -> None:
    with running_bot(indexed_service, slack_channels="C1") as bot:
        bot.event(mention(f"<@{BOT_USER_ID}> {GCC_QUESTION}", "1.1", channel="C2"), "Ev-not-allowed")
        bot.event(direct_message(GCC_QUESTION, "1.2"), "Ev-dm-not-allowed")
        bot.event(mention(f"<@{BOT_USER_ID}> {GCC_QUESTION}", "1.3", channel="C1"), "Ev-allowed")
        bot.slack.wait_for("/api/chat.postMessage")
        bot.settle()
        [post] = bot.slack.requests("/api/chat.postMessage")
    assert post.body["channel"] == "C1" and post.body["thread_ts"] == "1.3"


def test_acknowledges_before_answering(settings: Settings, fake_embedder: HashingEmbedder) -> None:
    service = GatedService(settings, embedder=fake_embedder)
    service.ensure_index()
    with running_bot(service) as bot:
        started = time.monotonic()
        response = bot.event(mention(f"<@{BOT_USER_ID}> {GCC_QUESTION}", THREAD), "Ev-slow")
        acked_in = time.monotonic() - started
        posted_before_answer = len(bot.slack.requests("/api/chat.postMessage"))
        service.gate.set()
        bot.slack.wait_for("/api/chat.postMessage")
        bot.settle()
    assert response.status_code == 200 and acked_in < 3.0
    assert posted_before_answer == 0


def test_failure_gets_a_short_friendly_reply(
    settings: Settings, fake_embedder: HashingEmbedder, caplog: pytest.LogCaptureFixture
) -> None:
    service = BrokenService(settings, embedder=fake_embedder)
    with running_bot(service) as bot:
        bot.event(mention(f"<@{BOT_USER_ID}> {GCC_QUESTION}", THREAD), "Ev-broken")
        [post] = bot.slack.wait_for("/api/chat.postMessage")
        bot.settle()
    assert post.body["text"] == FAILED
    assert "internal detail" not in json.dumps(post.body)
    assert "internal detail" in caplog.text, "the failure is logged for the operator"


def test_refused_blocks_fall_back_to_a_plain_apology(indexed_service: QAService) -> None:
    with running_bot(indexed_service) as bot:
        bot.slack.refuse_blocks = True
        bot.event(mention(f"<@{BOT_USER_ID}> {GCC_QUESTION}", THREAD), "Ev-refused")
        refused, apology = bot.slack.wait_for("/api/chat.postMessage", 2)
        bot.settle()
    assert "blocks" in refused.body and "blocks" not in apology.body
    assert apology.body["text"] == FAILED and apology.body["thread_ts"] == THREAD


def test_empty_mention_gets_a_hint(indexed_service: QAService) -> None:
    with running_bot(indexed_service) as bot:
        bot.event(mention(f"<@{BOT_USER_ID}>", THREAD), "Ev-empty")
        [post] = bot.slack.wait_for("/api/chat.postMessage")
        bot.settle()
    assert "Ask me a question" in post.body["text"]


def test_secrets_never_reach_logs_or_replies(indexed_service: QAService, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    body = event_body(mention(f"<@{BOT_USER_ID}> {GCC_QUESTION}", THREAD), "Ev-secret")
    with running_bot(indexed_service) as bot:
        rejected = bot.post("/slack/events", body, headers=signed_headers(body, secret="wrong"))
        bot.event(mention(f"<@{BOT_USER_ID}> {GCC_QUESTION}", THREAD), "Ev-secret-ok")
        [post] = bot.slack.wait_for("/api/chat.postMessage")
        bot.settle()
    assert rejected.status_code == 401
    for secret in (SIGNING_SECRET, BOT_TOKEN):
        assert secret not in caplog.text
        assert secret not in rejected.text and secret not in json.dumps(post.body)

