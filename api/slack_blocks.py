"""Slack Block Kit messages for answers, abstentions and errors, with article text escaped for mrkdwn."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from api.chat_reply import NOT_COVERED, ChatReply
from api.chat_text import escape_entities, escape_mrkdwn, safe_url, shorten, split_text
from qa.time_text import searched_text
from qa.types import Answer, Citation, also_published

SECTION_LIMIT = 3000
MAX_BLOCKS = 50
QUOTE_CHARS = 240
TITLE_CHARS = 150
QUESTION_CHARS = 500
FALLBACK_CHARS = 300
OUTLET_CHARS = 60
MAX_OUTLETS = 5  # other outlets named beside a source; the rest are counted

Block = dict[str, Any]


@dataclass(frozen=True)
class SlackMessage:
    """A message's notification text and its blocks."""

    text: str
    blocks: list[Block]


def slack_message(reply: ChatReply, restate: bool = False) -> SlackMessage:
    """The message for a reply; restate repeats the question first (for slash commands)."""
    head = [_section(f"*Question:* {escape_mrkdwn(shorten(reply.question, QUESTION_CHARS))}")] if restate else []
    if reply.error is not None:
        text, body = reply.error, _sections(f":warning: {escape_mrkdwn(reply.error)}")
    elif reply.answer is None or reply.answer.abstained:
        text, body = NOT_COVERED, [*_period(reply.answer), *_sections(f":mag: {escape_mrkdwn(NOT_COVERED)}")]
    else:
        period = _period(reply.answer)
        text, body = reply.answer.answer, [*period, *_answer_blocks(reply.answer, MAX_BLOCKS - len(head) - len(period))]
    return SlackMessage(escape_mrkdwn(shorten(text, FALLBACK_CHARS)), [*head, *body][:MAX_BLOCKS])


def source_label(citation: Citation) -> str:
    """`<url|[n] title>` when the article has a web address, else `[n] title`."""
    return _link(f"[{citation.n}] {shorten(citation.title, TITLE_CHARS)}", citation.url)


def outlets_label(citation: Citation) -> str:
    """`also published by: <url|AP>, BBC` for the other outlets that published the cited story ('' for none)."""
    return also_published(citation.outlets, lambda outlet: _link(shorten(outlet.source, OUTLET_CHARS), outlet.url), MAX_OUTLETS)


def _link(label: str, url: str | None) -> str:
    """`<url|label>` when the url is a safe web address, else the label; the label escaped."""
    text, safe = escape_mrkdwn(label), safe_url(url)
    return f"<{escape_entities(safe)}|{text}>" if safe else text


def _answer_blocks(answer: Answer, room: int) -> list[Block]:
    """The answer's sections, how a follow-up was read, a divider and one context block per source."""
    resolved = answer.resolved_question
    read_as = [_context(f"Read as: {escape_mrkdwn(shorten(resolved, QUESTION_CHARS))}")]
    notes = read_as if resolved and resolved != answer.question else []
    sources = [_source_block(citation) for citation in answer.citations]
    sections = _sections(escape_mrkdwn(answer.answer))[: max(1, room - len(notes) - len(sources) - 1)]
    return [*sections, *notes, {"type": "divider"}, *sources] if sources else [*sections, *notes]


def _period(answer: Answer | None) -> list[Block]:
    """A context block saying which period was searched, when the question named one."""
    window = answer.time_window if answer else None
    return [_context(f":calendar: {escape_mrkdwn(searched_text(window))}")] if window else []


def _source_block(citation: Citation) -> Block:
    """A context block: the numbered title (linked when possible), its date and a short quote with its speaker."""
    dated = " · ".join(part for part in (source_label(citation), _iso(citation), outlets_label(citation)) if part)
    said = f"{escape_mrkdwn(citation.speaker.label)}: " if citation.speaker else ""
    return _context(dated, f"{said}“{escape_mrkdwn(shorten(citation.quote, QUOTE_CHARS))}”")


def _iso(citation: Citation) -> str:
    """The cited article's date as YYYY-MM-DD ('' when undated)."""
    return citation.date.isoformat() if citation.date else ""


def _sections(mrkdwn: str) -> list[Block]:
    """Section blocks holding already-escaped text, split under Slack's per-block limit."""
    return [_section(piece) for piece in split_text(mrkdwn, SECTION_LIMIT)]


def _section(mrkdwn: str) -> Block:
    """One mrkdwn section block."""
    return {"type": "section", "text": {"type": "mrkdwn", "text": mrkdwn}}


def _context(*mrkdwn: str) -> Block:
    """One context block with mrkdwn elements."""
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": text} for text in mrkdwn]}
