"""Loading articles from every supported format, and clear errors for broken ones."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date
from pathlib import Path

from index.articles import load_paths
from tests.conftest import SEED_ID, SEEDS


def test_seed_article_metadata() -> None:
    result = load_paths([SEEDS])
    assert result.errors == []
    [article] = result.articles
    assert article.id == SEED_ID
    assert article.title == "Telephonic Condolences to Iran"
    assert article.date == date(2026, 3, 7)
    assert article.source == f"seeds/{SEED_ID}.txt"
    assert article.text.startswith("Russian President Vladimir Putin")
    assert len(article.content_hash) == 64


def test_ids_are_stable_and_path_based(tmp_path: Path, write_article: Callable[..., Path]) -> None:
    (tmp_path / "sub").mkdir()
    write_article(tmp_path / "sub", "story one.txt", "Body text here.")
    first = load_paths([tmp_path]).articles[0]
    second = load_paths([tmp_path]).articles[0]
    assert first.id == second.id == "sub--story-one"
    assert first.content_hash == second.content_hash


def test_markdown_and_plain_text(tmp_path: Path) -> None:
    (tmp_path / "notes.md").write_text("# Budget Talks\n\nThe council met on Monday.\n", encoding="utf-8")
    (tmp_path / "plain.txt").write_text("\ufeffLine one is a sentence.\r\nLine two.\r\n", encoding="utf-8")
    articles = {article.id: article for article in load_paths([tmp_path]).articles}
    assert articles["notes"].title == "Budget Talks"
    assert "\r" not in articles["plain"].text and not articles["plain"].text.startswith("\ufeff")


def test_html_keeps_visible_text_only(tmp_path: Path) -> None:
    (tmp_path / "page.html").write_text(
        "<html><head><title>Storm Hits Coast</title><style>p{color:red}</style></head>"
        "<body><h1>Storm</h1><script>alert(1)</script><p>The storm <b>hit</b> the coast.</p><p>Roads closed.</p></body></html>",
        encoding="utf-8",
    )
    [article] = load_paths([tmp_path]).articles
    assert article.title == "Storm Hits Coast"
    assert "alert" not in article.text and "color" not in article.text
    assert "The storm hit the coast." in article.text
    assert "Roads closed." in article.text


def test_jsonl_records_and_line_errors(tmp_path: Path) -> None:
    path = tmp_path / "corpus.jsonl"
    lines = [
        json.dumps({"id": "a1", "title": "First", "text": "Alpha text.", "date": "2024-05-01", "url": "https://x.test/a"}),
        "{not json",
        json.dumps({"id": "a2", "title": "No text"}),
        json.dumps({"id": "a3", "title": "Bad date", "text": "T.", "date": "May 1"}),
        json.dumps({"id": "a4", "text": "Untitled but fine."}),
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = load_paths([path])
    assert [article.id for article in result.articles] == ["a1", "a4"]
    assert result.articles[0].url == "https://x.test/a"
    assert result.articles[0].date == date(2024, 5, 1)
    assert len(result.errors) == 3
    assert result.errors[0].startswith(f"{path}:2:")
    assert f"{path}:3:" in result.errors[1] and "text" in result.errors[1]
    assert f"{path}:4:" in result.errors[2] and "YYYY-MM-DD" in result.errors[2]


def test_unreadable_file_is_named_and_others_still_load(tmp_path: Path, write_article: Callable[..., Path]) -> None:
    write_article(tmp_path, "good.txt", "A good article.")
    (tmp_path / "bad.txt").write_bytes(b"\xff\xfe\xfa not utf-8")
    (tmp_path / "empty.txt").write_text("", encoding="utf-8")
    result = load_paths([tmp_path, tmp_path / "missing"])
    assert [article.id for article in result.articles] == ["good"]
    assert any("bad.txt" in error and "UTF-8" in error for error in result.errors)
    assert any("empty.txt" in error for error in result.errors)
    assert any("missing" in error for error in result.errors)
