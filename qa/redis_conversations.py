"""Conversations kept in Redis, so every replica behind a load balancer resolves the same follow-ups."""

from __future__ import annotations

import json
import time
import uuid
from datetime import date
from typing import Any

import redis

from qa.chat import Conversation, Turn
from qa.errors import SharedStateError
from qa.types import TimeWindow

KEY_PREFIX = "qa:conversation:"
MAX_TURNS = 10


class RedisConversationStore:
    """The ConversationStore interface over Redis: one JSON value per conversation, expiring after ttl seconds idle."""

    def __init__(self, client: redis.Redis, ttl_seconds: float = 3600.0) -> None:
        self._redis = client
        self._ttl = max(1, int(ttl_seconds))

    def get_or_create(self, conversation_id: str | None) -> Conversation:
        """The live conversation with this id, or a new one (with this id, or a fresh one when None)."""
        key = conversation_id or uuid.uuid4().hex
        try:
            stored = self._redis.getex(KEY_PREFIX + key, ex=self._ttl)
        except redis.RedisError as error:
            raise _unreachable(error) from error
        turns = [_turn(item) for item in json.loads(stored)] if stored else []
        conversation = Conversation(key, turns, time.monotonic())
        if stored is None:
            self._save(conversation)
        return conversation

    def record(self, conversation: Conversation, turn: Turn) -> None:
        """Append a turn, keeping only the most recent ones (the last writer wins if two replicas answer at once)."""
        conversation.turns = [*conversation.turns[-(MAX_TURNS - 1):], turn]
        conversation.last_used = time.monotonic()
        self._save(conversation)

    def forget(self, conversation_id: str) -> None:
        """Drop a conversation."""
        self._redis.delete(KEY_PREFIX + conversation_id)

    def __len__(self) -> int:
        return sum(1 for _ in self._redis.scan_iter(match=KEY_PREFIX + "*", count=1000))

    def _save(self, conversation: Conversation) -> None:
        """Write a conversation with its expiry."""
        payload = json.dumps([_turn_json(turn) for turn in conversation.turns])
        try:
            self._redis.set(KEY_PREFIX + conversation.id, payload, ex=self._ttl)
        except redis.RedisError as error:
            raise _unreachable(error) from error


def _unreachable(error: redis.RedisError) -> SharedStateError:
    """The error a caller sees when Redis fails."""
    return SharedStateError(f"the shared conversation store (QA_REDIS_URL) failed: {error}; check that Redis is running")


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
