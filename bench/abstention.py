"""Train and check the abstention model: every dev question asked as of its date, once as is (the sources answer it)
and once with its gold articles removed (they do not); a logistic regression over the evidence signals is trained on
the even-numbered questions of rtqa-passages and rtqa-articles and checked on the odd ones, then written to
qa/abstention_model.json with the threshold that answers 90 % of answerable training questions.

Run: python -m bench.abstention [--write] [--json bench/results/abstention.json] [--rows DIR]
(--rows keeps each set's gathered signals in DIR and reuses them, so refitting does not ask every question again.)
"""

from __future__ import annotations

import argparse
import json
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.preprocessing import StandardScaler
from tqdm import tqdm

from bench.machine import describe, write_results
from index.manifest import NOTES_FORMAT
from qa.abstain import FEATURES, MODEL_PATH, AbstentionModel
from qa.answer import AnswerPolicy
from qa.config import Settings
from qa.evaluate import eval_index_dir, load_questions
from qa.service import QAService
from qa.types import SearchFilters

SHARED = Path(__file__).resolve().parent.parent.parent / "shared" / "eval"
SETS = ("rtqa-passages", "rtqa-articles")
TARGET_ANSWERED = 0.90


def gather(name: str) -> list[dict[str, Any]]:
    """Signals of every question of a set, asked as of its date with and without its gold articles."""
    settings = Settings()
    corpus = SHARED / name / "corpus.jsonl"
    service = QAService(
        settings.model_copy(update={"index_dir": eval_index_dir(settings.index_dir.parent / "eval", corpus, settings), "as_of_today": False}),
        answering=AnswerPolicy(max_sentences=settings.answer_sentences, min_confidence=-1.0),
    )
    service.index_paths([corpus], show_progress=True)
    rows = []
    for number, question in enumerate(tqdm(load_questions(SHARED / name / "questions.jsonl"), desc=name, unit="q")):
        as_of = date.fromisoformat(question.date[:10]) if question.date else None
        for answerable, filters in ((True, SearchFilters()), (False, SearchFilters(exclude_articles=question.gold))):
            answer = service.ask(question.text, filters=filters, as_of=as_of)
            rows.append({"set": name, "number": number, "answerable": answerable, **answer.signals})
    return rows


def gathered(name: str, folder: Path | None) -> list[dict[str, Any]]:
    """A set's rows, read from the folder when gathered before on an index of this format, else gathered (and kept)."""
    path = folder / f"{name}-format{NOTES_FORMAT}.json" if folder else None
    if path and path.exists():
        return list(json.loads(path.read_text(encoding="utf-8")))
    rows = gather(name)
    if path:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(rows), encoding="utf-8")
    return rows


def fit(rows: list[dict[str, Any]]) -> tuple[AbstentionModel, float]:
    """A logistic model on the rows, and the probability at which it answers TARGET_ANSWERED of the answerable."""
    features = np.array([[row[name] for name in FEATURES] for row in rows], dtype=float)
    labels = np.array([row["answerable"] for row in rows])
    features = np.where(np.isnan(features), np.nanmean(features, axis=0), features)  # unmeasured: the mean, as at answer time
    scaler = StandardScaler().fit(features)
    regression = LogisticRegression(C=1.0, max_iter=1000).fit(scaler.transform(features), labels)
    model = AbstentionModel(
        tuple(float(value) for value in scaler.mean_), tuple(float(value) or 1.0 for value in scaler.scale_),
        tuple(float(value) for value in regression.coef_[0]), float(regression.intercept_[0]), NOTES_FORMAT,
        trained_on="even-numbered questions of rtqa-passages and rtqa-articles, as of each question's date, with gold removed as the negatives",
    )
    answerable = sorted(model.probability(row) for row in rows if row["answerable"])
    threshold = answerable[int(len(answerable) * (1 - TARGET_ANSWERED))]
    return model, round(threshold, 3)


def check(model: AbstentionModel, threshold: float, rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Answer and abstention rates at the threshold, AUC, and the trade-off at other thresholds."""
    probabilities = np.array([model.probability(row) for row in rows])
    labels = np.array([row["answerable"] for row in rows])
    def rates(at: float) -> dict[str, float]:
        return {
            "threshold": round(at, 3),
            "answered_answerable": round(float((probabilities[labels] >= at).mean()), 4),
            "abstained_unanswerable": round(float((probabilities[~labels] < at).mean()), 4),
        }
    return {"n": len(rows), "auc": round(float(roc_auc_score(labels, probabilities)), 4), **rates(threshold),
            "tradeoff": [rates(float(at)) for at in np.arange(0.1, 0.91, 0.1)]}


def main() -> None:
    """Gather, fit on even questions, check on odd ones (per set and together), optionally write the model."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--write", action="store_true", help=f"Write the model to {MODEL_PATH}.")
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--rows", type=Path, default=None, help="Folder keeping each set's gathered signals.")
    arguments = parser.parse_args()
    rows = [row for name in SETS for row in gathered(name, arguments.rows)]
    train = [row for row in rows if row["number"] % 2 == 0]
    model, threshold = fit(train)
    report: dict[str, Any] = {"threshold": threshold, "weights": dict(zip(FEATURES, model.weights, strict=True)),
                              "train": check(model, threshold, train)}
    for name in SETS:
        report[f"held-out {name}"] = check(model, threshold, [row for row in rows if row["number"] % 2 == 1 and row["set"] == name])
    print(json.dumps({key: value for key, value in report.items() if key != "weights"}, indent=1))
    print("weights:", {name: round(weight, 3) for name, weight in report["weights"].items()})
    if arguments.write:
        MODEL_PATH.write_text(model.to_json() + "\n", encoding="utf-8")
        print(f"wrote {MODEL_PATH}; set the default QA_MIN_CONFIDENCE to {threshold}")
    if arguments.json:
        write_results(arguments.json, {"machine": describe(), **report})


if __name__ == "__main__":
    main()
