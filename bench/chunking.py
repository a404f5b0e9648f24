"""Chunking for long articles: chunk length, overlap and the context each chunk is embedded with, measured with
`qa eval` on a slice of rtqa-articles (every question's gold articles plus every article of the seven days up to a
question's date: the same-week distractors), with no date and as of each question's date.

Run: python -m bench.chunking [--configs 160/1/title+heading 256/1/title+heading ...] [--json bench/results/chunking.json]

A config is TOKENS/OVERLAP/CONTEXT. Each is indexed once under .qa/bench/chunking/ (about 15 minutes on 2 cores) and
reused, so later runs only ask the questions.
"""

from __future__ import annotations

import argparse
import json
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from bench.machine import describe, write_results
from index.chunking import CHUNK_CONTEXTS
from qa.config import Settings
from qa.evaluate import EvalOptions, run_eval
from qa.service import QAService

SHARED = Path(__file__).resolve().parent.parent.parent / "shared" / "eval" / "rtqa-articles"
SLICE = Path(".qa/bench/chunking/rtqa-articles-week/corpus.jsonl")
DEFAULT_CONFIGS = [
    "160/1/title+heading", "96/1/title+heading", "256/1/title+heading", "160/0/title+heading",
    "160/1/title+heading+lead", "160/1/none",
]
SLICE_DAYS = 7


def week_slice(target: Path) -> Path:
    """Write the gold articles of every question and every article of the SLICE_DAYS days up to a question's date."""
    questions = [json.loads(line) for line in (SHARED / "questions.jsonl").open(encoding="utf-8")]
    gold = {doc for question in questions for doc in question["gold_doc_ids"]}
    days = {date.fromisoformat(question["date"][:10]) - timedelta(days=back) for question in questions for back in range(SLICE_DAYS + 1)}
    kept = [
        line for line in (SHARED / "corpus.jsonl").open(encoding="utf-8")
        if (record := json.loads(line))["id"] in gold or (record.get("date") and date.fromisoformat(record["date"][:10]) in days)
    ]
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text("".join(kept), encoding="utf-8")
    return target


def parse_config(text: str) -> dict[str, Any]:
    """TOKENS/OVERLAP/CONTEXT as settings."""
    tokens, overlap, context = text.split("/")
    if context not in CHUNK_CONTEXTS:
        raise SystemExit(f"context {context!r} is not one of {', '.join(CHUNK_CONTEXTS)}")
    return {"chunk_tokens": int(tokens), "chunk_overlap": int(overlap), "chunk_context": context}


def measure(config: str, corpus: Path) -> dict[str, Any]:
    """Index the slice with one config (reused when done before) and ask every question with and without its date."""
    settings = Settings(index_dir=Path(".qa/bench/chunking/index"), **parse_config(config))
    row: dict[str, Any] = {"config": config}
    for protocol, as_of in (("no date", False), ("as of", True)):
        result = run_eval(QAService, settings, corpus, SHARED / "questions.jsonl", EvalOptions(as_of_question_date=as_of, show_progress=True))
        row.setdefault("index", result["index"])
        row[protocol] = {name: result[name] for name in ("ndcg@10", "recall@5", "answer_hit")}
    return row


def main() -> None:
    """Measure each config, print the table, optionally write JSON."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--configs", nargs="+", default=DEFAULT_CONFIGS)
    parser.add_argument("--json", type=Path, default=None)
    arguments = parser.parse_args()
    if not SHARED.exists():
        raise SystemExit(f"{SHARED} not found: this benchmark reads ../shared/eval/rtqa-articles")
    corpus = week_slice(SLICE)
    rows = []
    for config in arguments.configs:
        rows.append(measure(config, corpus))
        print(json.dumps(rows[-1]), flush=True)
    print(f"\n{'config':<28}{'chunks':>8}{'index s':>9}{'nDCG none':>11}{'R@5 none':>10}{'hit none':>10}{'nDCG as-of':>12}{'R@5 as-of':>11}{'hit as-of':>11}")
    for row in rows:
        none, as_of = row["no date"], row["as of"]
        print(
            f"{row['config']:<28}{row['index']['chunks']:>8}{row['index']['seconds']:>9.0f}{none['ndcg@10']:>11.4f}{none['recall@5']:>10.4f}"
            f"{none['answer_hit']:>10.4f}{as_of['ndcg@10']:>12.4f}{as_of['recall@5']:>11.4f}{as_of['answer_hit']:>11.4f}"
        )
    if arguments.json:
        write_results(arguments.json, {"machine": describe(), "rows": rows})


if __name__ == "__main__":
    main()
