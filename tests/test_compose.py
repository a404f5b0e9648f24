"""How chosen sentences read: article order, referents named, leaning sentences brought along, articles labelled with
their dates, newest first for 'latest', repeats left out — with controlled vectors and notes."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import numpy as np

from index.speakers import SentenceNote
from index.text import chunk_sentences
from qa.answer import AnswerPolicy, compose_answer, embedded_sentences
from qa.compose import leans_on_previous
from qa.evaluate import opens_with_unresolved_pronoun, shows_every_date
from qa.retrieve import Retrieved
from qa.types import Passage, Speaker

QUESTION = np.array([1.0, 0.0])


def _passage(article: str, text: str, published: date | None = date(2026, 3, 7), start: int = 0, score: float = 1.0) -> Passage:
    return Passage(article, article.title(), published, f"{article}.txt", None, f"{article}#0", "", text, start, start + len(text), score)


def _embed(texts: Sequence[str]) -> np.ndarray:
    """Sentences with 'gulf' point at the question; others away from it, less so with 'talk'."""
    return np.array([[1.0, 0.0] if "gulf" in text.lower() else [0.6, 0.8] if "talk" in text.lower() else [0.0, 1.0] for text in texts])


def _notes_for(passage: Passage, speakers: dict[str, tuple[str, int]]) -> dict[int, SentenceNote]:
    """Notes that give sentences starting with a key their speaker (named at an offset)."""
    notes = {}
    for span in chunk_sentences(passage.text):
        for prefix, (name, named_at) in speakers.items():
            if span.text.startswith(prefix):
                start = passage.start + span.start
                notes[start] = SentenceNote(start, passage.start + span.end, frozenset({"PERSON"}), name, named_at, named_at + len(name), "Russia")
    return notes


def _answer(passages: list[Passage], question: str = "what about the gulf?", notes: dict[str, dict[int, SentenceNote]] | None = None, **policy: float) -> str:
    retrieved = Retrieved(passages, {passage.chunk_id: 0.9 for passage in passages})
    lookup = (lambda passage: (notes or {}).get(passage.article_id, {}))
    answer = compose_answer(question, QUESTION, retrieved, embedded_sentences(_embed), AnswerPolicy(min_confidence=-1.0, **policy), notes=lookup)
    assert not opens_with_unresolved_pronoun(answer), answer.answer
    return answer.answer


def test_a_pronoun_names_its_referent_in_brackets_and_the_quote_stays_exact() -> None:
    text = "Putin spoke on Friday. He confirmed contact with the Gulf states."
    passage = _passage("putin", text)
    notes = {"putin": _notes_for(passage, {"He confirmed": ("Putin", 0)})}
    retrieved = Retrieved([passage], {"putin#0": 0.9})
    answer = compose_answer("what about the gulf?", QUESTION, retrieved, embedded_sentences(_embed), AnswerPolicy(min_confidence=-1.0, max_sentences=1), notes=lambda p: notes["putin"])
    assert answer.answer == "He [Putin] confirmed contact with the Gulf states. [1]"
    assert answer.citations[0].quote == "He confirmed contact with the Gulf states."
    assert answer.citations[0].speaker is not None and answer.citations[0].speaker.name == "Putin"


def test_a_leaning_sentence_without_a_known_referent_brings_the_one_before() -> None:
    text = "Officials met in Doha on Friday. But the Gulf states refused to sign."
    answer = _answer([_passage("doha", text)], max_sentences=1)
    assert answer == "Officials met in Doha on Friday. [1] But the Gulf states refused to sign. [1]"


def test_sentences_of_one_article_keep_its_order() -> None:
    text = "Talks began in March. The weather was cold. Gulf ministers then signed the pact."
    answer = _answer([_passage("pact", text)], min_sentence_score=-1.0, max_score_drop=10.0, max_sentences=2)
    assert answer == "Talks began in March. [1] Gulf ministers then signed the pact. [1]"


def test_several_articles_are_labelled_with_their_dates_and_newest_first_for_latest() -> None:
    older = _passage("older", "Gulf envoys met in Riyadh.", date(2026, 3, 1))
    newer = _passage("newer", "Gulf ministers later signed a pact in Doha.", date(2026, 3, 9), score=0.5)
    answer = _answer([older, newer], question="what is the latest on the gulf?", max_score_drop=10.0)
    assert answer.index("Newer (9 March 2026):") < answer.index("Older (1 March 2026):")
    default_order = _answer([older, newer], max_score_drop=10.0)
    assert default_order.startswith("Older (1 March 2026): Gulf envoys met in Riyadh. [1]")


def test_a_sentence_that_repeats_one_already_chosen_is_left_out() -> None:
    first = _passage("one", "The Gulf states signed the pact on Friday.")
    second = _passage("two", "On Friday the Gulf states signed the pact.")
    answer = _answer([first, second], max_score_drop=10.0)
    assert answer == "The Gulf states signed the pact on Friday. [1]"


def test_the_measures_of_composition() -> None:
    assert leans_on_previous("He said so.") and leans_on_previous("However, it rained.") and not leans_on_previous("Putin said so.")
    older = _passage("older", "Gulf envoys met in Riyadh.", date(2026, 3, 1))
    newer = _passage("newer", "Gulf ministers later signed a pact in Doha.", date(2026, 3, 9), score=0.5)
    retrieved = Retrieved([older, newer], {"older#0": 0.9, "newer#0": 0.9})
    answer = compose_answer("gulf?", QUESTION, retrieved, embedded_sentences(_embed), AnswerPolicy(min_confidence=-1.0, max_score_drop=10.0))
    assert shows_every_date(answer) and not opens_with_unresolved_pronoun(answer)


def test_expletive_there_and_it_do_not_lean_but_pronouns_and_connectives_do() -> None:
    for standalone in ("There's no word yet on the team.", "There are five cases.", "It was determined that the TV was to blame.",
                       "It is expected to rain.", "Both sides agreed to meet."):
        assert not leans_on_previous(standalone), standalone
    for leaning in ("It said the plan would fail.", "This is the second time.", "However, the talks stalled.", "They agreed."):
        assert leans_on_previous(leaning), leaning


def test_a_speaker_is_shown_with_the_country_they_speak_for() -> None:
    assert Speaker("Putin", 10, 15, "Russia").label == "Putin (Russia)"
    assert Speaker("Russia’s Foreign Ministry", 0, 25, "Russia").label == "Russia’s Foreign Ministry"
    assert Speaker("the mayor", 0, 9).label == "the mayor"


def test_a_leaning_sentence_at_a_passage_start_brings_the_sentence_from_the_passage_before() -> None:
    article = "Officials met in Doha on Friday. But the Gulf states refused to sign."
    first = Passage("doha", "Doha", date(2026, 3, 7), "doha.txt", None, "doha#0", "", article[:32], 0, 32, 1.0)
    second = Passage("doha", "Doha", date(2026, 3, 7), "doha.txt", None, "doha#1", "", article[33:], 33, len(article), 1.0)
    retrieved = Retrieved([second], {"doha#1": 0.9})
    answer = compose_answer(
        "what about the gulf?", QUESTION, retrieved, embedded_sentences(_embed), AnswerPolicy(min_confidence=-1.0, max_sentences=1),
        previous_passage=lambda passage: first if passage.chunk_id == "doha#1" else None,
    )
    assert answer.answer == "Officials met in Doha on Friday. [1] But the Gulf states refused to sign. [2]"
    assert [(citation.chunk_id, citation.quote) for citation in answer.citations] == [
        ("doha#0", "Officials met in Doha on Friday."), ("doha#1", "But the Gulf states refused to sign.")]
    assert not opens_with_unresolved_pronoun(answer)


def test_a_time_expression_is_not_a_leaning_this() -> None:
    for standalone in ("This fall, Americans could get a new booster.", "This week the council met.", "That year, prices rose."):
        assert not leans_on_previous(standalone), standalone
    assert leans_on_previous("This prompted a backlash.")


def test_a_brought_sentence_that_leans_too_brings_the_one_before_it() -> None:
    text = "Javier pitched six innings. But he left after 97 pitches. It was the second no-hitter in Gulf history."
    answer = _answer([_passage("javier", text)], max_sentences=1)
    assert answer == "Javier pitched six innings. [1] But he left after 97 pitches. [1] It was the second no-hitter in Gulf history. [1]"


def test_articles_that_disagree_on_a_figure_are_both_shown_with_their_dates() -> None:
    early = _passage("early", "Five days on, the Gulf flood has killed 12 people, officials said.", date(2026, 3, 5))
    late = _passage("late", "Seven days on, the Gulf flood has killed 19 people, officials said.", date(2026, 3, 7))
    same = _passage("same", "Seven days on, the Gulf flood has killed 19 people, officials said.", date(2026, 3, 8))
    answer = _answer([late, early], max_sentences=3)
    assert "(7 March 2026): Seven days on, the Gulf flood has killed 19 people" in answer
    assert "(5 March 2026): Five days on, the Gulf flood has killed 12 people" in answer
    repeated = _answer([late, same], max_sentences=3)
    assert repeated.count("killed 19 people") == 1


def test_a_quote_opening_with_narration_carries_no_speaker_label() -> None:
    text = "Putin spoke by phone on Friday. He confirmed contact with the Gulf states."
    passage = _passage("putin", text)
    notes = _notes_for(passage, {"He confirmed": ("Putin", 0)})
    retrieved = Retrieved([passage], {"putin#0": 0.9})
    policy = AnswerPolicy(min_confidence=-1.0, max_sentences=2, min_sentence_score=-1.0, max_score_drop=10.0)
    answer = compose_answer("what about the gulf?", QUESTION, retrieved, embedded_sentences(_embed), policy, notes=lambda p: notes)
    assert answer.citations[0].quote == text and answer.citations[0].speaker is None


def test_a_question_about_someones_words_is_answered_from_their_statements_or_refused() -> None:
    text = "Lavrov said the Gulf talks would go on. The Gulf states met in Doha. Gulf ministers signed a pact."
    passage = _passage("gulf", text)
    notes = _notes_for(passage, {"Lavrov said": ("Lavrov", 0)})
    retrieved = Retrieved([passage], {"gulf#0": 0.9})
    policy = AnswerPolicy(min_confidence=-1.0, min_sentence_score=-1.0, max_score_drop=10.0)
    answer = compose_answer("what did Lavrov say about the gulf?", QUESTION, retrieved, embedded_sentences(_embed), policy, notes=lambda p: notes)
    assert answer.answer == "Lavrov said the Gulf talks would go on. [1]"
    refused = compose_answer("what did Macron say about the gulf?", QUESTION, retrieved, embedded_sentences(_embed), policy, notes=lambda p: notes)
    assert refused.abstained and refused.citations == ()
