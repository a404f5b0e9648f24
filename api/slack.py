"""The Slack bot: one Bolt app per router, serving POST /slack/events and POST /slack/commands."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from concurrent.futures import Executor
from typing import Any

from fastapi import APIRouter, Request, Response
from slack_bolt import Ack, App, BoltContext, BoltResponse, Respond
from slack_bolt.adapter.starlette.handler import to_bolt_request, to_starlette_response
from slack_sdk.errors import SlackApiError
from slack_sdk.web import WebClient
from starlette.concurrency import run_in_threadpool

from api.chat_reply import ASK_HINT, FAILED, LOOKING_UP, ask_for_chat
from api.chat_settings import ChatSettings
from api.dedupe import RecentKeys, RedisRecentKeys, recent_keys
from api.slack_blocks import SlackMessage, slack_message
from api.slack_events import SlackQuestion, question_from_event
from qa.service import QAService

logger = logging.getLogger(__name__)

NOT_HERE = "I only answer in the channels I'm set up for; ask me there, or ask an admin to add this one."


def slack_router(service: QAService, settings: ChatSettings, executor: Executor | None = None) -> APIRouter:
    """An APIRouter with the Slack endpoints, backed by its own Bolt app (and duplicate-delivery memory)."""
    app = slack_app(service, settings, executor)
    router = APIRouter(tags=["slack"])

    async def dispatch(request: Request) -> Response:
        """Verify and dispatch a Slack request off the event loop; Bolt acknowledges before answering."""
        body = await request.body()
        bolt_response = await run_in_threadpool(app.dispatch, to_bolt_request(request, body))
        return to_starlette_response(bolt_response)

    for path in ("/slack/events", "/slack/commands"):
        router.add_api_route(path, dispatch, methods=["POST"], include_in_schema=False)
    return router


def slack_app(service: QAService, settings: ChatSettings, executor: Executor | None = None) -> App:
    """A Bolt app that answers mentions, DMs and slash commands; listeners run on executor after the ack."""
    if settings.slack_signing_secret is None or settings.slack_bot_token is None:
        raise ValueError("Slack is off: set QA_SLACK_SIGNING_SECRET and QA_SLACK_BOT_TOKEN to turn it on")
    token = settings.slack_bot_token.get_secret_value()
    app = App(
        signing_secret=settings.slack_signing_secret.get_secret_value(),
        client=WebClient(token=token, base_url=settings.slack_api_url),
        token_verification_enabled=False,
        process_before_response=False,
        listener_executor=executor,
    )
    bot = SlackResponder(service, settings, recent_keys(settings.slack_dedupe_seconds, service.settings.redis_url))
    app.middleware(bot.drop_repeated_deliveries)
    app.event("app_mention")(bot.answer_event)
    app.event("message")(bot.answer_event)
    app.command(re.compile(r"^/"))(bot.answer_command)
    return app


class SlackResponder:
    """Bolt listeners: each user message is answered once, in its thread; slash commands at their response_url."""

    def __init__(self, service: QAService, settings: ChatSettings, seen: RecentKeys | RedisRecentKeys) -> None:
        self.service = service
        self.settings = settings
        self.seen = seen

    def drop_repeated_deliveries(self, body: dict[str, Any], next: Callable[[], BoltResponse]) -> BoltResponse:
        """Acknowledge a retried or duplicate event (same event_id) without handling it again."""
        event_id = body.get("event_id")
        if body.get("type") == "event_callback" and event_id and not self.seen.claim(f"event:{event_id}"):
            logger.info("skipped a repeated delivery of Slack event %s", event_id)
            return BoltResponse(status=200, body="")
        return next()

    def answer_event(self, body: dict[str, Any], context: BoltContext, client: WebClient) -> None:
        """Answer a mention or a DM in its thread, once per message, in allowed channels only."""
        question = question_from_event(body, context.bot_user_id)
        if question is None or not self.settings.channel_allowed(question.channel):
            return
        if not self.seen.claim(question.message_key):
            return
        reply = ask_for_chat(self.service, question.text, question.conversation_id)
        post_in_thread(client, question, slack_message(reply))

    def answer_command(self, ack: Ack, command: dict[str, Any], respond: Respond) -> None:
        """Acknowledge at once, then post the answer, restating the question, to the command's response_url."""
        channel = command.get("channel_id", "")
        question = " ".join(str(command.get("text", "")).split())
        if not self.settings.channel_allowed(channel):
            ack(text=NOT_HERE)
            return
        if not question:
            ack(text=ASK_HINT)
            return
        ack(text=LOOKING_UP)
        conversation_id = f"slack:{command.get('team_id', '')}:{channel}:{command.get('user_id', '')}:command"
        message = slack_message(ask_for_chat(self.service, question, conversation_id), restate=True)
        sent = respond(
            text=message.text, blocks=message.blocks,
            response_type=self.settings.slack_reply_visibility, replace_original=False,
        )
        if sent.status_code != 200:
            logger.error("posting a slash command's answer failed with HTTP %s", sent.status_code)


def post_in_thread(client: WebClient, question: SlackQuestion, message: SlackMessage) -> None:
    """chat.postMessage in the question's thread; a plain apology when Slack refuses the answer's blocks."""
    try:
        _post(client, question, message)
    except SlackApiError as error:
        logger.error("chat.postMessage refused the answer: %s", error.response.get("error"))
        _post(client, question, SlackMessage(FAILED, []))


def _post(client: WebClient, question: SlackQuestion, message: SlackMessage) -> None:
    """One chat.postMessage in the question's thread, without link previews."""
    client.chat_postMessage(
        channel=question.channel, thread_ts=question.thread_ts, text=message.text, blocks=message.blocks or None,
        unfurl_links=False, unfurl_media=False,
    )
