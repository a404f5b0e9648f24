"""Effect of as-of dates and the recency preference on rtqa-articles (a slice: every gold article plus distractors).

Run: python bench/recency.py [--distractors 600] [--json results.json]
"""

from __future__ import annotations

import argparse
import json
import random
from pathlib import Path

from qa.config import Settings
from qa.evaluate import EvalOptions, run_eval
from qa.service import QAService

SHARED = Path(__file__).resolve().parent.parent.parent / "shared" / "eval" / "rtqa-articles"
COLUMNS = ("ndcg@10", "recall@1", "recall@5", "mrr@10", "answer_hit", "abstain_rate_answerable", "latency_ms_p50")


def build_slice(distractors: int, seed: int, target: Path) -> Path:
    """Write the gold articles of every question plus a seeded random sample of the others to target."""
    questions = [json.loads(line) for line in (SHARED / "questions.jsonl").open(encoding="utf-8")]
    gold = {doc for question in questions for doc in question["gold_doc_ids"]}
    lines = (SHARED / "corpus.jsonl").read_text(encoding="utf-8").splitlines()
    golden = [line for line in lines if json.loads(line)["id"] in gold]
    others = [line for line in lines if json.loads(line)["id"] not in gold]
    sample = random.Random(seed).sample(others, min(distractors, len(others)))
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text("\n".join(golden + sample) + "\n", encoding="utf-8")
    return target


def main() -> None:
    """Measure retrieval and answers with and without each question's date as as_of."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--distractors", type=int, default=600)
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--json", type=Path, default=None, help="Write the results here as JSON.")
    arguments = parser.parse_args()
    if not SHARED.exists():
        raise SystemExit(f"{SHARED} not found: this benchmark reads ../shared/eval/rtqa-articles")
    settings = Settings(index_dir=Path(".qa/bench/index"))
    corpus = build_slice(arguments.distractors, arguments.seed, Path(".qa/bench/rtqa-articles-slice/corpus.jsonl"))
    rows = {}
    for label, as_of in (("no dates", False), ("as_of = question date", True)):
        options = EvalOptions(k=10, as_of_question_date=as_of, show_progress=True)
        rows[label] = run_eval(QAService, settings, corpus, SHARED / "questions.jsonl", options)
    print(f"\nrtqa-articles slice: {rows['no dates']['n_questions']} questions, gold + {arguments.distractors} distractors")
    print(f"{'setting':<24}" + "".join(f"{column:>24}" for column in COLUMNS))
    for label, result in rows.items():
        print(f"{label:<24}" + "".join(f"{result[column]:>24}" for column in COLUMNS))
    if arguments.json:
        arguments.json.write_text(json.dumps(rows, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
