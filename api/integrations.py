"""Which chat integrations are on: their routers for the app, and a one-line summary for `qa serve` to log."""

from __future__ import annotations

from fastapi import APIRouter

from api.chat_settings import ChatSettings
from api.mattermost import mattermost_router
from api.slack import slack_router
from qa.service import QAService


def chat_routers(service: QAService, settings: ChatSettings) -> list[APIRouter]:
    """Routers for the configured chat platforms (none when nothing is configured); include each in the app."""
    routers: list[APIRouter] = []
    if settings.slack_enabled:
        routers.append(slack_router(service, settings))
    if settings.mattermost_enabled:
        routers.append(mattermost_router(service, settings))
    return routers


def chat_summary(settings: ChatSettings) -> str:
    """One line naming the integrations that are on, their endpoints and options; never a secret."""
    parts: list[str] = []
    if settings.slack_enabled:
        channels = ", ".join(settings.slack_channels) or "all"
        parts.append(
            f"Slack on (POST /slack/events, /slack/commands; channels: {channels}; "
            f"slash replies: {settings.slack_reply_visibility})"
        )
    if settings.mattermost_enabled:
        parts.append(f"Mattermost on (POST /mattermost/command; replies: {settings.mattermost_reply_visibility})")
    if not parts:
        return "chat integrations: off (set QA_SLACK_SIGNING_SECRET and QA_SLACK_BOT_TOKEN, or QA_MATTERMOST_TOKEN)"
    return f"chat integrations: {'; '.join(parts)}"
