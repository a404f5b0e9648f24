"""Which extra ranking signals help hybrid retrieval on rtqa-passages: a grid over fusion weights, tuned on the
even-numbered questions and checked on the odd ones.

For every question the default candidates (dense top 100 and keyword top 100, as qa/retrieve.py gathers them) are
scored once; each candidate keeps its dense cosine, its BM25 score, its best sentence cosine (the sentence vectors
stored at index time) and its query-term coverage (share of the question's stemmed content words it contains).
Each setting ranks by (1 - w_bm25)·z(dense) + w_bm25·z(BM25) + w_sentence·z(best sentence) + w_coverage·z(coverage),
z-scored within the question's candidates, exactly as `fuse` does for the first two.

Run from the repository root (the index is the one `qa eval` keeps in .qa/eval, built on first use):
  flock /tmp/qa-bench.lock python -m bench.fusion_features --json bench/results/fusion_features.json
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from tqdm import tqdm  # noqa: E402

from bench import machine  # noqa: E402
from qa.config import Settings  # noqa: E402
from qa.evaluate import Question, article_ranking_metrics, eval_index_dir, load_questions  # noqa: E402
from qa.retrieve import RetrievalPolicy, fuse, standardised  # noqa: E402
from qa.service import QAService  # noqa: E402
from qa.terms import coverage, stemmed_terms  # noqa: E402
from qa.types import SearchFilters  # noqa: E402

RTQA = Path(__file__).resolve().parent.parent.parent / "shared" / "eval" / "rtqa-passages"
SENTENCE_WEIGHTS = (0.0, 0.1, 0.2, 0.3, 0.5)
COVERAGE_WEIGHTS = (0.0, 0.1, 0.2, 0.3)


@dataclass(frozen=True)
class Candidates:
    """One question's candidates: article id and each signal, by chunk row id (None: not in that list)."""

    question: Question
    articles: dict[int, str]
    dense: dict[int, float]
    keyword: dict[int, float]
    best_sentence: dict[int, float]
    coverage: dict[int, float]


def gather(service: QAService, questions: list[Question], pool: int) -> list[Candidates]:
    """Every question's candidates with their signals."""
    snapshot = service.snapshot()
    vectors = service.embedder.embed([question.text for question in questions])
    gathered = []
    for question, vector in tqdm(list(zip(questions, vectors, strict=True)), desc="Questions", unit="q"):
        dense = dict(snapshot.dense(vector, pool, None))
        keyword = dict(snapshot.keyword(snapshot.keyword_terms(question.text), pool, SearchFilters()))
        rows = snapshot.chunks(list(dense.keys() | keyword.keys()))
        cosines = dict(zip(rows, (snapshot.vectors_for(list(rows)) @ vector).tolist(), strict=True))
        terms = stemmed_terms(question.text)
        best, covered = {}, {}
        for rowid, row in rows.items():
            sentences = snapshot.sentence_vectors(row.article_id, row.ordinal)
            best[rowid] = max((float(unit @ vector) for _, _, unit in sentences), default=cosines[rowid])
            covered[rowid] = coverage(terms, stemmed_terms(row.text))
        articles = {rowid: row.article_id for rowid, row in rows.items()}
        gathered.append(Candidates(question, articles, {r: dense[r] for r in rows if r in dense},
                                   {r: keyword[r] for r in rows if r in keyword}, best, covered))
    return gathered


def ranked_articles(candidates: Candidates, keyword_weight: float, sentence_weight: float, coverage_weight: float) -> list[str]:
    """The candidates' articles, best first, under one setting."""
    fused = fuse(candidates.dense, candidates.keyword, keyword_weight)
    floor = min(fused.values())
    sentence, covered = standardised(candidates.best_sentence), standardised(candidates.coverage)
    scores = {rowid: fused.get(rowid, floor) + sentence_weight * sentence[rowid] + coverage_weight * covered[rowid]
              for rowid in candidates.articles}
    return [candidates.articles[rowid] for rowid in sorted(scores, key=lambda rowid: scores[rowid], reverse=True)]


def measure(half: list[Candidates], setting: tuple[float, float, float]) -> dict[str, float]:
    """nDCG@10 and recall@5 of one setting on some questions."""
    rankings = {candidates.question.id: ranked_articles(candidates, *setting) for candidates in half}
    metrics = article_ranking_metrics(rankings, [candidates.question for candidates in half], 10)
    return {"ndcg@10": metrics["ndcg@10"], "recall@5": metrics["recall@5"]}


def misses_with_an_answer_above(gathered: list[Candidates], keyword_weight: float) -> tuple[int, int]:
    """Questions whose gold article is not in the default top 5, and how many of those have a non-gold passage in
    the top 5 that contains a gold answer string (the same fact reported elsewhere, e.g. another year's Davos)."""
    texts = {record["id"]: str(record["text"]).lower() for record in map(json.loads, (RTQA / "corpus.jsonl").open(encoding="utf-8"))}
    misses = answered_elsewhere = 0
    for candidates in gathered:
        top = list(dict.fromkeys(ranked_articles(candidates, keyword_weight, 0.0, 0.0)))[:5]
        if set(candidates.question.gold) & set(top):
            continue
        misses += 1
        answers = [answer.lower() for answer in candidates.question.answers if answer.strip()]
        answered_elsewhere += any(answer in texts[article] for article in top for answer in answers)
    return misses, answered_elsewhere


def main() -> None:
    """Gather candidates once, then print the grid (tuning half) and the best setting on the held-out half."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", type=Path, default=None, help="Write the grid and the check here as JSON.")
    arguments = parser.parse_args()
    if not RTQA.exists():
        raise SystemExit(f"{RTQA} not found: this benchmark reads ../shared/eval/rtqa-passages")
    settings = Settings()
    directory = eval_index_dir(settings.index_dir.parent / "eval", RTQA / "corpus.jsonl", settings)
    service = QAService(settings.model_copy(update={"index_dir": directory}))
    service.index_paths([RTQA / "corpus.jsonl"], show_progress=True)
    questions = load_questions(RTQA / "questions.jsonl")
    gathered = gather(service, questions, RetrievalPolicy().candidates)
    tuning, held_out = gathered[0::2], gathered[1::2]
    keyword_weight = RetrievalPolicy().keyword_weight
    grid: list[dict[str, Any]] = []
    print(f"\n{len(tuning)} tuning questions (even), {len(held_out)} held out (odd); BM25 weight {keyword_weight}")
    print("| best-sentence weight | coverage weight | nDCG@10 (tuning) | recall@5 (tuning) |\n| ---: | ---: | ---: | ---: |")
    for sentence_weight, coverage_weight in itertools.product(SENTENCE_WEIGHTS, COVERAGE_WEIGHTS):
        row = {"sentence_weight": sentence_weight, "coverage_weight": coverage_weight,
               **measure(tuning, (keyword_weight, sentence_weight, coverage_weight))}
        grid.append(row)
        print(f"| {sentence_weight} | {coverage_weight} | {row['ndcg@10']} | {row['recall@5']} |")
    best = max(grid, key=lambda row: row["ndcg@10"])
    check = {
        "default": measure(held_out, (keyword_weight, 0.0, 0.0)),
        "best": measure(held_out, (keyword_weight, best["sentence_weight"], best["coverage_weight"])),
        "all_questions_default": measure(gathered, (keyword_weight, 0.0, 0.0)),
    }
    print(f"\nheld out: default {check['default']}; best on tuning (sentence {best['sentence_weight']}, coverage "
          f"{best['coverage_weight']}) {check['best']}; all 2,000 with the default: {check['all_questions_default']}")
    misses, answered_elsewhere = misses_with_an_answer_above(gathered, keyword_weight)
    print(f"default top 5 misses the gold passage for {misses} of {len(gathered)} questions; for {answered_elsewhere} of "
          "those a passage in the top 5 contains a gold answer string")
    if arguments.json:
        arguments.json.write_text(json.dumps({
            "machine": machine.describe(), "grid": grid, "held_out": check,
            "misses_at_5": misses, "misses_at_5_with_an_answer_in_the_top_5": answered_elsewhere,
        }, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
