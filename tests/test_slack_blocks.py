"""Block Kit rendering: sources, abstention, errors, splitting under Slack's limits, escaping article text."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date

from api.chat_reply import FAILED, ChatReply
from api.chat_text import ZERO_WIDTH_SPACE, escape_mrkdwn, safe_url, shorten, split_text
from api.slack_blocks import MAX_BLOCKS, SECTION_LIMIT, slack_message, source_label
from qa.types import Answer, Citation, Outlet
from tests.chat_support import section_texts, sources


def citation(
    n: int = 1, title: str = "Telephonic Condolences to Iran", quote: str = "Putin spoke.", url: str | None = None
) -> Citation:
    """A citation with the fields the blocks show."""
    return Citation(n, "a", title, date(2026, 3, 7), "seeds/a.txt", url, "a#0", quote, 0, len(quote), 0.9)


def answered(text: str, *citations: Citation, resolved: str = "") -> ChatReply:
    """A reply carrying a non-abstained answer."""
    answer = Answer("q?", text, False, tuple(citations), resolved_question=resolved or "q?")
    return ChatReply("q?", answer)


def all_text(blocks: list[dict[str, object]]) -> str:
    """Every string in the blocks."""
    return json.dumps(blocks, ensure_ascii=False)


def test_answer_with_numbered_sources_linked_and_dated() -> None:
    message = slack_message(answered("Putin spoke. [1]", citation(url="https://news.example/a?x=1&y=2")))
    assert section_texts(message.blocks) == ["Putin spoke. [1]"]
    [[label, quote]] = sources(message.blocks)
    assert label == "<https://news.example/a?x=1&amp;y=2|[1] Telephonic Condolences to Iran> · 2026-03-07"
    assert quote == "“Putin spoke.”"
    assert message.text == "Putin spoke. [1]"


def test_a_source_names_the_other_outlets_that_published_it() -> None:
    outlets = (Outlet("AP", "https://apnews.example/a?x=1&y=2"), Outlet("<!channel> News"), *map(Outlet, "CDEFG"))
    cited = replace(citation(url="https://news.example/a"), outlets=outlets)
    [[label, _]] = sources(slack_message(answered("Putin spoke. [1]", cited)).blocks)
    assert label == (
        "<https://news.example/a|[1] Telephonic Condolences to Iran> · 2026-03-07 · also published by: "
        "<https://apnews.example/a?x=1&amp;y=2|AP>, &lt;!channel&gt; News, C, D, E and 2 more"
    )


def test_source_without_url_is_plain_numbered_title() -> None:
    assert source_label(citation(n=2)) == "[2] Telephonic Condolences to Iran"
    assert source_label(citation(url="javascript:alert(1)")) == "[1] Telephonic Condolences to Iran"


def test_long_quote_is_shortened() -> None:
    [[_, quote]] = sources(slack_message(answered("x [1]", citation(quote="word " * 200))).blocks)
    assert len(quote) < 260 and quote.endswith("…”")


def test_abstained_answer_says_the_sources_do_not_cover_it_with_no_sources() -> None:
    reply = ChatReply("q?", Answer("q?", "The sources don't cover this.", True, (citation(),)))
    message = slack_message(reply)
    assert "don't cover" in message.text
    assert any("don't cover" in text for text in section_texts(message.blocks))
    assert sources(message.blocks) == [] and all(block["type"] == "section" for block in message.blocks)


def test_error_reply_is_short_and_friendly() -> None:
    message = slack_message(ChatReply("q?", error=FAILED), restate=True)
    assert section_texts(message.blocks) == ["*Question:* q?", f":warning: {FAILED}"]
    assert message.text == FAILED


def test_long_answers_are_split_under_the_section_limit() -> None:
    text = " ".join(f"Sentence {i} says R&D <grew>. [1]" for i in range(700))
    message = slack_message(answered(text, citation()))
    pieces = section_texts(message.blocks)
    assert len(pieces) > 1 and all(len(piece) <= SECTION_LIMIT for piece in pieces)
    assert " ".join(pieces) == escape_mrkdwn(text)
    assert len(message.blocks) <= MAX_BLOCKS and message.text.endswith("…")


def test_huge_answers_stay_within_the_block_limit_and_keep_their_sources() -> None:
    message = slack_message(answered("word " * 200_000, *(citation(n) for n in range(1, 6))))
    assert len(message.blocks) == MAX_BLOCKS
    assert len(sources(message.blocks)) == 5


def test_article_text_cannot_ping_or_forge_links() -> None:
    evil = "Hi <!channel> and <@U123> <!here|here> see <https://evil.example|your bank> & @here or @channel"
    message = slack_message(answered(f"{evil} [1]", citation(title=f"T <!everyone> {evil}", quote=evil)), restate=True)
    rendered = all_text(message.blocks) + message.text
    for raw in ("<!channel>", "<@U123>", "<!here", "<https://evil", "<!everyone>", " @here", " @channel"):
        assert raw not in rendered
    assert "&lt;!channel&gt;" in rendered and "&lt;@" in rendered and "&amp;" in rendered
    assert f"@{ZERO_WIDTH_SPACE}here" in rendered and f"@{ZERO_WIDTH_SPACE}channel" in rendered


def test_follow_up_shows_how_it_was_read() -> None:
    message = slack_message(answered("Iran replied. [1]", citation(), resolved="q? (Russia GCC)"))
    notes = [block for block in message.blocks if block["type"] == "context" and "Read as" in all_text([block])]
    assert notes and "q? (Russia GCC)" in all_text(notes)


def test_split_text_never_cuts_an_escape() -> None:
    escaped = escape_mrkdwn("&@here" * 400)
    assert escaped.count(f"@{ZERO_WIDTH_SPACE}here") == 400
    pieces = split_text(escaped, 17)
    assert "".join(pieces) == escaped
    assert all(len(piece) <= 17 and not piece.endswith(("&", "&a", "&am", "&amp", "@")) for piece in pieces)


def test_text_helpers() -> None:
    assert shorten("a  b\n c", 10) == "a b c"
    assert safe_url("https://x.example/a b|c>") == "https://x.example/a%20b%7Cc%3E"
    assert safe_url("ftp://x") is None and safe_url(None) is None
    assert escape_mrkdwn("mail a@b.example") == "mail a@b.example"
