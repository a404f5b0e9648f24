"""End to end with the real all-MiniLM-L6-v2, on real FAISS and on Milvus Lite, on the shipped seed article."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from index.vector_store import VectorStoreKind
from qa.service import QAService
from tests.conftest import GCC_QUESTION, REPO, SEED_ID

pytestmark = pytest.mark.both_stores  # run against the FAISS segments and against Milvus Lite


def test_gcc_question_cites_the_gcc_passage(real_service: QAService) -> None:
    answer = real_service.ask(GCC_QUESTION)
    assert not answer.abstained
    gcc = next(citation for citation in answer.citations if "Gulf Cooperation Council (GCC)" in citation.quote)
    assert gcc.article_id == SEED_ID
    assert gcc.title == "Telephonic Condolences to Iran"
    assert gcc.date is not None and gcc.date.isoformat() == "2026-03-07"
    assert answer.answer.rindex(f"[{gcc.n}]") > answer.answer.index("Gulf Cooperation Council")
    assert not answer.answer.startswith("He "), "the answer opens with a pronoun it does not resolve"
    assert {"Putin", "Russia’s Foreign Ministry"} & {citation.speaker.name for citation in answer.citations if citation.speaker}
    text = real_service.article(SEED_ID).text
    for citation in answer.citations:
        assert text[citation.start : citation.end] == citation.quote


def test_search_ranks_the_gcc_chunk_first(real_service: QAService) -> None:
    [top, *_] = real_service.search(GCC_QUESTION, k=3)
    assert "Gulf Cooperation Council" in top.text
    assert real_service.article(SEED_ID).text[top.start : top.end] == top.text


def test_readme_main_command_from_a_fresh_directory(tmp_path: Path, vector_store: VectorStoreKind) -> None:
    """`qa ask` with no index builds one from seeds/ and answers with the cited GCC passage."""
    environment = {key: value for key, value in os.environ.items() if not key.startswith("QA_")}
    result = subprocess.run(
        [sys.executable, "-m", "qa", "ask", GCC_QUESTION, "--json"],
        cwd=REPO, env={**environment, "QA_INDEX_DIR": str(tmp_path / "index"), "QA_VECTOR_STORE": vector_store},
        capture_output=True, text=True, timeout=300, check=True,
    )
    data = json.loads(result.stdout)
    citation = next(citation for citation in data["citations"] if "GCC" in citation["quote"])
    assert citation["speaker"]["name"] == "Putin" and citation["speaker"]["affiliation"] == "Russia"
    article = (REPO / "seeds" / f"{SEED_ID}.txt").read_text(encoding="utf-8")
    body = article.split("\n", 1)[1].strip()
    assert body[citation["start"] : citation["end"]] == citation["quote"]
