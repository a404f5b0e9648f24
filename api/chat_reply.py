"""Asking the library on behalf of a chat user: an answer, or a short error a chat user can read."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from qa.errors import InvalidQuestionError
from qa.service import QAService
from qa.types import Answer

logger = logging.getLogger(__name__)

LOOKING_UP = "Looking that up…"
NOT_COVERED = (
    "The sources don't cover this: I found no passage in the indexed articles that answers it. "
    "Try asking about something the articles report."
)
FAILED = "Sorry, something went wrong while looking that up. Please try again in a moment."
ASK_HINT = "Ask me a question about the news articles, for example: what did Russia say about the GCC?"


@dataclass(frozen=True)
class ChatReply:
    """What to tell a chat user: the answer, or an error message when there is none."""

    question: str
    answer: Answer | None = None
    error: str | None = None


def ask_for_chat(service: QAService, question: str, conversation_id: str) -> ChatReply:
    """Ask the service; a bad question's own message, or a generic apology (logged), when it fails."""
    if not question.strip():
        return ChatReply(question, error=ASK_HINT)
    try:
        return ChatReply(question, service.ask(question, conversation_id=conversation_id))
    except InvalidQuestionError as error:
        return ChatReply(question, error=f"Sorry, I can't answer that: {error}")
    except Exception:
        logger.exception("answering a chat question failed")
        return ChatReply(question, error=FAILED)
