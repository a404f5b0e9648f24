"""The standard retrieval run: `qa eval` on rtqa-passages (short passages) and rtqa-articles (full articles), with no
date and as of each question's date, side by side, so a change that helps one set and hurts the other shows.

Run: python -m bench.eval_sets [--sets rtqa-passages rtqa-articles] [--limit N] [--json bench/results/eval_sets.json]

Each set is indexed once under .qa/eval/ and reused (rtqa-articles takes about 50 minutes to embed on 2 cores the
first time; later runs take minutes).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

from bench.machine import describe, write_results
from qa.config import Settings
from qa.evaluate import EvalOptions, run_eval
from qa.service import QAService

SHARED = Path(__file__).resolve().parent.parent.parent / "shared" / "eval"
SETS = ("rtqa-passages", "rtqa-articles")
PROTOCOLS = {"no date": False, "as of question date": True}
COLUMNS = ("ndcg@10", "recall@1", "recall@5", "recall@10", "mrr@10", "answer_hit", "latency_ms_p50")


def run(sets: list[str], limit: int | None) -> list[dict[str, Any]]:
    """One row per set and protocol, with the seconds each took (indexing included on a first run)."""
    settings = Settings(index_dir=Path(".qa/index"))
    rows: list[dict[str, Any]] = []
    for name in sets:
        folder = SHARED / name
        if not folder.exists():
            raise SystemExit(f"{folder} not found: this benchmark reads ../shared/eval/{name}")
        for protocol, as_of in PROTOCOLS.items():
            started = time.perf_counter()
            options = EvalOptions(k=10, limit=limit, as_of_question_date=as_of, show_progress=True)
            result = run_eval(QAService, settings, folder / "corpus.jsonl", folder / "questions.jsonl", options)
            rows.append({"set": name, "protocol": protocol, "seconds": round(time.perf_counter() - started, 1), **result})
    return rows


def main() -> None:
    """Run the sets, print the table, optionally write JSON."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sets", nargs="+", choices=SETS, default=list(SETS))
    parser.add_argument("--limit", type=int, default=None, help="Only the first N questions of each set.")
    parser.add_argument("--json", type=Path, default=None, help="Write the rows (and the machine) here as JSON.")
    arguments = parser.parse_args()
    rows = run(arguments.sets, arguments.limit)
    print(f"\n{'set':<15}{'protocol':<22}{'questions':>10}" + "".join(f"{column:>16}" for column in COLUMNS))
    for row in rows:
        print(f"{row['set']:<15}{row['protocol']:<22}{row['n_questions']:>10}" + "".join(f"{row[column]:>16}" for column in COLUMNS))
    if arguments.json:
        write_results(arguments.json, {"machine": describe(), "rows": rows})


if __name__ == "__main__":
    main()
