"""Who-said-what: precision and recall of the index-time speaker finder on hand-written cases (the shipped seed,
and sentences of rtqa-articles named by offset), plus its cost per article.

Run: python -m bench.speakers [--cost N] [--json bench/results/speakers.json]
(--cost N indexes N rtqa-articles articles twice into fresh indexes, with and without finding speakers, and reports
the added share of indexing time.)
"""

from __future__ import annotations

import argparse
import json
import os
import re
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.machine import write_results
from index.articles import load_paths
from index.build import update_index
from index.speakers import SentenceNote, SpeakerFinder
from index.text import paragraphs, sentences
from qa.answer import AnswerPolicy
from qa.config import Settings
from qa.service import QAService

REPO = Path(__file__).resolve().parent.parent
CASES = REPO / "tests" / "data" / "speaker_cases.json"
SHARED = REPO.parent / "shared" / "eval" / "rtqa-articles" / "corpus.jsonl"


@dataclass(frozen=True)
class Case:
    """A sentence of an article and the names a reader would accept as its speaker ([]: no one's words)."""

    article: str
    start: int
    expected: tuple[str, ...]


def article_sentences(text: str) -> list[tuple[int, int]]:
    """The article's sentences as the index splits them."""
    return [(span.start, span.end) for paragraph in paragraphs(text) for span in sentences(text, paragraph.start, paragraph.end)]


def load_cases(with_shared: bool, part: str = "rtqa-articles") -> tuple[list[Case], dict[str, str]]:
    """The seed cases plus one part of the rtqa-articles cases ('rtqa-articles', used while building the finder, or
    'held-out'), with the texts of the articles they name (rtqa ones only when asked and present)."""
    data = json.loads(CASES.read_text(encoding="utf-8"))
    seed = load_paths([REPO / "seeds"]).articles[0]
    texts = {seed.id: seed.text}
    cases = [Case(seed.id, seed.text.index(prefix), tuple(names)) for prefix, names in data["seed"]]
    if with_shared and SHARED.exists():
        wanted = data[part] if part != "seed" else {}
        for line in SHARED.open(encoding="utf-8"):
            record = json.loads(line)
            if record["id"] in wanted:
                texts[record["id"]] = record["text"]
        cases += [Case(article, start, tuple(names)) for article, rows in wanted.items() for start, names in rows]
    return cases, texts


def matches(predicted: str, expected: tuple[str, ...]) -> bool:
    """A predicted speaker is right when it shares a word with an accepted name."""
    words = set(re.findall(r"\w+", predicted.lower()))
    return any(words & set(re.findall(r"\w+", name.lower())) for name in expected)


def score(finder: SpeakerFinder, cases: list[Case], texts: dict[str, str]) -> dict[str, Any]:
    """Precision, recall and the misses, over every case."""
    notes: dict[str, dict[int, SentenceNote]] = {}
    started = time.perf_counter()
    for article, text in texts.items():
        found = finder.annotate([text], [article_sentences(text)])[0]
        notes[article] = {note.start: note for note in found}
    seconds = time.perf_counter() - started
    predicted = correct = gold = 0
    misses: list[str] = []
    for case in cases:
        note = notes[case.article].get(case.start)
        speaker = note.speaker if note else ""
        gold += bool(case.expected)
        if speaker:
            predicted += 1
            if matches(speaker, case.expected):
                correct += 1
                continue
        if speaker or case.expected:
            misses.append(f"{case.article}@{case.start}: predicted {speaker!r}, expected {list(case.expected)}")
    return {
        "cases": len(cases), "with_speaker": gold, "predicted": predicted, "correct": correct,
        "precision": round(correct / predicted, 4) if predicted else 0.0, "recall": round(correct / gold, 4) if gold else 0.0,
        "seconds": round(seconds, 3), "misses": misses,
    }


class _NoSpeakers(SpeakerFinder):
    """A finder that finds nothing, for indexing without the NLP pass."""

    def annotate(self, texts: Any, sentences: Any, done: Any = None) -> list[list[SentenceNote]]:
        """No notes for any text."""
        return [[] for _ in texts]


def indexing_cost(count: int, finder: SpeakerFinder) -> dict[str, Any]:
    """Index the first `count` rtqa-articles articles into fresh indexes without and with the speaker pass."""
    articles = [article for article, _ in zip(load_paths([SHARED]).articles, range(count), strict=False)]
    service = QAService(Settings(), answering=AnswerPolicy())
    embedder = service.embedder
    embedder.embed(["warm up"])
    finder.annotate(["Warm up, he said."], [[(0, 17)]])
    seconds = {}
    with tempfile.TemporaryDirectory() as folder:
        for label, speakers in (("without", _NoSpeakers()), ("with", finder)):
            report = update_index(Path(folder) / label, embedder, service.chunking, articles, speakers=speakers)
            seconds[label] = report.seconds
            chunks = report.chunks
    return {"articles": len(articles), "chunks": chunks, "seconds_without": seconds["without"], "seconds_with": seconds["with"],
            "added_share": round(seconds["with"] / seconds["without"] - 1, 3)}


def main() -> None:
    """Score the finder, print the figures and misses, optionally write JSON."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--cost", type=int, default=0, help="Also measure the indexing cost on this many articles.")
    arguments = parser.parse_args()
    finder = SpeakerFinder(processes=min(2, os.cpu_count() or 1))  # as `qa index` runs it
    results: dict[str, Any] = {}
    if arguments.cost:
        results["cost"] = indexing_cost(arguments.cost, finder)
        print(json.dumps(results["cost"]))
    for part in ("rtqa-articles", "held-out", "held-out-2", "held-out-3"):
        cases, texts = load_cases(with_shared=True, part=part)
        if part != "rtqa-articles":
            cases = [case for case in cases if case.article in texts and not case.article.startswith("20")]
        result = results[part] = score(finder, cases, texts)
        print(f"{part}: {result['cases']} cases ({result['with_speaker']} with a speaker): precision {result['precision']}, recall {result['recall']}")
        for miss in result["misses"]:
            print(f"  {miss}")
    if arguments.json:
        write_results(arguments.json, results)


if __name__ == "__main__":
    main()
