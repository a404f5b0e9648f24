"""Retrieval and answer evaluation over a corpus with gold passages (the `qa eval` command)."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ir_measures
import numpy as np
from ir_measures import RR, R, nDCG

from tqdm import tqdm

from qa.config import Settings
from qa.errors import QAError
from qa.service import QAService
from qa.types import Passage

MEASURES = {"recall@1": R @ 1, "recall@5": R @ 5, "recall@10": R @ 10, "mrr@10": RR @ 10, "ndcg@10": nDCG @ 10}


@dataclass(frozen=True)
class Question:
    """An evaluation question with the ids of the articles that answer it."""

    id: str
    text: str
    gold: tuple[str, ...]
    answers: tuple[str, ...] = ()
    date: str | None = None


def load_questions(path: Path) -> list[Question]:
    """Read questions.jsonl: id, question, gold_doc_ids, optional answers and date."""
    questions: list[Question] = []
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
                questions.append(
                    Question(
                        str(record["id"]), str(record["question"]), tuple(map(str, record["gold_doc_ids"])),
                        tuple(map(str, record.get("answers") or ())), record.get("date"),
                    )
                )
            except (ValueError, KeyError, TypeError) as error:
                raise QAError(f"{path}:{number}: not a question record with id, question, gold_doc_ids ({error})") from error
    if not questions:
        raise QAError(f"{path} has no questions")
    return questions


def eval_index_dir(base: Path, corpus: Path, model: str, chunk_tokens: int) -> Path:
    """An index directory kept for one corpus and configuration, reused while it is unchanged."""
    digest = hashlib.sha256(f"{corpus.resolve()}|{model}|{chunk_tokens}".encode()).hexdigest()[:12]
    return base / f"{corpus.parent.name or 'corpus'}-{digest}"


def ranking_metrics(rankings: dict[str, list[Passage]], questions: list[Question], k: int) -> dict[str, float]:
    """recall@1/5/10, MRR@10 and nDCG@10 with binary gains; a passage counts for its article, each article once."""
    qrels = {question.id: {doc: 1 for doc in question.gold} for question in questions}
    run: dict[str, dict[str, float]] = {}
    for question_id, passages in rankings.items():
        ordered = list(dict.fromkeys(passage.article_id for passage in passages))[:k]
        run[question_id] = {article_id: float(len(ordered) - rank) for rank, article_id in enumerate(ordered)}
    scores = ir_measures.calc_aggregate(list(MEASURES.values()), qrels, run)
    return {name: round(float(scores.get(measure, 0.0)), 4) for name, measure in MEASURES.items()}


def latency_summary(latencies_ms: list[float]) -> dict[str, float]:
    """p50 and p95 query latency in milliseconds."""
    if not latencies_ms:
        return {"latency_ms_p50": 0.0, "latency_ms_p95": 0.0}
    values = np.asarray(latencies_ms)
    return {
        "latency_ms_p50": round(float(np.percentile(values, 50)), 2),
        "latency_ms_p95": round(float(np.percentile(values, 95)), 2),
    }


def timed(function: Callable[[], Any]) -> tuple[Any, float]:
    """Call function and return its result with the elapsed milliseconds."""
    started = time.perf_counter()
    result = function()
    return result, (time.perf_counter() - started) * 1000


def run_eval(
    factory: Callable[[Settings], QAService], settings: Settings, corpus: Path, questions_path: Path, k: int, limit: int | None, show_progress: bool
) -> dict[str, float | int]:
    """Index the corpus (reused when unchanged), run every question, return the metrics."""
    questions = load_questions(questions_path)[:limit]
    directory = eval_index_dir(settings.index_dir.parent / "eval", corpus, settings.model, settings.chunk_tokens)
    service = factory(settings.model_copy(update={"index_dir": directory}))
    report = service.index_paths([corpus], show_progress=show_progress)
    if report.errors:
        raise QAError(f"{len(report.errors)} corpus records could not be loaded, first: {report.errors[0]}")
    rankings: dict[str, list[Passage]] = {}
    latencies: list[float] = []
    for question in tqdm(questions, desc="Questions", unit="q", disable=not show_progress):
        passages, elapsed = timed(lambda: service.search(question.text, k * 3))
        rankings[question.id] = passages
        latencies.append(elapsed)
    return {"n_questions": len(questions), **ranking_metrics(rankings, questions, k), **latency_summary(latencies)}
