"""Keyword terms are chosen rarest first within a postings budget, from the index's own term frequencies."""

from __future__ import annotations

from index.articles import make_article
from index.embedder import HashingEmbedder
from index.term_budget import affordable_terms
from qa.config import Settings
from qa.service import QAService


def test_the_rarest_terms_are_kept_within_the_budget() -> None:
    frequencies: dict[str, int | None] = {"common": 900, "rare": 3, "middling": 150, "absent": 0, "odd": None}
    assert affordable_terms(list(frequencies), frequencies, budget=200) == ["odd", "rare", "middling"]
    assert affordable_terms(["common", "absent"], frequencies, budget=10) == ["common"]
    assert affordable_terms(["absent"], frequencies, budget=10) == []


def test_frequencies_are_read_from_the_index_and_common_words_leave_the_query(settings: Settings) -> None:
    service = QAService(settings, embedder=HashingEmbedder())
    stories = [
        make_article(f"story-{number}", f"Story {number}", f"Ministers discussed trade on day {number}.", "t", None)
        for number in range(12)
    ]
    special = make_article("wheat", "Wheat", "Ministers discussed wheat exports and trade.", "t", None)
    service.upsert_articles([*stories, special])
    snapshot = service.snapshot()
    frequencies = snapshot.term_frequencies.of(["ministers", "wheat", "exports", "zebra"])
    assert frequencies == {"ministers": 13, "wheat": 1, "exports": 1, "zebra": None}
    assert affordable_terms(["ministers", "wheat", "exports"], frequencies, budget=5) == ["wheat", "exports"]
    assert [passage.article_id for passage in service.search("ministers wheat", 1)] == ["wheat"]
