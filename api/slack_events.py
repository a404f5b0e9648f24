"""Which Slack events are questions for the bot, and what is asked in them."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

_ANY_LEADING_MENTION = re.compile(r"^\s*<@[A-Z0-9]+(?:\|[^>]*)?>")


@dataclass(frozen=True)
class SlackQuestion:
    """A question asked in a Slack message, and where to answer it."""

    team: str
    channel: str
    ts: str
    thread_ts: str
    text: str

    @property
    def conversation_id(self) -> str:
        """The thread is the conversation: follow-ups in it share the library's conversation."""
        return f"slack:{self.team}:{self.channel}:{self.thread_ts}"

    @property
    def message_key(self) -> str:
        """One key per user message, whichever events announced it."""
        return f"message:{self.channel}:{self.ts}"


def question_from_event(body: dict[str, Any], bot_user_id: str | None) -> SlackQuestion | None:
    """The question in an `app_mention` or a direct message; None for bots, edits, subtypes and channel chatter."""
    event = body.get("event") or {}
    channel, ts, user = event.get("channel"), event.get("ts"), event.get("user")
    if not (channel and ts and user) or event.get("bot_id") or event.get("subtype") or user == bot_user_id:
        return None
    if not _addressed_to_bot(event):
        return None
    team = body.get("team_id") or event.get("team") or ""
    text = strip_mention(event.get("text") or "", bot_user_id)
    return SlackQuestion(team, channel, ts, event.get("thread_ts") or ts, text)


def strip_mention(text: str, bot_user_id: str | None) -> str:
    """The text without the bot's `<@BOTID>` mentions (a leading mention of any user when the bot's id is unknown)."""
    if bot_user_id:
        text = re.sub(rf"<@{re.escape(bot_user_id)}(?:\|[^>]*)?>", " ", text)
    else:
        text = _ANY_LEADING_MENTION.sub(" ", text)
    return " ".join(text.split())


def _addressed_to_bot(event: dict[str, Any]) -> bool:
    """Mentions outside DMs, and every DM message; a channel `message` echoing a mention is not (its app_mention is)."""
    if event.get("type") == "app_mention":
        return not str(event.get("channel", "")).startswith("D")
    return event.get("type") == "message" and event.get("channel_type") == "im"
