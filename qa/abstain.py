"""Whether to answer: a small logistic model over the evidence (the best passage cosine, the best sentence's score
and its margin over the next, how far the best article stands out from the other candidates before any time bonus,
whether the best sentence holds the kind of name the question asks for, whether it is from the period the question
names and how close in time it is compared with the closest candidates, whether it is by the speaker asked about)
gives the probability that the sources answer the question.

The model is trained by `python -m bench.abstention` on half of the dev questions with their gold-removed variants,
checked on the other half, and shipped as qa/abstention_model.json, which records the index format whose notes it
reads; answering needs only numpy.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from index.manifest import NOTES_FORMAT
from qa.errors import QAError
from qa.evidence import Evidence
from qa.speaker_question import AskedSpeaker, speaks_for
from qa.types import TimeWindow

MODEL_PATH = Path(__file__).with_name("abstention_model.json")
FEATURES = (
    "passage_cosine", "sentence_score", "sentence_margin", "article_relevance", "article_margin", "type_fit",
    "window_fit", "period_bonus", "speaker_fit",
)
# "which (Democratic presidential) candidate", "what is the capital"; not "what did the president (say)"
_ASKED_THING = r"\b(?:which|what)\s+(?:(?!(?:did|does|do|has|have|had|will|would|can|could|should|may|might)\b)[\w’'-]+\s+){0,3}?"
_NUMBER_NOUNS = r"(?:percentage|percent|share|proportion|number|amount|age|total|price|cost|score|rate)"
_DATE_NOUNS = r"(?:year|date|day|month|time|decade|century)"
_PLACE_NOUNS = r"(?:country|countries|city|cities|state|states|nation|region|town|island|continent|capital|county|province|neighbou?rhood)"
_NAMED_NOUNS = (
    r"(?:company|companies|firm|automaker|carmaker|airline|bank|brand|retailer|network|platform|agency|organi[sz]ation|"
    r"team|teams|club|party|group|band|person|people|leader|leaders|president|minister|candidate|senator|governor|"
    r"lawmaker|official|figure|star|singer|actor|actress|athlete|player|rapper|musician|author|director|ceo|founder|"
    r"billionaire|celebrity|politician|judge|justice|mayor|monarch|king|queen|prince|princess|pope)"
)
_EXPECTED_KINDS = (
    (re.compile(rf"\bhow\s+(?:many|much|far|long|old|big|high)\b|{_ASKED_THING}{_NUMBER_NOUNS}\b", re.I), frozenset({"CARDINAL", "MONEY", "PERCENT", "QUANTITY", "DATE", "TIME"})),
    (re.compile(rf"\bwhen\b|{_ASKED_THING}{_DATE_NOUNS}\b", re.I), frozenset({"DATE", "TIME"})),
    (re.compile(rf"\bwhere\b|{_ASKED_THING}{_PLACE_NOUNS}\b", re.I), frozenset({"GPE", "LOC", "FAC"})),
    (re.compile(rf"\bwho(?:m|se)?\b|{_ASKED_THING}{_NAMED_NOUNS}\b", re.I), frozenset({"PERSON", "ORG", "NORP", "GPE"})),
)
UNKNOWN = 0.5


def expected_kinds(question: str) -> frozenset[str] | None:
    """The kinds of names that would answer the question (a number for 'how many', a person for 'who'…), or None."""
    return next((kinds for pattern, kinds in _EXPECTED_KINDS if pattern.search(question)), None)


def evidence_features(
    question: str,
    passage_cosines: Sequence[float],
    article_scores: Sequence[float],
    ranked: Sequence[Evidence],
    window: TimeWindow | None,
    speaker: AskedSpeaker | None,
    time_bonus: float = math.nan,
) -> dict[str, float]:
    """The signals the model weighs, for one question and its evidence (best passage and sentence first); NaN where
    a signal cannot be measured (how far the best article stands out, among too few candidates)."""
    best = ranked[0] if ranked else None
    second = ranked[1] if len(ranked) > 1 else None
    kinds = expected_kinds(question)
    labels = best.note.labels if best and best.note else frozenset()
    return {
        "passage_cosine": max(passage_cosines, default=0.0),
        "sentence_score": best.score if best else 0.0,
        "sentence_margin": best.score - second.score if best and second else 0.0,
        "article_relevance": article_scores[0] if article_scores else math.nan,
        "article_margin": article_scores[0] - article_scores[1] if len(article_scores) > 1 else math.nan,
        "type_fit": UNKNOWN if kinds is None or best is None else float(bool(kinds & labels)),
        "window_fit": UNKNOWN if window is None or best is None or best.passage.date is None else float(window.distance(best.passage.date) == 0),
        "period_bonus": time_bonus if window is not None else math.nan,
        "speaker_fit": UNKNOWN if speaker is None or best is None else float(speaks_for(speaker, best.note)),
    }


@dataclass(frozen=True)
class AbstentionModel:
    """Standardised features, logistic weights, and the index format whose notes it was trained on."""

    mean: tuple[float, ...]
    scale: tuple[float, ...]
    weights: tuple[float, ...]
    intercept: float
    format_version: int
    trained_on: str = ""

    def probability(self, features: dict[str, float]) -> float:
        """The probability that the sources answer the question (a signal that could not be measured counts as its
        training mean)."""
        total = self.intercept + sum(
            weight * (features[name] - mean) / scale
            for name, weight, mean, scale in zip(FEATURES, self.weights, self.mean, self.scale, strict=True)
            if not math.isnan(features[name])
        )
        return 1.0 / (1.0 + math.exp(-max(min(total, 60.0), -60.0)))

    def to_json(self) -> str:
        """The model as the JSON file the package ships."""
        return json.dumps({"features": list(FEATURES), **{key: getattr(self, key) for key in (
            "mean", "scale", "weights", "intercept", "format_version", "trained_on")}}, indent=2)


def load_model(path: Path = MODEL_PATH) -> AbstentionModel:
    """The shipped abstention model, checked to weigh the features this version computes from the notes of this
    index format."""
    data = json.loads(path.read_text(encoding="utf-8"))
    if tuple(data["features"]) != FEATURES or int(data["format_version"]) != NOTES_FORMAT:
        raise QAError(
            f"{path} weighs {data['features']} from index format {data['format_version']}; this version computes "
            f"{list(FEATURES)} from format {NOTES_FORMAT}: retrain it with `python -m bench.abstention --write`"
        )
    return AbstentionModel(
        tuple(data["mean"]), tuple(data["scale"]), tuple(data["weights"]), float(data["intercept"]),
        int(data["format_version"]), str(data.get("trained_on", "")),
    )
