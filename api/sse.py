"""An answer as server-sent events: `citations` first, then `answer` text pieces, then `done`."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

from fastapi.sse import format_sse_event

from api.schemas import AnswerOut

_AFTER_MARKER = re.compile(r"(?<=\])(?=\s)")


def answer_pieces(text: str) -> list[str]:
    """The answer cut after each citation marker; the pieces join back to the text exactly."""
    return [piece for piece in _AFTER_MARKER.split(text) if piece]


def answer_events(answer: AnswerOut) -> Iterator[bytes]:
    """The wire bytes of the events of one answer; every data line is JSON."""
    citations = [citation.model_dump(mode="json") for citation in answer.citations]
    yield _event("citations", {"conversation_id": answer.conversation_id, "abstained": answer.abstained, "citations": citations})
    for piece in answer_pieces(answer.answer):
        yield _event("answer", {"text": piece})
    yield _event("done", answer.model_dump(mode="json", exclude={"citations", "passages", "answer"}))


def _event(name: str, data: dict[str, Any]) -> bytes:
    """One event."""
    return format_sse_event(event=name, data_str=json.dumps(data, ensure_ascii=False))
