"""The Mattermost slash command: POST /mattermost/command, verified by its static token, answered in the reply."""

from __future__ import annotations

import hmac
from urllib.parse import parse_qs

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from api.chat_reply import ask_for_chat
from api.chat_settings import ChatSettings
from api.mattermost_format import mattermost_text
from qa.service import QAService


def mattermost_router(service: QAService, settings: ChatSettings) -> APIRouter:
    """An APIRouter answering Mattermost's slash command with Slack-compatible `{response_type, text}`."""
    if settings.mattermost_token is None:
        raise ValueError("Mattermost is off: set QA_MATTERMOST_TOKEN to turn it on")
    expected = settings.mattermost_token.get_secret_value().encode()
    router = APIRouter(tags=["mattermost"])

    async def command(request: Request) -> JSONResponse:
        """Check the token, then answer; a wrong or missing token never reaches the library."""
        form = command_form(await request.body())
        if not token_matches(form.get("token") or header_token(request), expected):
            return JSONResponse({"detail": "invalid Mattermost token"}, status_code=401)
        where = ":".join(form.get(key, "") for key in ("team_id", "channel_id", "user_id"))
        question = " ".join(form.get("text", "").split())
        reply = await run_in_threadpool(ask_for_chat, service, question, f"mattermost:{where}")
        return JSONResponse({"response_type": settings.mattermost_reply_visibility, "text": mattermost_text(reply)})

    router.add_api_route("/mattermost/command", command, methods=["POST"], include_in_schema=False)
    return router


def command_form(body: bytes) -> dict[str, str]:
    """Mattermost's form-encoded fields, first value of each."""
    fields = parse_qs(body.decode("utf-8", errors="replace"), keep_blank_values=True)
    return {key: values[0] for key, values in fields.items()}


def header_token(request: Request) -> str:
    """The token from an `Authorization: Token …` header, which Mattermost also sends."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "token" else ""


def token_matches(given: str, expected: bytes) -> bool:
    """Constant-time comparison of the given token with the configured one."""
    return bool(given) and hmac.compare_digest(given.encode(), expected)
