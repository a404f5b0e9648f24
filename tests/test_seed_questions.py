"""Natural questions about the seed article, follow-ups and abstention, with the real model."""

from __future__ import annotations

import pytest

from qa.evaluate import opens_with_unresolved_pronoun
from qa.service import QAService
from tests.conftest import SEED_ID

pytestmark = pytest.mark.both_stores  # run against the FAISS segments and against Milvus Lite

ANSWERABLE = [
    ("Who did Putin speak with on the phone?", "spoke via telephone with his Iranian counterpart, Masoud Pezeshkian"),
    ("What did Russia say about the GCC?", "constant contact with Gulf Cooperation Council (GCC)"),
    ("What was the military operation called?", "Known as Operation Epic Fury or Roaring Lion"),
    ("How did Iran retaliate?", "Iran launched multiple waves of drone and missile attacks"),
    ("When was the joint strike on Iran?", "military strike on February 28"),
    ("What did Putin condemn?", "condemned the attacks attributed to U.S. and Israeli military action"),
    ("How did Pezeshkian respond to Russia's support?", "Pezeshkian expressed gratitude for Russia’s solidarity"),
    ("Where did Israel expand its operations?", "expanded its operations to Lebanon"),
    ("What is Russia's priority for resolving the tensions?", "resolving tensions through diplomacy remained Russia’s priority"),
    ("What do analysts fear the hostilities could disrupt?", "disrupting global energy supplies"),
    ("What did the offensive target?", "targeted Iran’s key military sites, nuclear infrastructure"),
    ("What did Putin express to Pezeshkian?", "heartfelt condolences"),
]

UNANSWERABLE = [
    "What is the capital of Australia?",
    "Who won the 2022 World Cup?",
    "How do I bake sourdough bread?",
    "What is the price of Bitcoin today?",
    "What did the Pope say about the war?",
    "How many people died in the earthquake in Turkey?",
]

FOLLOW_UPS = [
    # (first question, follow-up, text the follow-up's first citation must contain)
    ("What did Russia say about the GCC?", "And how did Iran respond?", "Pezeshkian expressed gratitude"),
    ("What did Russia say about the GCC?", "What did he say about it?", "Gulf Cooperation Council"),
    ("And how did Iran respond?", "What did he say about it?", "Pezeshkian expressed gratitude"),
    ("Who did Putin speak with on the phone?", "What did they agree on?", "agreed to maintain regular communication"),
    ("How did Iran retaliate?", "Where did Israel expand them?", "expanded its operations to Lebanon"),
    ("What was the military operation called?", "What did it target?", "key military sites"),
]


@pytest.mark.parametrize(("question", "expected"), ANSWERABLE)
def test_answer_cites_the_supporting_sentence(real_service: QAService, question: str, expected: str) -> None:
    answer = real_service.ask(question)
    assert not answer.abstained, f"abstained with confidence {answer.confidence:.3f}"
    assert any(expected in citation.quote for citation in answer.citations), answer.answer
    assert expected in answer.answer
    assert not opens_with_unresolved_pronoun(answer), answer.answer
    text = real_service.article(SEED_ID).text
    assert all(text[c.start : c.end] == c.quote for c in answer.citations)


@pytest.mark.parametrize("question", UNANSWERABLE)
def test_questions_the_article_cannot_answer_abstain(real_service: QAService, question: str) -> None:
    answer = real_service.ask(question)
    assert answer.abstained, answer.answer
    assert answer.citations == ()
    assert "don't cover" in answer.answer


@pytest.mark.parametrize(("first", "follow_up", "expected"), FOLLOW_UPS)
def test_follow_ups_are_resolved_against_the_conversation(
    real_service: QAService, first: str, follow_up: str, expected: str
) -> None:
    opening = real_service.ask(first)
    answer = real_service.ask(follow_up, conversation_id=opening.conversation_id)
    assert answer.conversation_id == opening.conversation_id
    assert answer.resolved_question != follow_up
    assert not answer.abstained
    assert any(expected in citation.quote for citation in answer.citations), (answer.resolved_question, answer.answer)
    assert not opens_with_unresolved_pronoun(answer), answer.answer
