"""SIGKILL a writer at random moments of adds, replacements, deletes and compactions (and the WAL checkpoints they
run): after every kill the index opens and answers, its database, vector segments and keyword commit agree, every
article is wholly one version, and no write that was acknowledged is lost."""

from __future__ import annotations

import random
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from index import database
from index.chunking import ChunkingPolicy, chunk_article
from index.embedder import HashingEmbedder
from index.files import live_file_names
from index.manifest import read_manifest
from index.store import IndexSnapshot, index_exists
from qa.types import SearchFilters
from tests.conftest import REPO
from tests.crash_worker import article

TRIALS = 42
KINDS = ("upsert", "delete", "compact")
WINDOW_SECONDS = {"upsert": 0.3, "delete": 0.03, "compact": 0.005}  # about as long as each kind of write takes here


def _run_and_kill(directory: Path, seed: int, target: str, delay: float) -> list[list[str]]:
    """Start a writer, wait for its first acknowledged write and then for it to begin a write of the target kind,
    SIGKILL it `delay` seconds into that write; its lines (read as they come, so the kill lands where aimed)."""
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.crash_worker", str(directory), str(seed), target], cwd=REPO,
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )
    assert process.stdout is not None
    lines: list[list[str]] = []
    acknowledged = False
    for line in process.stdout:
        lines.append(line.split())
        acknowledged = acknowledged or lines[-1][0] == "ack"
        if acknowledged and lines[-1][:2] == ["begin", target]:
            time.sleep(delay)
            break
    process.kill()
    lines += [line.split() for line in process.stdout.read().splitlines() if line.strip()]
    process.wait(timeout=60)
    return lines


def _apply(lines: list[list[str]], expected: dict[str, int | None]) -> list[str] | None:
    """Record what the acknowledged writes left; the write in flight when the process died (None if none)."""
    in_flight: list[str] | None = None
    for words in lines:
        if words[0] == "begin":
            in_flight = words[1:]
        elif words[0] == "ack":
            in_flight = None
            if words[1] == "upsert":
                expected[words[2]] = int(words[3])
            elif words[1] == "delete":
                expected[words[2]] = None
    return in_flight


def _check(directory: Path, embedder: HashingEmbedder, expected: dict[str, int | None], in_flight: list[str] | None) -> None:
    """The live state is whole and holds every acknowledged write; the one in flight is either wholly done or not."""
    snapshot = IndexSnapshot.open(directory, embedder.name, embedder.dimension)
    stored = {stored.id: stored for stored in snapshot.articles(limit=10_000)}
    assert snapshot.size == snapshot.keyword_size == snapshot.state.chunks and snapshot.state.articles == len(stored)
    hits = snapshot.dense(embedder.embed(["harbour ferry pier"])[0], 100_000, None)
    keyword = snapshot.keyword_articles(snapshot.keyword_terms("harbour ferry pier"), 10_000, SearchFilters())
    assert {article_id for article_id, _ in keyword} == set(stored)
    connection = database.connect_reader(read_manifest(directory).database_path(directory))
    rows = connection.execute('SELECT rowid, article_id, start, "end", text FROM chunks').fetchall()
    connection.close()
    assert {rowid for rowid, _ in hits} == {row[0] for row in rows}, "vectors and database disagree"
    policy = ChunkingPolicy(max_tokens=48)
    for article_id, stored_article in stored.items():
        version = int(stored_article.title.rsplit("v", 1)[1])
        assert stored_article.text == article(int(article_id.split("-")[1]), version).text
        chunks = [(start, end, text) for _, owner, start, end, text in rows if owner == article_id]
        assert len(chunks) == len(chunk_article(stored_article, embedder.count_tokens, policy)), "a half-written article"
        assert all(stored_article.text[start:end] == text for start, end, text in chunks)
    flying = in_flight[1] if in_flight and in_flight[0] in ("upsert", "delete") else None
    for article_id, version in expected.items():
        if article_id == flying:
            continue
        if version is None:
            assert article_id not in stored, f"an acknowledged delete of {article_id} was lost"
        else:
            assert stored[article_id].title.endswith(f"v{version}"), f"an acknowledged write of {article_id} was lost"
    if flying is not None and in_flight is not None:
        if in_flight[0] == "delete" and flying not in stored:
            expected[flying] = None
        elif in_flight[0] == "upsert" and flying in stored and stored[flying].title.endswith(f"v{in_flight[2]}"):
            expected[flying] = int(in_flight[2])
    snapshot.close()


def test_sigkill_at_random_moments_never_corrupts_nor_loses_an_acknowledged_write(tmp_path: Path) -> None:
    directory, embedder, rng = tmp_path / "index", HashingEmbedder(), random.Random(15)
    directory.mkdir()
    expected: dict[str, int | None] = {}
    killed_during: Counter[str] = Counter()
    for trial in range(TRIALS):
        target = KINDS[trial % len(KINDS)]
        lines = _run_and_kill(directory, trial + 1, target, rng.uniform(0, WINDOW_SECONDS[target]))
        in_flight = _apply(lines, expected)
        killed_during[in_flight[0] if in_flight else "between writes"] += 1
        assert index_exists(directory)
        try:
            _check(directory, embedder, expected, in_flight)
        except (AssertionError, sqlite3.Error) as error:
            raise AssertionError(f"trial {trial} (killed during {in_flight}): {error}") from error
    finish = subprocess.run(
        [sys.executable, "-c", "from index.compaction import compact_index; import sys; compact_index(__import__('pathlib').Path(sys.argv[1]))",
         str(directory)], cwd=REPO, check=True, capture_output=True,
    )
    assert finish.returncode == 0
    _check(directory, embedder, expected, None)
    assert {path.name for path in directory.glob("store-*")} <= live_file_names(directory)
    assert sum(killed_during.values()) == TRIALS and all(killed_during[kind] >= 3 for kind in KINDS), killed_during
    print(f"{TRIALS} SIGKILLs: {dict(killed_during)}; 0 corrupt, 0 half-written, 0 acknowledged writes lost")
