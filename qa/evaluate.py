"""Retrieval and answer evaluation over a corpus with gold passages (the `qa eval` command)."""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import ir_measures
import numpy as np
from ir_measures import RR, R, nDCG

from tqdm import tqdm

from qa.config import Settings
from qa.errors import QAError
from qa.service import QAService
from qa.answer import passage_sentences
from qa.compose import leans_on_previous
from qa.time_text import day_text
from qa.types import Answer, Passage, SearchFilters

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


def eval_index_dir(base: Path, corpus: Path, settings: Settings) -> Path:
    """An index directory kept for one corpus and embedding configuration, reused while it is unchanged (chunk
    overlap and context enter the name only when not the defaults, so indexes built before they could vary stay found)."""
    key = f"{corpus.resolve()}|{settings.model}|{settings.embed_backend}|{settings.chunk_tokens}"
    if (settings.chunk_overlap, settings.chunk_context) != (1, "title+heading"):
        key += f"|{settings.chunk_overlap}|{settings.chunk_context}"
    digest = hashlib.sha256(key.encode()).hexdigest()[:12]
    return base / f"{corpus.parent.name or 'corpus'}-{digest}"


def ranking_metrics(rankings: dict[str, list[Passage]], questions: list[Question], k: int) -> dict[str, float]:
    """recall@1/5/10, MRR@10 and nDCG@10 with binary gains; a passage counts for its article, each article once."""
    return article_ranking_metrics(
        {question_id: [passage.article_id for passage in passages] for question_id, passages in rankings.items()}, questions, k
    )


def article_ranking_metrics(rankings: dict[str, list[str]], questions: list[Question], k: int) -> dict[str, float]:
    """The same metrics over each question's ranked article ids (repeats count once, at their best rank)."""
    qrels = {question.id: {doc: 1 for doc in question.gold} for question in questions}
    run: dict[str, dict[str, float]] = {}
    for question_id, article_ids in rankings.items():
        ordered = list(dict.fromkeys(article_ids))[:k]
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


@dataclass(frozen=True)
class EvalOptions:
    """What `qa eval` measures and how."""

    k: int = 10
    limit: int | None = None
    unanswerable: bool = False
    as_of_question_date: bool = False
    show_progress: bool = False


def run_eval(
    factory: Callable[[Settings], QAService], settings: Settings, corpus: Path, questions_path: Path, options: EvalOptions
) -> dict[str, Any]:
    """Index the corpus (reused when unchanged), run every question, return retrieval and answer metrics."""
    questions = load_questions(questions_path)[: options.limit]
    directory = eval_index_dir(settings.index_dir.parent / "eval", corpus, settings)
    service = factory(settings.model_copy(update={"index_dir": directory, "as_of_today": False}))
    report = service.index_paths([corpus], show_progress=options.show_progress, parallel=True)
    if report.errors:
        raise QAError(f"{len(report.errors)} corpus records could not be loaded, first: {report.errors[0]}")
    rankings: dict[str, list[Passage]] = {}
    latencies: list[float] = []
    ask_latencies: list[float] = []
    answered: list[Answer] = []
    unanswerable: list[Answer] = []
    for question in tqdm(questions, desc="Questions", unit="q", disable=not options.show_progress):
        as_of = date.fromisoformat(question.date[:10]) if options.as_of_question_date and question.date else None
        passages, elapsed = timed(lambda: service.search(question.text, options.k * 3, as_of=as_of))
        rankings[question.id] = passages
        latencies.append(elapsed)
        answer, elapsed = timed(lambda: service.ask(question.text, as_of=as_of))
        answered.append(answer)
        ask_latencies.append(elapsed)
        if options.unanswerable:
            without_gold = SearchFilters(exclude_articles=question.gold)
            unanswerable.append(service.ask(question.text, filters=without_gold, as_of=as_of))
    results: dict[str, Any] = {
        "n_questions": len(questions),
        "index": {"articles": service.snapshot().manifest.articles, "chunks": report.chunks,
                  "embedded": report.embedded, "seconds": report.seconds},
        **ranking_metrics(rankings, questions, options.k),
        **latency_summary(latencies),
        **{f"ask_{key}": value for key, value in latency_summary(ask_latencies).items()},
        **answer_metrics(questions, answered, unanswerable, service),
    }
    if options.unanswerable:
        results["abstention_tradeoff"] = abstention_tradeoff(answered, unanswerable)
    return results


def answer_hit(question: Question, text: str) -> bool:
    """Whether the text contains one of the question's gold answers (case-insensitive)."""
    lowered = text.lower()
    return any(gold.lower() in lowered for gold in question.answers if gold.strip())


def answer_metrics(
    questions: list[Question], answered: list[Answer], unanswerable: list[Answer], service: QAService
) -> dict[str, float]:
    """answer_hit (and the first-sentence baseline), abstention rates and citation exactness."""
    with_gold = [(question, answer) for question, answer in zip(questions, answered, strict=True) if question.answers]
    hits = [answer_hit(question, answer.answer) for question, answer in with_gold if not answer.abstained]
    lead_hits = [answer_hit(question, lead_sentence(answer)) for question, answer in with_gold if not answer.abstained]
    baseline = [
        answer_hit(question, _first_sentence(answer.passages[0])) if answer.passages else False
        for question, answer in with_gold
    ]
    citations = [citation for answer in answered + unanswerable for citation in answer.citations]
    texts = service.snapshot().article_texts(sorted({citation.article_id for citation in citations}))
    exact = [texts.get(citation.article_id, "")[citation.start : citation.end] == citation.quote for citation in citations]
    given = [answer for answer in answered if not answer.abstained]
    several = [answer for answer in given if len({citation.article_id for citation in answer.citations}) > 1]
    metrics = {
        "answer_hit": _share(hits, len(with_gold)),
        "opens_with_unresolved_pronoun": _share([opens_with_unresolved_pronoun(answer) for answer in given], len(given)),
        "multi_article_answers": _share([True] * len(several), len(given)),
        "multi_article_answers_showing_dates": _share([shows_every_date(answer) for answer in several], len(several)) if several else 1.0,
        "answer_hit_baseline_first_sentence": _share(baseline, len(with_gold)),
        "answer_hit_lead_sentence": _share(lead_hits, len(with_gold)),
        "abstain_rate_answerable": _share([answer.abstained for answer in answered], len(answered)),
        "citation_exact": _share(exact, len(exact)) if exact else 1.0,
    }
    if unanswerable:
        metrics["abstain_rate_unanswerable"] = _share([answer.abstained for answer in unanswerable], len(unanswerable))
    return metrics


def abstention_tradeoff(answered: list[Answer], unanswerable: list[Answer]) -> list[dict[str, float]]:
    """Answer rate on answerable and abstention rate on unanswerable questions at several confidence thresholds."""
    kept = np.array([answer.confidence for answer in answered])
    removed = np.array([answer.confidence for answer in unanswerable])
    return [
        {
            "threshold": round(float(threshold), 2),
            "answer_rate_answerable": round(float((kept >= threshold).mean()), 4),
            "abstain_rate_unanswerable": round(float((removed < threshold).mean()), 4),
        }
        for threshold in np.arange(0.30, 0.71, 0.05)
    ]


def opens_with_unresolved_pronoun(answer: Answer) -> bool:
    """Whether an answer's first sentence opens with a pronoun or connective whose referent it does not name
    ("He confirmed…" rather than "He [Putin] confirmed…")."""
    lead = lead_sentence(answer)
    return not answer.abstained and leans_on_previous(lead) and not re.match(r"^\W*\w+ \[[^\]]+\]", lead)


def lead_sentence(answer: Answer) -> str:
    """What an answer opens with: its text up to the first citation marker (after a time note or an article label)."""
    text = answer.answer[len(answer.time_note) :].lstrip() if answer.time_note else answer.answer
    lead = re.split(r"\[\d+\]", text, maxsplit=1)[0]
    return _ARTICLE_LABEL.sub("", lead, count=1)


def shows_every_date(answer: Answer) -> bool:
    """Whether an answer drawn from several articles names each cited article's date."""
    return all(day_text(citation.date) in answer.answer for citation in answer.citations if citation.date)


_ARTICLE_LABEL = re.compile(r"^.*? \((?:\d{1,2} [A-Z][a-z]+ \d{4}|undated)\): ")


def _first_sentence(passage: Passage) -> str:
    """The baseline answer: the first sentence of a passage."""
    spans = passage_sentences(passage)
    return spans[0].text if spans else passage.text


def _share(flags: list[bool], total: int) -> float:
    """Fraction of true flags over total (0 when there is nothing to count)."""
    return round(sum(flags) / total, 4) if total else 0.0
