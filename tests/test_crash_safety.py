"""SIGKILL `qa index` at many moments of a real run: the index always opens whole, old or new, never a mix, and its
vector, database and keyword sides always agree."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from index.build import update_index
from index.chunking import ChunkingPolicy
from index.embedder import SentenceTransformerEmbedder
from index.files import live_file_names
from index.manifest import read_manifest
from index.store import IndexSnapshot
from qa.config import Settings
from qa.service import QAService
from qa.types import SearchFilters
from tests.conftest import REPO, SEEDS

TRIALS = 20
NEW_ARTICLES = 24


def _corpus_b(folder: Path) -> Path:
    """The seeds plus many new articles: the run being interrupted."""
    shutil.copytree(SEEDS, folder)
    for number in range(NEW_ARTICLES):
        body = " ".join(
            f"Harbour report {number} sentence {line}: the ferry schedule for pier {number} changed after the storm."
            for line in range(8)
        )
        (folder / f"harbour-{number:02d}.txt").write_text(f" date 2026-04-{1 + number % 28:02d} Harbour {number}\n\n{body}\n")
    return folder


def _start(index_dir: Path, corpus: Path) -> subprocess.Popen[bytes]:
    """`qa index` on corpus, as a separate process."""
    environment = {key: value for key, value in os.environ.items() if not key.startswith("QA_")}
    return subprocess.Popen(
        [sys.executable, "-m", "qa", "index", str(corpus), "--index-dir", str(index_dir)],
        cwd=REPO, env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )


def _wait_for_work(process: subprocess.Popen[bytes]) -> None:
    """Block until the process has loaded the model and started indexing (it prints its first progress bar)."""
    seen = b""
    assert process.stderr is not None
    while b"Chunking" not in seen:
        chunk = process.stderr.read1(4096)  # type: ignore[attr-defined]
        if not chunk:
            return
        seen += chunk


def _run_and_kill(index_dir: Path, corpus: Path, delay: float) -> tuple[int | None, float]:
    """Start indexing, SIGKILL it `delay` seconds into its work; return its exit code if it finished first,
    and how long its work ran."""
    process = _start(index_dir, corpus)
    _wait_for_work(process)
    started = time.perf_counter()
    try:
        finished: int | None = process.wait(timeout=delay)
    except subprocess.TimeoutExpired:
        finished = None
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=60)
    elapsed = time.perf_counter() - started
    assert process.stderr is not None
    process.stderr.close()
    return finished, elapsed


def _kill_moment(number: int, duration: float) -> float:
    """Half the trials spread over the whole run, half over its last quarter, where the new generation is written."""
    half = TRIALS // 2
    if number < half:
        return duration * number / half
    return duration * (0.75 + 0.3 * (number - half) / half)


def _check_whole(index_dir: Path, old: set[str], new: set[str], embedder: SentenceTransformerEmbedder) -> str:
    """The index opens, holds exactly the old or the new corpus, and every citation resolves."""
    manifest = read_manifest(index_dir)
    snapshot = IndexSnapshot.open(index_dir, embedder.name, embedder.dimension)
    ids = {article.id for article in snapshot.articles(limit=10_000)}
    assert ids in (old, new), f"a mix: {len(ids)} articles"
    assert snapshot.size == snapshot.state.chunks == snapshot.keyword_size
    terms = snapshot.keyword_terms("harbour ferry schedule for the pier after the storm; condolences to Iran")
    keyword_rows = [rowid for rowid, _ in snapshot.keyword(terms, 1_000, SearchFilters())]
    assert len(snapshot.chunks(keyword_rows)) == len(keyword_rows) > 0, "keyword hits the database does not hold"
    assert {article_id for article_id, _ in snapshot.keyword_articles(terms, 1_000, SearchFilters())} == ids
    service = QAService(Settings(index_dir=index_dir), embedder=embedder)
    answer = service.ask("what did Russia say about the GCC?")
    for citation in answer.citations:
        assert service.article(citation.article_id).text[citation.start : citation.end] == citation.quote
    assert any("Gulf Cooperation Council" in citation.quote for citation in answer.citations)
    snapshot.close()
    return "new" if ids == new else "old"


def test_sigkill_during_indexing_never_corrupts_the_index(
    tmp_path: Path, real_embedder: SentenceTransformerEmbedder
) -> None:
    policy = ChunkingPolicy(Settings().chunk_tokens, Settings().chunk_overlap)
    corpus = _corpus_b(tmp_path / "corpus")
    base = tmp_path / "base"
    from index.articles import load_paths

    old_articles = load_paths([SEEDS]).articles
    update_index(base, real_embedder, policy, old_articles, prune=True)
    old = {article.id for article in old_articles}
    new = {article.id for article in load_paths([corpus]).articles}

    durations = []
    for attempt in range(2):  # the faster of two uninterrupted runs: a first run slowed by cold caches or a busy
        timing = tmp_path / f"timing-{attempt}"  # machine would put most kill moments after the trials' end
        shutil.copytree(base, timing)
        exit_code, elapsed = _run_and_kill(timing, corpus, delay=600.0)
        assert exit_code == 0
        durations.append(elapsed)
    duration = min(durations)

    def trial(number: int) -> tuple[int | None, str]:
        directory = tmp_path / f"trial-{number}"
        shutil.copytree(base, directory)
        finished, _ = _run_and_kill(directory, corpus, delay=_kill_moment(number, duration))
        return finished, directory.name

    with ThreadPoolExecutor(max_workers=1) as pool:  # one at a time: each run as fast as the timing run
        results = list(pool.map(trial, range(TRIALS)))
    outcomes = []
    for exit_code, name in results:
        directory = tmp_path / name
        outcomes.append(_check_whole(directory, old, new, real_embedder))
        report = update_index(directory, real_embedder, policy, load_paths([corpus]).articles, prune=True)
        assert report.errors == []
        assert _check_whole(directory, old, new, real_embedder) == "new"
        assert {path.name for path in directory.glob("store-*")} <= live_file_names(directory)
        if exit_code is not None:
            assert exit_code == 0
    killed = sum(1 for exit_code, _ in results if exit_code is None)
    assert killed >= TRIALS // 2, f"only {killed} of {TRIALS} runs were still working when killed"
    assert outcomes.count("old") >= 1, outcomes
    print(
        f"{TRIALS} trials over {duration:.2f} s of indexing work, {killed} killed mid-run: "
        f"{outcomes.count('old')} left the old corpus, {outcomes.count('new')} the new one, none corrupt"
    )


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, "-q", "-s"]))
