"""`qa serve` in a subprocess with the real model, over real HTTP on loopback: the GCC question end to end."""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.conftest import GCC_QUESTION, SEED_ID


def test_qa_serve_answers_the_gcc_question(live_server: tuple[str, Path]) -> None:
    base_url, log_path = live_server
    with httpx.Client(base_url=base_url, timeout=60) as client:
        ready = client.get("/readyz").json()
        assert ready["model"] == "all-MiniLM-L6-v2" and ready["chunks"] > 0
        answer = client.post("/v1/ask", json={"question": GCC_QUESTION}).json()
        assert not answer["abstained"]
        first = answer["citations"][0]
        assert (first["n"], first["article_id"], first["date"]) == (1, SEED_ID, "2026-03-07")
        gcc = next(citation for citation in answer["citations"] if "Gulf Cooperation Council (GCC)" in citation["quote"])
        assert gcc["speaker"] == {"name": "Putin", "start": gcc["speaker"]["start"], "end": gcc["speaker"]["end"], "affiliation": "Russia"}
        assert answer["answer"].index("Gulf Cooperation Council") < answer["answer"].rindex(f"[{gcc['n']}]")
        text = client.get(f"/v1/articles/{SEED_ID}").json()["text"]
        assert text[gcc["speaker"]["start"] : gcc["speaker"]["end"]].endswith("Putin")
        for citation in answer["citations"]:
            assert text[citation["start"] : citation["end"]] == citation["quote"]
        passages = client.post("/v1/search", json={"question": GCC_QUESTION, "k": 3}).json()["passages"]
        assert "Gulf Cooperation Council" in passages[0]["text"]
    log = log_path.read_text(encoding="utf-8")
    assert "built the index from" in log and "auth: off" in log and "rate limit: 120 requests a minute" in log
