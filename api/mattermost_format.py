"""Mattermost markdown for answers, abstentions and errors, with numbered sources and article text escaped."""

from __future__ import annotations

from api.chat_reply import NOT_COVERED, ChatReply
from api.chat_text import escape_markdown, safe_url, shorten
from qa.time_text import searched_text
from qa.types import Answer, Citation, also_published

MAX_CHARS = 16_000
QUOTE_CHARS = 240
TITLE_CHARS = 150
QUESTION_CHARS = 500
OUTLET_CHARS = 60
MAX_OUTLETS = 5  # other outlets named beside a source; the rest are counted


def mattermost_text(reply: ChatReply) -> str:
    """The reply as Mattermost markdown, restating the question first."""
    lines = [f"**Question:** {escape_markdown(shorten(reply.question, QUESTION_CHARS))}", ""]
    if reply.answer is not None and reply.answer.time_window is not None:
        lines[1:1] = [f"_{escape_markdown(searched_text(reply.answer.time_window))}_"]
    if reply.error is not None:
        lines.append(f":warning: {escape_markdown(reply.error)}")
    elif reply.answer is None or reply.answer.abstained:
        lines.append(f":mag: {escape_markdown(NOT_COVERED)}")
    else:
        lines.extend(_answer_lines(reply.answer))
    text = "\n".join(lines)
    return text if len(text) <= MAX_CHARS else f"{text[: MAX_CHARS - 1]}…"


def source_line(citation: Citation) -> str:
    """`n. [title](url) · date · also published by: [AP](url), BBC — Putin (Russia): “quote”`, without the link when
    the article has no web address, without the outlets when no other outlet published it and without the speaker
    when the quote is not an attributed statement."""
    label = _link(shorten(citation.title, TITLE_CHARS), citation.url)
    date = f" · {citation.date.isoformat()}" if citation.date else ""
    outlets = also_published(citation.outlets, lambda outlet: _link(shorten(outlet.source, OUTLET_CHARS), outlet.url), MAX_OUTLETS)
    also = f" · {outlets}" if outlets else ""
    said = f"{escape_markdown(citation.speaker.label)}: " if citation.speaker else ""
    return f"{citation.n}. {label}{date}{also} — {said}“{escape_markdown(shorten(citation.quote, QUOTE_CHARS))}”"


def _link(label: str, url: str | None) -> str:
    """`[label](url)` when the url is a safe web address, else the label; the label escaped."""
    text, safe = escape_markdown(label), safe_url(url)
    return f"[{text}]({safe.replace('(', '%28').replace(')', '%29')})" if safe else text


def _answer_lines(answer: Answer) -> list[str]:
    """The answer, how a follow-up was read, and the numbered sources."""
    lines = [escape_markdown(answer.answer)]
    if answer.resolved_question and answer.resolved_question != answer.question:
        lines.append(f"_Read as: {escape_markdown(shorten(answer.resolved_question, QUESTION_CHARS))}_")
    if answer.citations:
        lines.extend(["", "**Sources**", *(source_line(citation) for citation in answer.citations)])
    return lines
