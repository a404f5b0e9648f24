"""Conversations: earlier turns resolve follow-up questions; conversations are keyed by id and expire."""

from __future__ import annotations

import re
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from index.stopwords import STOPWORDS
from qa.types import TimeWindow

_WORD = re.compile(r"[\w’'-]+")
_REFERRING = frozenset(
    "he him his she her hers it its they them their theirs this that these those there then such "
    "former latter".split()
)
_CONTINUATIONS = ("and ", "but ", "so ", "also ", "what about", "how about", "and?", "why?", "how?", "then ")
_QUESTION_WORDS = frozenset("what who whom whose which when where why how did does do is are was were".split())
_MIN_OWN_TERMS = 2
_CARRIED_TERMS = 8
CONTEXT_WEIGHT = 0.4


@dataclass(frozen=True)
class Turn:
    """One exchange: what was asked, what it was resolved to, the answer given, the period it searched and whose
    words it quoted first (so 'what did he say about it?' can mean that speaker)."""

    question: str
    resolved: str
    answer: str
    window: TimeWindow | None = None
    speaker: str = ""


@dataclass
class Conversation:
    """Turns in order, and when the conversation was last used."""

    id: str
    turns: list[Turn] = field(default_factory=list)
    last_used: float = 0.0


def content_terms(text: str) -> list[str]:
    """Words that carry meaning, in order, without duplicates (case kept)."""
    seen: dict[str, str] = {}
    for word in _WORD.findall(text):
        lowered = word.lower().strip("’'-")
        if lowered and lowered not in STOPWORDS and lowered not in _QUESTION_WORDS and lowered not in _REFERRING:
            seen.setdefault(lowered, word)
    return list(seen.values())


def needs_context(question: str) -> bool:
    """A follow-up that leans on earlier turns: a pronoun, a leading 'and/what about', or too few words of its own."""
    lowered = question.lower().strip()
    words = {word.lower() for word in _WORD.findall(lowered)}
    return bool(words & _REFERRING) or lowered.startswith(_CONTINUATIONS) or len(content_terms(question)) < _MIN_OWN_TERMS


def resolve_follow_up(question: str, turns: list[Turn]) -> str:
    """The question, plus the salient terms of the previous turn when it depends on them."""
    if not turns or not needs_context(question):
        return question
    own = {term.lower() for term in content_terms(question)}
    carried = [term for term in content_terms(turns[-1].resolved) if term.lower() not in own][:_CARRIED_TERMS]
    return f"{question} ({' '.join(carried)})" if carried else question


def follow_up_vector(own: np.ndarray, context: np.ndarray, weight: float = CONTEXT_WEIGHT) -> np.ndarray:
    """The follow-up's own embedding nudged toward the previous turn's (measured on tests/test_seed_questions.py)."""
    mixed = own + weight * context
    norm = float(np.linalg.norm(mixed))
    return mixed / norm if norm else own


class ConversationStore:
    """In-memory conversations, thread-safe, forgotten after ttl seconds idle or when over capacity (oldest first)."""

    def __init__(self, ttl_seconds: float = 3600.0, capacity: int = 10_000, clock: Callable[[], float] = time.monotonic) -> None:
        self._ttl = ttl_seconds
        self._capacity = capacity
        self._clock = clock
        self._conversations: OrderedDict[str, Conversation] = OrderedDict()
        self._lock = threading.Lock()

    def get_or_create(self, conversation_id: str | None) -> Conversation:
        """The live conversation with this id, or a new one (with this id, or a fresh one when None)."""
        with self._lock:
            self._expire()
            key = conversation_id or uuid.uuid4().hex
            conversation = self._conversations.pop(key, None) or Conversation(key)
            conversation.last_used = self._clock()
            self._conversations[key] = conversation
            while len(self._conversations) > self._capacity:
                self._conversations.popitem(last=False)
            return conversation

    def record(self, conversation: Conversation, turn: Turn) -> None:
        """Append a turn, keeping only the most recent ones."""
        with self._lock:
            conversation.turns = [*conversation.turns[-9:], turn]
            conversation.last_used = self._clock()

    def forget(self, conversation_id: str) -> None:
        """Drop a conversation."""
        with self._lock:
            self._conversations.pop(conversation_id, None)

    def __len__(self) -> int:
        with self._lock:
            self._expire()
            return len(self._conversations)

    def _expire(self) -> None:
        """Drop conversations idle for longer than the ttl."""
        deadline = self._clock() - self._ttl
        while self._conversations:
            oldest = next(iter(self._conversations.values()))
            if oldest.last_used >= deadline:
                break
            self._conversations.popitem(last=False)
