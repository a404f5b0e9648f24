"""How answers are composed, measured: answer_hit (the gold answer appears in the answer), the same for the lead
sentence, the share of answers opening with an unresolved pronoun, multi-article answers and whether they show every
date, and sentences per answer, for several composition policies (how far below the best sentence another may score,
how much a statement by the asked-about speaker is favoured, how much a sentence holding the kind of name the
question wants is favoured), on rtqa-passages and rtqa-articles, without dates and
as of each question's date. Abstention is off here (every question answered) so policies compare on the same answers;
retrieval runs once per question and is shared by the policies.

Run: python -m bench.compose [--sets rtqa-passages rtqa-articles] [--limit N] [--json bench/results/compose.json]
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path
from typing import Any

from tqdm import tqdm

from bench.machine import describe, write_results
from qa.answer import AnswerPolicy, compose_answer, stored_notes, stored_previous, stored_sentences
from qa.config import Settings
from qa.evaluate import answer_hit, eval_index_dir, lead_sentence, load_questions, opens_with_unresolved_pronoun, shows_every_date
from qa.retrieve import Retrieved
from qa.service import QAService
from qa.types import Answer

SHARED = Path(__file__).resolve().parent.parent.parent / "shared" / "eval"
POLICIES = {
    "drop 1.0, speaker 0.3": {"max_score_drop": 1.0, "speaker_weight": 0.3},
    "drop 0.5, speaker 0.3": {"max_score_drop": 0.5, "speaker_weight": 0.3},
    "drop 0.3, speaker 0.3": {"max_score_drop": 0.3, "speaker_weight": 0.3},
    "drop 0.2, speaker 0.3": {"max_score_drop": 0.2, "speaker_weight": 0.3},
    "drop 0.3, speaker 0.15": {"max_score_drop": 0.3, "speaker_weight": 0.15},
    "drop 0.3, speaker 0": {"max_score_drop": 0.3, "speaker_weight": 0.0},
    "one sentence": {"max_sentences": 1, "speaker_weight": 0.3},
    "drop 1.0, type 0.15": {"max_score_drop": 1.0, "type_weight": 0.15},
    "drop 1.0, type 0.3": {"max_score_drop": 1.0, "type_weight": 0.3},
    "drop 0.5, type 0.3": {"max_score_drop": 0.5, "type_weight": 0.3},
    "4 sentences, drop 1.0": {"max_sentences": 4, "max_score_drop": 1.0},
}


@dataclass(frozen=True)
class Asked:
    """One question as retrieval saw it, ready to be composed by any policy."""

    text: str
    asked: str
    vector: Any
    retrieved: Retrieved
    window: Any


def prepare(service: QAService, text: str, as_of: date | None) -> Asked:
    """Read the question's period and retrieve, as QAService.ask does for a first question."""
    read = service._read_time(text, None, as_of)  # noqa: SLF001 - the bench composes the service's own steps
    vector = service._query_vector(read.text)  # noqa: SLF001
    retrieved = service._retrieve(read.text, vector, None, None, read.as_of, service.snapshot(), read.window)  # noqa: SLF001
    return Asked(read.text, read.text, vector, retrieved, read.window)


def measure(name: str, limit: int | None) -> list[dict[str, Any]]:
    """Every policy on one set, both protocols."""
    settings = Settings()
    corpus = SHARED / name / "corpus.jsonl"
    service = QAService(
        settings.model_copy(update={"index_dir": eval_index_dir(settings.index_dir.parent / "eval", corpus, settings), "as_of_today": False}),
        answering=AnswerPolicy(min_confidence=-1.0),
    )
    service.index_paths([corpus], show_progress=True)
    questions = load_questions(SHARED / name / "questions.jsonl")[:limit]
    snapshot = service.snapshot()
    sentences, notes, previous = stored_sentences(snapshot), stored_notes(snapshot), stored_previous(snapshot)
    rows = []
    for protocol in ("no date", "as of"):
        prepared = [
            prepare(service, question.text, date.fromisoformat(question.date[:10]) if protocol == "as of" and question.date else None)
            for question in tqdm(questions, desc=f"{name} {protocol}", unit="q")
        ]
        for label, changes in POLICIES.items():
            policy = replace(AnswerPolicy(), min_confidence=-1.0, **changes)
            answers = [
                compose_answer(item.text, item.vector, item.retrieved, sentences, policy, asked=item.asked, notes=notes, window=item.window,
                               previous_passage=previous)
                for item in prepared
            ]
            rows.append({"set": name, "protocol": protocol, "policy": label, **summarise(questions, answers)})
    return rows


def summarise(questions: list[Any], answers: list[Answer]) -> dict[str, float]:
    """The composition figures for one policy's answers."""
    with_gold = [(question, answer) for question, answer in zip(questions, answers, strict=True) if question.answers]
    several = [answer for answer in answers if len({citation.article_id for citation in answer.citations}) > 1]
    share = lambda values: round(sum(values) / len(values), 4) if values else 1.0  # noqa: E731
    return {
        "answer_hit": share([answer_hit(question, answer.answer) for question, answer in with_gold]),
        "lead_hit": share([answer_hit(question, lead_sentence(answer)) for question, answer in with_gold]),
        "unresolved_pronoun": share([opens_with_unresolved_pronoun(answer) for answer in answers]),
        "multi_article": share([True] * len(several) + [False] * (len(answers) - len(several))),
        "multi_article_dated": share([shows_every_date(answer) for answer in several]),
        "sentences": round(sum(answer.answer.count("[") for answer in answers) / max(len(answers), 1), 2),
        "answer_chars": round(sum(len(answer.answer) for answer in answers) / max(len(answers), 1)),
    }


def main() -> None:
    """Measure, print a table, optionally write JSON."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sets", nargs="+", default=["rtqa-passages", "rtqa-articles"])
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--json", type=Path, default=None)
    arguments = parser.parse_args()
    rows = [row for name in arguments.sets for row in measure(name, arguments.limit)]
    columns = ("answer_hit", "lead_hit", "unresolved_pronoun", "multi_article", "multi_article_dated", "sentences", "answer_chars")
    print(f"{'set':14} {'protocol':8} {'policy':24} " + " ".join(f"{column:>18}" for column in columns))
    for row in rows:
        print(f"{row['set']:14} {row['protocol']:8} {row['policy']:24} " + " ".join(f"{row[column]:>18}" for column in columns))
    if arguments.json:
        write_results(arguments.json, {"machine": describe(), "rows": rows})


if __name__ == "__main__":
    main()
