"""Conversations kept in Redis, so every replica behind a load balancer resolves the same follow-ups."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from typing import Any

import redis

from qa.chat import Conversation, Turn
from qa.errors import SharedStateError
from qa.types import TimeWindow

KEY_PREFIX = "qa:conversation:"
MAX_TURNS = 10


class RedisConversationStore:
    """The ConversationStore interface over Redis: a list of JSON turns per conversation (appended atomically, so two
    replicas answering at once both keep their turn), expiring after ttl seconds idle; a conversation is stored from
    its first turn, so ids that are never answered leave nothing behind."""

    def __init__(self, client: redis.Redis, ttl_seconds: float = 3600.0) -> None:
        self._redis = client
        self._ttl = max(1, int(ttl_seconds))

    def get_or_create(self, conversation_id: str | None) -> Conversation:
        """The live conversation with this id (its idle time starts again), or a new one (with this id, or a fresh one
        when None)."""
        if conversation_id is None:
            return Conversation(uuid.uuid4().hex, [], time.monotonic())
        key = KEY_PREFIX + conversation_id
        with _shared("conversation"):
            pipeline = self._redis.pipeline(transaction=True)
            pipeline.lrange(key, 0, -1)
            pipeline.expire(key, self._ttl)
            stored, _ = pipeline.execute()
        return Conversation(conversation_id, [_turn(json.loads(item)) for item in stored], time.monotonic())

    def record(self, conversation: Conversation, turn: Turn) -> None:
        """Append a turn, keeping only the most recent ones."""
        conversation.turns = [*conversation.turns[-(MAX_TURNS - 1):], turn]
        conversation.last_used = time.monotonic()
        key = KEY_PREFIX + conversation.id
        with _shared("conversation"):
            pipeline = self._redis.pipeline(transaction=True)
            pipeline.rpush(key, json.dumps(_turn_json(turn)))
            pipeline.ltrim(key, -MAX_TURNS, -1)
            pipeline.expire(key, self._ttl)
            pipeline.execute()

    def forget(self, conversation_id: str) -> None:
        """Drop a conversation."""
        with _shared("conversation"):
            self._redis.delete(KEY_PREFIX + conversation_id)

    def __len__(self) -> int:
        with _shared("conversation"):
            return sum(1 for _ in self._redis.scan_iter(match=KEY_PREFIX + "*", count=1000))


@contextmanager
def _shared(what: str) -> Iterator[None]:
    """Redis failures as the error a caller can act on."""
    try:
        yield
    except redis.RedisError as error:
        raise SharedStateError(f"the shared {what} store (QA_REDIS_URL) failed: {error}; check that Redis is running") from error


def _turn_json(turn: Turn) -> dict[str, Any]:
    """A turn as JSON."""
    window = turn.window
    return {
        "question": turn.question, "resolved": turn.resolved, "answer": turn.answer, "speaker": turn.speaker,
        "window": None if window is None else [
            window.since and window.since.isoformat(), window.until and window.until.isoformat(), window.phrase
        ],
    }


def _turn(item: dict[str, Any]) -> Turn:
    """A turn from JSON."""
    window = item.get("window")
    return Turn(
        item["question"], item["resolved"], item["answer"],
        TimeWindow(_day(window[0]), _day(window[1]), window[2]) if window else None, item.get("speaker", ""),
    )


def _day(value: str | None) -> date | None:
    """An ISO day, or None."""
    return date.fromisoformat(value) if value else None
