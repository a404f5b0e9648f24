"""QAService with the fake embedder: search, filters, answers and bad questions."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from index.embedder import HashingEmbedder
from qa.config import Settings
from qa.errors import ArticleNotFoundError, InvalidQuestionError
from qa.service import QAService
from qa.types import SearchFilters

pytestmark = pytest.mark.both_stores  # run against the FAISS segments and against Milvus Lite


@pytest.fixture
def news(tmp_path: Path) -> Path:
    """Three small dated articles from two sources."""
    path = tmp_path / "news.jsonl"
    records = [
        {"id": "flood", "title": "Flood", "text": "Heavy rain flooded the river town of Marlow. Residents were evacuated.",
         "date": "2024-01-10", "url": "https://alpha.test/flood"},
        {"id": "election", "title": "Election", "text": "Voters in Marlow elected a new mayor. Turnout was high.",
         "date": "2024-03-05", "url": "https://beta.test/vote"},
        {"id": "budget", "title": "Budget", "text": "The council passed a budget for road repairs in Marlow.",
         "date": "2024-06-20", "url": "https://alpha.test/budget"},
    ]
    path.write_text("\n".join(json.dumps(record) for record in records), encoding="utf-8")
    return path


def test_search_returns_citable_passages(fake_service: QAService, news: Path) -> None:
    fake_service.index_paths([news])
    [top, *_] = fake_service.search("river flooded evacuated", k=3)
    assert top.article_id == "flood"
    article = fake_service.article("flood")
    assert article.text[top.start : top.end] == top.text
    assert top.chunk_id == "flood#0"


def test_filters_by_date_and_source(fake_service: QAService, news: Path) -> None:
    fake_service.index_paths([news])
    since = fake_service.search("Marlow", k=10, filters=SearchFilters(since=date(2024, 3, 1)))
    assert {p.article_id for p in since} == {"election", "budget"}
    until = fake_service.search("Marlow", k=10, filters=SearchFilters(until=date(2024, 3, 5)))
    assert {p.article_id for p in until} == {"flood", "election"}
    alpha = fake_service.search("Marlow", k=10, filters=SearchFilters(sources=("alpha.test",)))
    assert {p.article_id for p in alpha} == {"flood", "budget"}
    nothing = fake_service.search("Marlow", k=10, filters=SearchFilters(since=date(2030, 1, 1)))
    assert nothing == []


def test_ask_cites_exact_sentences(fake_service: QAService, news: Path) -> None:
    fake_service.index_paths([news])
    answer = fake_service.ask("who was elected mayor by the voters?")
    assert not answer.abstained
    assert answer.citations[0].article_id == "election"
    for citation in answer.citations:
        text = fake_service.article(citation.article_id).text
        assert text[citation.start : citation.end] == citation.quote
        assert f"[{citation.n}]" in answer.answer
    assert [c.n for c in answer.citations] == list(range(1, len(answer.citations) + 1))


@pytest.mark.parametrize("question", ["", "   \n\t "])
def test_empty_question_is_refused(fake_service: QAService, question: str) -> None:
    with pytest.raises(InvalidQuestionError, match="empty"):
        fake_service.ask(question)


def test_huge_question_is_refused(fake_service: QAService) -> None:
    with pytest.raises(InvalidQuestionError, match="limit is 2000"):
        fake_service.ask("why " * 25_000)


def test_unknown_article(fake_service: QAService, news: Path) -> None:
    fake_service.index_paths([news])
    with pytest.raises(ArticleNotFoundError):
        fake_service.article("nope")
    with pytest.raises(ArticleNotFoundError):
        fake_service.delete_articles(["nope"])


def test_first_question_builds_the_default_index(settings: Settings) -> None:
    service = QAService(settings, embedder=HashingEmbedder())
    report = service.ensure_index()
    assert report is not None and report.added == 1
    assert service.ensure_index() is None
    assert service.search("GCC")[0].title == "Telephonic Condolences to Iran"
