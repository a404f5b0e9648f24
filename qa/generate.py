"""Optional generative answers from an OpenAI-compatible chat-completions endpoint, checked against the passages."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import httpx

from index.text import paragraphs, sentences
from qa.types import Passage

NOT_FOUND_REPLY = "NOT_FOUND"
_MARKER = re.compile(r"\[(\d+)\]")
SYSTEM_PROMPT = (
    "You answer questions about news articles using only the numbered passages given. "
    "Write at most three short sentences. End every sentence with the number of the passage it comes from, "
    "like [1]. Never use outside knowledge. If the passages do not answer the question, reply exactly NOT_FOUND."
)


class GenerationError(Exception):
    """The endpoint failed, timed out or replied with nothing usable."""


@dataclass(frozen=True)
class GeneratedSentence:
    """A sentence of the model's reply with the passage numbers (1-based) it cites."""

    text: str
    passages: tuple[int, ...]


@dataclass(frozen=True)
class ChatEndpoint:
    """Where and how to call the model."""

    base_url: str
    model: str
    api_key: str | None = None
    timeout_seconds: float = 20.0


def build_messages(question: str, passages: Sequence[Passage]) -> list[dict[str, str]]:
    """The system prompt and a user message with numbered passages."""
    numbered = "\n\n".join(
        f"[{number}] {passage.title or passage.article_id} ({passage.date or 'undated'})\n{passage.text}"
        for number, passage in enumerate(passages, start=1)
    )
    return [
        {"role": "system", "content": SYSTEM_PROMPT},
        {"role": "user", "content": f"Passages:\n\n{numbered}\n\nQuestion: {question}"},
    ]


def request_completion(endpoint: ChatEndpoint, messages: list[dict[str, str]]) -> str:
    """POST /chat/completions and return the reply text."""
    headers = {"Authorization": f"Bearer {endpoint.api_key}"} if endpoint.api_key else {}
    url = endpoint.base_url.rstrip("/") + "/chat/completions"
    payload = {"model": endpoint.model, "messages": messages, "temperature": 0}
    try:
        response = httpx.post(url, json=payload, headers=headers, timeout=endpoint.timeout_seconds)
        response.raise_for_status()
        return str(response.json()["choices"][0]["message"]["content"]).strip()
    except (httpx.HTTPError, ValueError, KeyError, IndexError, TypeError) as error:
        raise GenerationError(f"the answer model at {url} failed: {error}") from error


def parse_reply(reply: str, passage_count: int) -> list[GeneratedSentence]:
    """Sentences that cite at least one existing passage (1-based, bounds-checked); the rest are dropped."""
    kept: list[GeneratedSentence] = []
    for paragraph in paragraphs(reply):
        for span in sentences(reply, paragraph.start, paragraph.end):
            numbers = tuple(
                dict.fromkeys(int(n) for n in _MARKER.findall(span.text) if 1 <= int(n) <= passage_count)
            )
            text = " ".join(_MARKER.sub("", span.text).split()).replace(" .", ".")
            if numbers and text:
                kept.append(GeneratedSentence(text, numbers))
    return kept
