"""The shipped abstention model: loads only for the features and index format it was trained on, reads a signal that
cannot be measured as average, and the signals that need a crowd of candidates or a nearby date stay unmeasured
without them."""

from __future__ import annotations

import json
import math
from datetime import date
from pathlib import Path

import pytest

from index.manifest import NOTES_FORMAT
from qa.abstain import FEATURES, MODEL_PATH, AbstentionModel, expected_kinds, load_model
from qa.answer import MIN_CROWD, article_scores, time_bonus_share
from qa.errors import QAError
from qa.retrieve import Retrieved
from qa.types import Passage


def _passage(article: str, score: float) -> Passage:
    return Passage(article, article, date(2026, 3, 7), "s", None, f"{article}#0", "", "text", 0, 4, score)


def test_the_shipped_model_matches_this_version_and_gives_probabilities() -> None:
    model = load_model()
    assert model.format_version == NOTES_FORMAT and len(model.weights) == len(FEATURES)
    average = dict(zip(FEATURES, model.mean, strict=True))
    assert 0.0 < model.probability(average) < 1.0
    strong = {name: mean + 3 * scale * (1 if weight > 0 else -1) for name, mean, scale, weight in zip(FEATURES, model.mean, model.scale, model.weights, strict=True)}
    weak = {name: mean - 3 * scale * (1 if weight > 0 else -1) for name, mean, scale, weight in zip(FEATURES, model.mean, model.scale, model.weights, strict=True)}
    assert model.probability(strong) > 0.9 > 0.1 > model.probability(weak)


def test_an_unmeasured_signal_counts_as_its_training_mean() -> None:
    model = AbstentionModel(tuple(1.0 for _ in FEATURES), tuple(1.0 for _ in FEATURES), tuple(1.0 for _ in FEATURES), 0.0, NOTES_FORMAT)
    at_mean = dict.fromkeys(FEATURES, 1.0)
    assert model.probability({**at_mean, FEATURES[0]: math.nan}) == pytest.approx(model.probability(at_mean)) == 0.5


def test_a_model_for_other_features_or_another_index_format_is_refused(tmp_path: Path) -> None:
    data = json.loads(MODEL_PATH.read_text(encoding="utf-8"))
    for changed in ({"features": data["features"][:-1]}, {"format_version": NOTES_FORMAT - 1}):
        path = tmp_path / "model.json"
        path.write_text(json.dumps({**data, **changed}), encoding="utf-8")
        with pytest.raises(QAError, match="python -m bench.abstention --write"):
            load_model(path)


def test_standing_out_needs_a_crowd_and_time_needs_a_nearby_candidate() -> None:
    few = Retrieved([_passage("a", 2.0)], {"a#0": 0.8}, {"a": 0.0})
    assert article_scores(few) == []
    crowd = {f"x{number}": float(number) for number in range(MIN_CROWD)}
    assert article_scores(Retrieved([_passage("x19", 19.0)], {"x19#0": 0.8}, crowd))[:2] == [19.0, 18.0]
    assert math.isnan(time_bonus_share(few))
    far = Retrieved([_passage("a", 1.0)], {"a#0": 0.8}, {"a": 1.0, "b": 0.5}, {"a": 0.01, "b": 0.02})
    assert math.isnan(time_bonus_share(far))
    near = Retrieved([_passage("a", 3.0)], {"a#0": 0.8}, {"a": 1.0, "b": 0.5}, {"a": 2.0, "b": 4.0})
    assert time_bonus_share(near) == 0.5


@pytest.mark.parametrize(("question", "kind"), [
    ("Who won the election?", "PERSON"), ("When did the strike happen?", "DATE"), ("Where did Israel expand its operations?", "GPE"),
    ("How many people died?", "CARDINAL"), ("What percentage of voters turned out?", "PERCENT"),
])
def test_the_kind_of_name_a_question_wants(question: str, kind: str) -> None:
    kinds = expected_kinds(question)
    assert kinds is not None and kind in kinds


def test_a_question_without_an_expected_kind() -> None:
    assert expected_kinds("Why did Putin call Pezeshkian?") is None


@pytest.mark.parametrize(("question", "kind"), [
    ("Which Democratic presidential candidate ended their campaign?", "PERSON"), ("What US state passed the law?", "GPE"),
    ("What is the capital of Australia?", "GPE"), ("In what year did the war end?", "DATE"), ("Which NFL team won?", "ORG"),
])
def test_which_and_what_questions_name_the_thing_they_want(question: str, kind: str) -> None:
    kinds = expected_kinds(question)
    assert kinds is not None and kind in kinds


def test_what_someone_did_or_said_wants_no_particular_kind() -> None:
    assert expected_kinds("What did the president say about the GCC?") is None
    assert expected_kinds("What was the operation called?") is None
