"""The `qa` command line, driven in-process with the fake embedder."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from index.build import written_bytes
from index.embedder import HashingEmbedder
from qa.cli import main
from qa.config import Settings
from qa.service import QAService
from tests.conftest import SEED_ID, SEEDS


@pytest.fixture
def invoke(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Callable[..., Result]:
    """Run `qa` with a fake-embedder service factory and a private index."""
    monkeypatch.setenv("QA_INDEX_DIR", str(tmp_path / "cli-index"))
    monkeypatch.setenv("QA_SEEDS_DIR", str(SEEDS))
    monkeypatch.setenv("QA_MIN_CONFIDENCE", "-1")
    embedder = HashingEmbedder()

    def run(*args: str) -> Result:
        factory: Callable[[Settings], QAService] = lambda settings: QAService(settings, embedder=embedder)
        return CliRunner().invoke(main, list(args), obj=factory, catch_exceptions=False)

    return run


def test_index_json_counts(invoke: Callable[..., Result]) -> None:
    result = invoke("index", "--json")
    counts = json.loads(result.output)
    assert {key: counts[key] for key in ("added", "updated", "removed", "unchanged")} == {
        "added": 1, "updated": 0, "removed": 0, "unchanged": 0,
    }
    assert counts["chunks"] > 0 and isinstance(counts["seconds"], float)
    again = json.loads(invoke("index", "--json").output)
    assert (again["unchanged"], again["embedded"]) == (1, 0)


@pytest.mark.skipif(written_bytes() is None, reason="no /proc/self/io write_bytes on this system")
def test_index_json_reports_the_bytes_each_write_wrote(invoke: Callable[..., Result], tmp_path: Path) -> None:
    first = json.loads(invoke("index", "--json").output)
    database = next((tmp_path / "cli-index").glob("store-*.sqlite"))
    assert first["bytes_written"] >= database.stat().st_size > 0
    assert (first["segments"], first["tombstones"], first["generation"]) == (1, 0, 1)
    unchanged = json.loads(invoke("index", "--json").output)
    assert 0 <= unchanged["bytes_written"] < 64 * 1024
    assert (unchanged["segments"], unchanged["generation"]) == (1, 1)


def test_index_with_a_bad_file_exits_nonzero_with_a_summary(invoke: Callable[..., Result], tmp_path: Path) -> None:
    (tmp_path / "bad.jsonl").write_text('{"id": "x", "text": "ok"}\nnot json\n', encoding="utf-8")
    result = invoke("index", str(tmp_path / "bad.jsonl"))
    assert result.exit_code == 1
    assert "bad.jsonl:2" in result.output and "could not be indexed" in result.output
    assert "1 added" in result.output


def test_ask_json_builds_the_index_and_cites(invoke: Callable[..., Result]) -> None:
    result = invoke("ask", "Gulf Cooperation Council GCC member states", "--json")
    data = json.loads(result.output)
    assert set(data) >= {"question", "answer", "abstained", "citations"}
    citation = data["citations"][0]
    assert set(citation) >= {"n", "article_id", "title", "date", "source", "chunk_id", "quote", "start", "end", "score"}
    text = (SEEDS / f"{SEED_ID}.txt").read_text(encoding="utf-8")
    assert citation["quote"] in text


def test_search_json_and_human_output(invoke: Callable[..., Result]) -> None:
    data = json.loads(invoke("search", "Operation Epic Fury", "--json", "--k", "2").output)
    assert len(data["passages"]) == 2
    assert set(data["passages"][0]) >= {"article_id", "title", "date", "source", "chunk_id", "text", "start", "end", "score"}
    human = invoke("search", "Operation Epic Fury").output
    assert "[1] Telephonic Condolences to Iran" in human


def test_filters_that_exclude_everything(invoke: Callable[..., Result]) -> None:
    data = json.loads(invoke("ask", "GCC", "--since", "2027-01-01", "--json").output)
    assert data["abstained"] is True and data["citations"] == []


def test_empty_question_is_a_clear_error(invoke: Callable[..., Result]) -> None:
    result = invoke("ask", "  ")
    assert result.exit_code == 1
    assert "question is empty" in result.output


def test_bad_date_option(invoke: Callable[..., Result]) -> None:
    result = invoke("ask", "GCC", "--since", "yesterday")
    assert result.exit_code == 2


def test_compact_merges_segments_and_reports_them(invoke: Callable[..., Result], tmp_path: Path) -> None:
    invoke("index", "--json")
    (tmp_path / "extra").mkdir()
    (tmp_path / "extra" / "ferry.txt").write_text("Ferry news\n\nThe ferry to the island sailed at dawn.\n", encoding="utf-8")
    invoke("index", str(SEEDS), str(tmp_path / "extra"), "--json")
    before = json.loads(invoke("compact", "--json").output)
    assert before["steps"] == [] and before["segments"] == 2
    after = json.loads(invoke("compact", "--all", "--json").output)
    assert (len(after["steps"]), after["segments"], after["tombstones"]) == (1, 1, 0)
    assert after["steps"][0]["merged"] == 2
    assert "1 segments, 0 tombstones (nothing to do)" in invoke("compact").output
