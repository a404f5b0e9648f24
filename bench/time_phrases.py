"""Questions that name their period in words, asked without a date: the shared rtqa questions' relative phrases
("this week", "recently", "on Wednesday", "last weekend", "this month", "this year") rewritten, from each question's
own date, into explicit periods in several phrasings, then asked with no as-of date. Generated from ../shared at run
time (nothing is copied into the repository). Also times the time-phrase parser.

Run: python -m bench.time_phrases [--sets rtqa-passages rtqa-articles] [--json bench/results/time_phrases.json]

Phrasings (D = the question's date): "week ending" ("in the week ending May 12, 2022"; exact days),
"between" ("between May 6 and May 12, 2022"), "part of month" ("in mid-May 2022": early 1–10, mid 11–20, late 21–end)
and "month" ("in May 2022"). The rewriter is deliberately separate from qa.timeframe (plain regular expressions) so the
parser is measured on text it did not write.
"""

from __future__ import annotations

import argparse
import json
import re
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from bench.machine import describe, write_results
from qa.config import Settings
from qa.evaluate import Question, article_ranking_metrics, eval_index_dir, load_questions
from qa.service import QAService
from qa.timeframe import find_time, warm_up

SHARED = Path(__file__).resolve().parent.parent.parent / "shared" / "eval"
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
Period = tuple[date, date]


def _days(day: date) -> str:
    """'May 12, 2022'."""
    return f"{day:%B} {day.day}, {day.year}"


def _part(day: date) -> str:
    """'early May 2022', 'mid-May 2022' or 'late May 2022', by the day of the month."""
    part = "early " if day.day <= 10 else "mid-" if day.day <= 20 else "late "
    return f"{part}{day:%B} {day.year}"


PHRASINGS: dict[str, Callable[[Period], str]] = {
    "week ending": lambda period: f"on {_days(period[0])}" if period[0] == period[1] else f"in the week ending {_days(period[1])}" if (period[1] - period[0]).days <= 7 else f"between {_days(period[0])} and {_days(period[1])}",
    "between": lambda period: f"on {_days(period[0])}" if period[0] == period[1] else f"between {period[0]:%B} {period[0].day} and {_days(period[1])}",
    "part of month": lambda period: f"in {_part(period[1])}",
    "month": lambda period: f"in {period[1]:%B} {period[1].year}",
}


def relative_period(words: str, asked: date) -> Period | None:
    """The days a relative phrase of a quiz question means, counted from the day it was asked."""
    lowered = " ".join(words.lower().split())
    if lowered in ("this week", "this past week", "the past week", "over the past week"):
        return asked - timedelta(days=6), asked
    if lowered == "last week":
        return asked - timedelta(days=13), asked - timedelta(days=7)
    if lowered in ("recently", "lately", "currently", "latest", "most recently"):
        return asked - timedelta(days=30), asked
    if lowered in ("this month",):
        return asked.replace(day=1), asked
    if lowered in ("this year",):
        return date(asked.year, 1, 1), asked
    if lowered in ("this weekend", "last weekend", "over the weekend"):  # the weekend just past (today's, on a weekend)
        on_weekend = asked.weekday() >= 5
        saturday = asked - timedelta(days=(asked.weekday() - 5) % 7 + (7 if lowered == "last weekend" and on_weekend else 0))
        return saturday, saturday + timedelta(days=1)
    if lowered in ("today", "yesterday"):
        day = asked - timedelta(days=0 if lowered == "today" else 1)
        return day, day
    weekday = re.fullmatch(r"(?:on|last) (\w+)", lowered)
    if weekday and weekday.group(1) in WEEKDAYS:
        back = (asked.weekday() - WEEKDAYS.index(weekday.group(1))) % 7 or (7 if lowered.startswith("last") else 0)
        day = asked - timedelta(days=back)
        return day, day
    return None


RELATIVE = re.compile(
    r"\b(this week|this past week|over the past week|the past week|last week|recently|lately|currently|latest|"
    r"most recently|this month|this year|this weekend|last weekend|over the weekend|today|yesterday|"
    r"(?:on|last) (?:monday|tuesday|wednesday|thursday|friday|saturday|sunday))\b",
    re.IGNORECASE,
)


def rewrite(question: Question, phrasing: Callable[[Period], str]) -> str | None:
    """The question with its relative phrases replaced by explicit periods, or None when it has none."""
    if not question.date:
        return None
    asked = date.fromisoformat(question.date[:10])
    changed = False

    def explicit(match: re.Match[str]) -> str:
        nonlocal changed
        period = relative_period(match.group(), asked)
        if period is None:
            return match.group()
        changed = True
        return phrasing(period)

    text = RELATIVE.sub(explicit, question.text)
    return text if changed else None


def evaluate(name: str) -> list[dict[str, Any]]:
    """nDCG@10 and recall@5 of the rewritten questions asked with no date, per phrasing, beside the originals."""
    settings = Settings()
    corpus = SHARED / name / "corpus.jsonl"
    directory = eval_index_dir(settings.index_dir.parent / "eval", corpus, settings)
    service = QAService(settings.model_copy(update={"index_dir": directory, "as_of_today": False}))
    questions = load_questions(SHARED / name / "questions.jsonl")
    relative = [question for question in questions if rewrite(question, PHRASINGS["month"]) is not None]
    rows = [_row(name, "original words, no date", service, relative, None), _row(name, "original words, as of question date", service, relative, "as of")]
    for label, phrasing in PHRASINGS.items():
        rewritten = [replace(question, text=rewrite(question, phrasing) or question.text) for question in relative]
        rows.append(_row(name, f"rewritten: {label}", service, rewritten, None, example=rewritten[0].text))
    return rows


def _row(name: str, label: str, service: QAService, questions: list[Question], mode: str | None, example: str = "") -> dict[str, Any]:
    """Rankings for one variant of the questions."""
    runs = {}
    for question in questions:
        as_of = date.fromisoformat(question.date[:10]) if mode == "as of" and question.date else None
        runs[question.id] = [passage.article_id for passage in service.search(question.text, 30, as_of=as_of)]
    metrics = article_ranking_metrics(runs, questions, 10)
    row = {"set": name, "variant": label, "questions": len(questions), "ndcg@10": metrics["ndcg@10"], "recall@5": metrics["recall@5"], "example": example}
    print(json.dumps(row), flush=True)
    return row


def parse_timings(questions: list[str]) -> dict[str, float]:
    """Milliseconds per question for qa.timeframe.find_time (as of each question's date), p50/p95/p99."""
    warm_up()
    samples = []
    for text in questions:
        started = time.perf_counter()
        find_time(text, date(2022, 5, 20))
        samples.append((time.perf_counter() - started) * 1000)
    values = np.asarray(samples)
    return {name: round(float(np.percentile(values, q)), 3) for name, q in (("p50", 50), ("p95", 95), ("p99", 99))}


def main() -> None:
    """Measure each set and the parser's cost, print the tables, optionally write JSON."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sets", nargs="+", default=["rtqa-passages", "rtqa-articles"])
    parser.add_argument("--json", type=Path, default=None)
    arguments = parser.parse_args()
    rows = [row for name in arguments.sets for row in evaluate(name)]
    texts = [question.text for name in arguments.sets for question in load_questions(SHARED / name / "questions.jsonl")]
    texts += [rewrite(question, phrasing) or question.text for name in arguments.sets for question in load_questions(SHARED / name / "questions.jsonl") for phrasing in PHRASINGS.values()]
    timings = parse_timings(texts)
    print("\n| set | questions asked | n | nDCG@10 | recall@5 |\n| --- | --- | --- | --- | --- |")
    for row in rows:
        print(f"| {row['set']} | {row['variant']} | {row['questions']} | {row['ndcg@10']:.4f} | {row['recall@5']:.4f} |")
    print(f"\ntime-phrase parsing over {len(texts)} questions: p50 {timings['p50']} ms, p95 {timings['p95']} ms, p99 {timings['p99']} ms")
    if arguments.json:
        write_results(arguments.json, {"machine": describe(), "rows": rows, "parse_ms": timings})


if __name__ == "__main__":
    main()
