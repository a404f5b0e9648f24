"""The JSON shape of answers and passages, shared by `qa ... --json` and the HTTP API."""

from __future__ import annotations

from dataclasses import asdict
from datetime import date
from typing import Any

from qa.time_text import searched_text
from qa.types import Answer, Article, Citation, Found, Passage, TimeWindow


def _plain(value: Any) -> Any:
    """Dates as ISO strings, tuples as lists, recursively."""
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    return value


def citation_to_dict(citation: Citation) -> dict[str, Any]:
    """A citation as JSON-ready data."""
    return _plain(asdict(citation))  # type: ignore[no-any-return]


def passage_to_dict(passage: Passage) -> dict[str, Any]:
    """A passage as JSON-ready data."""
    return _plain(asdict(passage))  # type: ignore[no-any-return]


def answer_to_dict(answer: Answer) -> dict[str, Any]:
    """An answer as JSON-ready data: question, answer, abstained, citations, passages."""
    return {
        "question": answer.question,
        "answer": answer.answer,
        "abstained": answer.abstained,
        "resolved_question": answer.resolved_question or answer.question,
        "conversation_id": answer.conversation_id,
        "confidence": round(answer.confidence, 6),
        "mode": answer.mode,
        "citations": [citation_to_dict(citation) for citation in answer.citations],
        "passages": [passage_to_dict(passage) for passage in answer.passages],
        "time_window": window_to_dict(answer.time_window),
        "time_note": answer.time_note,
    }


def found_to_dict(question: str, found: Found) -> dict[str, Any]:
    """Search results as JSON-ready data: question, passages, time_window, time_note."""
    return {
        "question": question,
        "passages": [passage_to_dict(passage) for passage in found.passages],
        "time_window": window_to_dict(found.time_window),
        "time_note": found.time_note,
    }


def window_to_dict(window: TimeWindow | None) -> dict[str, Any] | None:
    """A question's period as JSON-ready data, with the words a reader is shown."""
    if window is None:
        return None
    return {**_plain(asdict(window)), "label": searched_text(window)}


def article_to_dict(article: Article, with_text: bool = True) -> dict[str, Any]:
    """An article's metadata, and its text unless asked not to."""
    data = _plain(asdict(article))
    if not with_text:
        data.pop("text")
    return data  # type: ignore[no-any-return]
