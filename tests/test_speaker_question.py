"""Whose words a question asks for, in the ways people ask it, and which statements answer for that speaker."""

from __future__ import annotations

import pytest

from index.speakers import SentenceNote
from qa.speaker_question import asked_speaker, speaks_for


@pytest.mark.parametrize(("question", "who", "country"), [
    ("What did Russia say about the GCC?", "Russia", "Russia"),
    ("How did Iran respond?", "Iran", "Iran"),
    ("and how has Moscow reacted to the strikes?", "Moscow", "Russia"),
    ("What was Putin's reaction to the attack?", "Putin", None),
    ("What were the Kremlin’s words on the talks?", "Kremlin", "Russia"),
    ("Did the Kremlin comment on the GCC?", "Kremlin", "Russia"),
    ("Has Iran weighed in on the ceasefire?", "Iran", "Iran"),
    ("What does Tehran fear most?", "Tehran", "Iran"),
    ("What is the Russian president saying about the Gulf?", "Russian president", "Russia"),
    ("What happened to the talks, according to the Foreign Ministry?", "Foreign Ministry", None),
])
def test_the_speaker_a_question_asks_about(question: str, who: str, country: str | None) -> None:
    asked = asked_speaker(question)
    assert asked is not None and asked.who == who and asked.country == country


@pytest.mark.parametrize("question", [
    "What happened in the Gulf?", "When was the strike?", "What did it target?", "How many people died?",
    "What did they agree on?",
])
def test_questions_about_no_ones_words(question: str) -> None:
    assert asked_speaker(question) is None


def test_who_said_asks_for_anyone_who_spoke() -> None:
    asked = asked_speaker("Who said the talks would continue?")
    assert asked is not None and asked.who == ""
    assert speaks_for(asked, SentenceNote(0, 10, frozenset(), "Lavrov", 0, 6, "Russia"))
    assert not speaks_for(asked, SentenceNote(0, 10, frozenset({"GPE"})))


def test_a_country_is_answered_by_whoever_speaks_for_it() -> None:
    asked = asked_speaker("What did Russia say about the GCC?")
    assert asked is not None
    for speaker, country in (("Putin", "Russia"), ("Kremlin", "Russia"), ("Russia’s Foreign Ministry", "Russia")):
        assert speaks_for(asked, SentenceNote(0, 10, frozenset(), speaker, 0, 5, country))
    assert not speaks_for(asked, SentenceNote(0, 10, frozenset(), "Pezeshkian", 0, 5, "Iran"))


def test_he_in_a_follow_up_is_the_speaker_the_previous_answer_quoted() -> None:
    asked = asked_speaker("What did he say about it?", previous="Pezeshkian")
    assert asked is not None and asked.who == "Pezeshkian" and asked.strict
    assert asked_speaker("What did he say about it?") is None
