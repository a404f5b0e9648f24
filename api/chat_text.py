"""Text helpers shared by the chat front ends: escaping, mention neutralising, safe links, quotes, splitting."""

from __future__ import annotations

import re
from urllib.parse import quote

_MENTION = re.compile(r"(?<![\w.@])@(?=\w)")
_SPACES = re.compile(r"\s+")
_MRKDWN = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;"})
_MARKDOWN = re.compile(r"([\\`*_~\[\]<>#|])")
_UNIT = re.compile(r"&(?:amp|lt|gt);|@\u200b|\\.|.", re.DOTALL)
_LONGEST_UNIT = len("&amp;")
ZERO_WIDTH_SPACE = "\u200b"


def neutralise_mentions(text: str) -> str:
    """Break `@channel`, `@here` and `@name` words with a zero-width space so they never notify anyone."""
    return _MENTION.sub(f"@{ZERO_WIDTH_SPACE}", text)


def escape_entities(text: str) -> str:
    """`&`, `<`, `>` as Slack's HTML entities, so no `<!channel>`, `<@U…>` or `<url|label>` survives."""
    return text.translate(_MRKDWN)


def escape_mrkdwn(text: str) -> str:
    """Text safe for Slack mrkdwn: entities escaped and mentions broken."""
    return neutralise_mentions(escape_entities(text))


def escape_markdown(text: str) -> str:
    """Text safe for Mattermost markdown: formatting and link characters backslash-escaped, mentions broken."""
    return neutralise_mentions(_MARKDOWN.sub(r"\\\1", text))


def safe_url(url: str | None) -> str | None:
    """An http(s) URL with the characters that would break a chat link percent-encoded, or None."""
    if not url or not url.lower().startswith(("http://", "https://")):
        return None
    return quote(url.strip(), safe=":/?#[]@!$&'*+,;=%~-._")


def one_line(text: str) -> str:
    """The text with every run of white space folded to one space."""
    return _SPACES.sub(" ", text).strip()


def shorten(text: str, limit: int) -> str:
    """The text on one line, cut at a word boundary to at most limit characters with an ellipsis."""
    line = one_line(text)
    if len(line) <= limit:
        return line
    cut = line[: limit - 1]
    space = cut.rfind(" ")
    return f"{cut[:space] if space > limit // 2 else cut}…"


def split_text(text: str, limit: int) -> list[str]:
    """Pieces of at most limit characters, cut between words where possible and never inside an escape."""
    pieces: list[str] = []
    rest = text.strip()
    while len(rest) > limit:
        cut = _cut_point(rest, limit)
        pieces.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    return [*pieces, rest] if rest else pieces


def _cut_point(text: str, limit: int) -> int:
    """Where to cut: the last white space in the first half-limit or later, else the last whole unit that fits."""
    window = text[: limit + 1]
    space = max(window.rfind(blank) for blank in " \n\t")
    if space > limit // 2:
        return space
    end = 0
    for unit in _UNIT.finditer(text, 0, limit + _LONGEST_UNIT):
        if unit.end() > limit:
            break
        end = unit.end()
    return end
