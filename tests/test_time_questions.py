"""Questions that name a period: a soft window over the articles, as of today by default, what the answer says
about it, follow-ups that keep or move it, and every front end showing it."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date
from pathlib import Path

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from api.app import create_app
from api.chat_reply import ChatReply
from api.mattermost_format import mattermost_text
from api.settings import ApiSettings
from api.slack_blocks import slack_message
from index.articles import make_article
from index.embedder import HashingEmbedder
from index.vector_store import VectorStoreKind
from qa.cli import main
from qa.config import Settings
from qa.service import QAService
from qa.types import SearchFilters, TimeWindow

FERRY = "The ferry workers of Port Alden went on strike over pay; the union said talks had failed."
ARTICLES = [
    make_article("strike-may-02", "Ferry strike begins", FERRY + " Pickets formed at dawn.", "news", date(2022, 5, 2)),
    make_article("strike-may-16", "Ferry strike deepens", FERRY + " Crossings were cancelled.", "news", date(2022, 5, 16)),
    make_article("strike-2021", "Ferry strike of 2021", FERRY + " It lasted a week.", "news", date(2021, 5, 16)),
    make_article("strike-undated", "Ferry strike explained", FERRY + " A guide to the dispute.", "news", None),
]
FRIDAY = date(2022, 5, 20)
pytestmark = pytest.mark.both_stores


def _service(tmp_path: Path, vector_store: VectorStoreKind, today: date = FRIDAY, **settings: object) -> QAService:
    """A fake-embedder service over the ferry articles whose 'today' is fixed."""
    service = QAService(
        Settings(index_dir=tmp_path / "index", min_confidence=-1.0, vector_store=vector_store, **settings),
        embedder=HashingEmbedder(), today=lambda: today,
    )
    service.upsert_articles(ARTICLES)
    return service


def _top(service: QAService, question: str, **options: object) -> str:
    return service.find(question, 4, **options).passages[0].article_id  # type: ignore[arg-type]


def test_an_explicit_period_prefers_its_articles_and_is_reported(tmp_path: Path, vector_store: VectorStoreKind) -> None:
    service = _service(tmp_path, vector_store)
    answer = service.ask("what did the ferry workers do in the week of May 16, 2022?")
    assert answer.time_window == TimeWindow(date(2022, 5, 16), date(2022, 5, 22), "the week of May 16, 2022")
    assert answer.citations[0].article_id == "strike-may-16" and answer.time_note == ""
    assert answer.resolved_question == "what did the ferry workers do?"
    assert _top(service, "ferry strike in May 2021") == "strike-2021"
    assert _top(service, "ferry strike in early May 2022") == "strike-may-02"


def test_this_week_counts_from_today_by_default_and_from_as_of_when_given(tmp_path: Path, vector_store: VectorStoreKind) -> None:
    service = _service(tmp_path, vector_store)
    assert _top(service, "what happened with the ferry strike this week?") == "strike-may-16"
    found = service.find("what happened with the ferry strike this week?", 4, as_of=date(2022, 5, 5))
    assert found.time_window == TimeWindow(date(2022, 4, 29), date(2022, 5, 5), "this week")
    assert found.passages[0].article_id == "strike-may-02"
    assert "strike-may-16" not in {passage.article_id for passage in found.passages}  # published after as_of


def test_undated_articles_stay_searchable_as_of_today(tmp_path: Path, vector_store: VectorStoreKind) -> None:
    found = _service(tmp_path, vector_store).find("a guide to the ferry dispute", 4)
    assert "strike-undated" in {passage.article_id for passage in found.passages}


def test_a_window_without_articles_says_so_and_names_the_closest_dates(tmp_path: Path, vector_store: VectorStoreKind) -> None:
    answer = _service(tmp_path, vector_store).ask("what did the ferry union say in January 2020?")
    assert answer.time_note == "No article from January 2020 answers this; the closest found are from 16 May 2021 and 2 May 2022."
    assert answer.answer.startswith(answer.time_note) and answer.citations  # the nearest evidence, clearly dated
    today = _service(tmp_path, vector_store, today=date(2026, 12, 3)).ask("what did the ferry union say this week?")
    assert today.time_note.startswith("No article from 27 November – 3 December 2026 answers this")


def test_explicit_date_filters_win_over_the_words(tmp_path: Path, vector_store: VectorStoreKind) -> None:
    service = _service(tmp_path, vector_store)
    found = service.find("ferry strike in May 2021", 4, SearchFilters(since=date(2022, 5, 10), until=date(2022, 5, 31)))
    assert found.time_window is None and [passage.article_id for passage in found.passages] == ["strike-may-16"] * len(found.passages)


def test_follow_ups_keep_the_window_unless_they_move_it(tmp_path: Path, vector_store: VectorStoreKind) -> None:
    service = _service(tmp_path, vector_store)
    first = service.ask("what did the ferry workers do in the week of May 16, 2022?")
    kept = service.ask("and what did they say?", conversation_id=first.conversation_id)
    assert kept.time_window == first.time_window and kept.citations[0].article_id == "strike-may-16"
    moved = service.ask("and two weeks before?", conversation_id=first.conversation_id)
    assert (moved.time_window.since, moved.time_window.until) == (date(2022, 5, 2), date(2022, 5, 8))  # type: ignore[union-attr]
    assert moved.citations[0].article_id == "strike-may-02"
    later = service.ask("and the week after?", conversation_id=first.conversation_id)
    assert (later.time_window.since, later.time_window.until) == (date(2022, 5, 9), date(2022, 5, 15))  # type: ignore[union-attr]


def test_without_as_of_today_relative_words_are_plain_words(tmp_path: Path, vector_store: VectorStoreKind) -> None:
    service = _service(tmp_path, vector_store, as_of_today=False)
    assert service.find("ferry strike this week", 4).time_window is None
    assert service.find("ferry strike in May 2021", 4).time_window == TimeWindow(date(2021, 5, 1), date(2021, 5, 31), "May 2021")


@pytest.mark.parametrize(
    "question",
    ["what happened on February 30?", "ferry strike in the year 99999", "May 12, 2022", "Черный вторник 2022 и 東京 in May 2021",
     "between March 40 and March 50", "ferry " + "in May 2022 " * 150, "what happened on 99/99/2022?"],
)
def test_hostile_time_phrases_get_an_answer_over_http(tmp_path: Path, question: str, vector_store: VectorStoreKind) -> None:
    app = create_app(_service(tmp_path, vector_store), ApiSettings(rate_limit_per_minute=0))
    with TestClient(app) as client:
        assert app.state.api.readiness.wait(60), app.state.api.readiness.error
        response = client.post("/v1/ask", json={"question": question})
        assert response.status_code == 200, response.text
        window = response.json()["time_window"]
        assert window is None or set(window) == {"since", "until", "phrase", "label"}


def test_the_api_returns_the_window_with_its_label(tmp_path: Path, vector_store: VectorStoreKind) -> None:
    app = create_app(_service(tmp_path, vector_store), ApiSettings(rate_limit_per_minute=0))
    with TestClient(app) as client:
        assert app.state.api.readiness.wait(60), app.state.api.readiness.error
        body = client.post("/v1/ask", json={"question": "ferry strike this week", "as_of": "2022-05-18"}).json()
        assert body["time_window"] == {"since": "2022-05-12", "until": "2022-05-18", "phrase": "this week", "label": "Searched articles from 12–18 May 2022"}
        search = client.post("/v1/search", json={"question": "ferry strike in January 2020"}).json()
        assert search["time_note"].startswith("No article from January 2020 answers this")


def test_the_cli_prints_the_period_searched(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, vector_store: VectorStoreKind) -> None:
    monkeypatch.setenv("QA_INDEX_DIR", str(tmp_path / "index"))
    monkeypatch.setenv("QA_MIN_CONFIDENCE", "-1")
    monkeypatch.setenv("QA_VECTOR_STORE", vector_store)
    _service(tmp_path, vector_store)
    factory: Callable[[Settings], QAService] = lambda settings: QAService(settings, embedder=HashingEmbedder(), today=lambda: FRIDAY)
    text = CliRunner().invoke(main, ["ask", "what did the ferry workers do in May 2022?"], obj=factory, catch_exceptions=False).output
    assert text.splitlines()[0] == "Searched articles from May 2022"
    search = CliRunner().invoke(main, ["search", "ferry strike last week", "--json"], obj=factory, catch_exceptions=False).output
    assert json.loads(search)["time_window"]["label"] == "Searched articles from 7–13 May 2022"


def test_slack_and_mattermost_show_the_period(tmp_path: Path, vector_store: VectorStoreKind) -> None:
    answer = _service(tmp_path, vector_store).ask("what did the ferry workers do in the week of May 16, 2022?")
    blocks = json.dumps(slack_message(ChatReply(answer.question, answer)).blocks, ensure_ascii=False)
    assert ":calendar: Searched articles from 16–22 May 2022" in blocks
    assert "_Searched articles from 16–22 May 2022_" in mattermost_text(ChatReply(answer.question, answer))


def test_the_note_goes_by_the_articles_cited_not_by_unrelated_ones_from_the_period(tmp_path: Path, vector_store: VectorStoreKind) -> None:
    service = _service(tmp_path, vector_store, today=date(2026, 12, 3))
    service.upsert_articles([make_article("bakery", "Bakery wins prize", "A bakery in Hollin won a bread prize.", "news", date(2026, 12, 1))])
    answer = service.ask("what did the ferry union say this week?")
    assert {citation.article_id for citation in answer.citations} <= {"strike-may-02", "strike-may-16", "strike-2021", "strike-undated"}
    assert answer.time_note.startswith("No article from 27 November – 3 December 2026 answers this"), answer.answer
