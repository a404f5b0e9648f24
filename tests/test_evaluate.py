"""`qa eval`: the ranking metrics, answer_hit, and whole runs on a small corpus and (when present) rtqa-passages."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from index.embedder import HashingEmbedder
from qa.cli import main
from qa.config import Settings
from qa.evaluate import EvalOptions, Question, answer_hit, article_ranking_metrics, run_eval
from qa.retrieve import RetrievalPolicy
from qa.service import QAService
from tests.conftest import SHARED_EVAL

PASSAGES = [
    ("walrus", "The walrus colony on Svalbard grew to nine hundred animals, rangers counted in March."),
    ("glacier", "The Jakobshavn glacier retreated four kilometres, satellite images showed."),
    ("opera", "The Vienna opera house sold out its Zauberflote run within an hour."),
    ("harbour", "Rotterdam harbour moved a record tonnage of containers last quarter."),
    ("orchard", "Apple orchards in Kent lost a third of their blossom to a late frost."),
    ("comet", "Astronomers spotted a green comet passing Jupiter, visible with binoculars."),
]
QUESTIONS = [
    ("q-walrus", "How many animals are in the walrus colony on Svalbard?", "walrus", "nine hundred"),
    ("q-glacier", "How far did the Jakobshavn glacier retreat?", "glacier", "four kilometres"),
    ("q-comet", "What did astronomers spot passing Jupiter?", "comet", "green comet"),
]


def _question(gold: tuple[str, ...], answers: tuple[str, ...] = ()) -> Question:
    """A question with only what the metrics read."""
    return Question(id="q", text="?", gold=gold, answers=answers, date=None)


def test_ranking_metrics_count_each_article_once_at_its_best_rank() -> None:
    questions = [_question(("a",))]
    assert article_ranking_metrics({"q": ["a", "b"]}, questions, 10)["ndcg@10"] == 1.0
    second = article_ranking_metrics({"q": ["b", "b", "a", "a"]}, questions, 10)  # b twice is one article
    assert second["ndcg@10"] == round(1 / math.log2(3), 4) and second["recall@1"] == 0.0 and second["recall@5"] == 1.0
    assert second["mrr@10"] == 0.5
    missing = article_ranking_metrics({"q": ["b", "c"]}, questions, 10)
    assert missing["ndcg@10"] == missing["recall@10"] == 0.0


def test_answer_hit_is_case_insensitive_containment_of_a_gold_answer() -> None:
    question = _question(("a",), ("Julián Castro", "  "))
    assert answer_hit(question, "Yesterday JULIÁN CASTRO ended his campaign.")
    assert not answer_hit(question, "Castro ended his campaign.")
    assert not answer_hit(_question(("a",), ("  ",)), "anything at all")  # a blank gold answer never matches


def _write_small_eval(folder: Path) -> tuple[Path, Path]:
    """A six-passage corpus and three questions in the rtqa format."""
    corpus, questions = folder / "corpus.jsonl", folder / "questions.jsonl"
    corpus.write_text("".join(json.dumps({"id": pid, "title": "", "text": text, "date": "2026-03-01"}) + "\n"
                              for pid, text in PASSAGES), encoding="utf-8")
    questions.write_text("".join(json.dumps({"id": qid, "question": text, "gold_doc_ids": [gold], "answers": [answer],
                                             "date": "2026-03-02"}) + "\n" for qid, text, gold, answer in QUESTIONS),
                         encoding="utf-8")
    return corpus, questions


def test_qa_eval_json_reports_every_metric_on_a_small_corpus(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    corpus, questions = _write_small_eval(tmp_path)
    monkeypatch.setenv("QA_INDEX_DIR", str(tmp_path / "state" / "index"))
    embedder = HashingEmbedder()
    factory: Callable[[Settings], QAService] = lambda settings: QAService(settings, embedder=embedder)
    arguments = ["eval", "--corpus", str(corpus), "--questions", str(questions), "--unanswerable", "--json"]
    result = CliRunner().invoke(main, arguments, obj=factory, catch_exceptions=False)
    report = json.loads(result.output)
    assert report["n_questions"] == 3
    assert report["ndcg@10"] == report["recall@1"] == 1.0  # each question names its passage's rare words
    assert report["answer_hit"] == report["answer_hit_baseline_first_sentence"] == 1.0  # one-sentence passages
    assert report["citation_exact"] == 1.0
    assert (report["abstain_rate_answerable"], report["abstain_rate_unanswerable"]) == (0.0, 1.0)  # gold removed: abstain
    thresholds = [row["threshold"] for row in report["abstention_tradeoff"]]
    assert thresholds == [0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6, 0.65, 0.7]
    answer_rates = [row["answer_rate_answerable"] for row in report["abstention_tradeoff"]]
    assert answer_rates == sorted(answer_rates, reverse=True)  # a higher threshold never answers more
    assert (tmp_path / "state" / "eval").is_dir()  # the eval index is kept beside the main one, not in it


@pytest.mark.skipif(not (SHARED_EVAL / "rtqa-passages").exists(), reason="../shared/eval/rtqa-passages is not here")
def test_eval_on_rtqa_passages_gives_exact_citations(tmp_path: Path) -> None:
    folder = SHARED_EVAL / "rtqa-passages"
    settings = Settings(index_dir=tmp_path / "index")
    embedder = HashingEmbedder()
    keywords_only = RetrievalPolicy(keyword_weight=1.0)  # hashed words carry no meaning: rank by BM25 alone
    results = run_eval(lambda s: QAService(s, embedder=embedder, retrieval=keywords_only), settings,
                       folder / "corpus.jsonl", folder / "questions.jsonl", EvalOptions(limit=40, unanswerable=True))
    assert results["n_questions"] == 40
    assert results["citation_exact"] == 1.0
    assert results["recall@10"] > 0.6  # BM25 over the whole question finds most gold passages (0.75 measured)
    assert all(0.0 <= results[name] <= 1.0 for name in ("ndcg@10", "recall@5", "answer_hit", "abstain_rate_unanswerable"))
