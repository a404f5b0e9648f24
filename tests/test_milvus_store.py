"""The Milvus vector store (QA_VECTOR_STORE=milvus): the same hits, filters and citations as the FAISS segments;
upserts and deletes reach the collection; a write it missed is caught up when the index is opened; a rebuilt store
gets its own collection; a Milvus server shared by several processes; clear errors when Milvus cannot be used."""

from __future__ import annotations

import os
import random
import subprocess
import sys
from contextlib import ExitStack
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient
from milvus_lite.server_manager import server_manager_instance
from pymilvus import MilvusClient

from api.app import create_app
from api.settings import ApiSettings
from index.articles import make_article
from index.build import update_index
from index.chunking import ChunkingPolicy
from index.embedder import HashingEmbedder
from index.manifest import read_manifest
from index.milvus_vectors import MilvusVectors, filter_expression
from index.store import IndexSnapshot
from index.vector_store import VectorStoreConfig
from qa.config import Settings
from qa.errors import VectorStoreError
from qa.service import QAService
from qa.types import Article, Outlet, SearchFilters
from tests.conftest import REPO, SEEDS
from tests.milvus_server import milvus_server

MILVUS = VectorStoreConfig("milvus")
WORDS = (
    "ferry strike harbour union council budget election minister drought harvest bank rates inflation port storm "
    "flood rescue court ruling trade tariff summit treaty border talks ceasefire oil gas pipeline airline pilots"
).split()
SOURCES = ("reuters", "ap", "local-gazette", "wire/desk")
FILTERS = (
    SearchFilters(),
    SearchFilters(since=date(2024, 2, 1), until=date(2024, 2, 29)),
    SearchFilters(until=date(2024, 1, 20)),
    SearchFilters(as_of=date(2024, 2, 15)),
    SearchFilters(sources=("ap",)),
    SearchFilters(sources=("bbc",)),  # only an outlet of a republished story matches
    SearchFilters(sources=("local", "wire")),
    SearchFilters(exclude_articles=("story-3", "story-7", 'odd "quoted" \\ id')),
    SearchFilters(since=date(2024, 1, 10), sources=("reuters",), exclude_articles=("story-0",)),
)
QUERIES = ("ferry strike at the harbour", "central bank rates and inflation", "border ceasefire talks", "storm flood rescue")


def _corpus(count: int = 40, seed: int = 7) -> list[Article]:
    """Short articles over a few sources and three months (every fifth undated), one republished by other outlets
    and one with an id that needs escaping in a Milvus expression."""
    rng = random.Random(seed)
    articles = []
    for number in range(count):
        text = ". ".join(" ".join(rng.choices(WORDS, k=12)).capitalize() for _ in range(rng.randint(2, 9))) + "."
        published = None if number % 5 == 4 else date(2024, 1, 1) + timedelta(days=rng.randint(0, 100))
        outlets = (Outlet("BBC News", "https://bbc.example/x", date(2024, 2, 2)),) if number == 11 else ()
        article_id = 'odd "quoted" \\ id' if number == 13 else f"story-{number}"
        articles.append(make_article(article_id, f"Story {number}", text, SOURCES[number % 4], published, outlets=outlets))
    return articles


def _snapshot(directory: Path, store: VectorStoreConfig) -> IndexSnapshot:
    """The live state, searched through the given vector store."""
    embedder = HashingEmbedder()
    return IndexSnapshot.open(directory, embedder.name, embedder.dimension, vector_store=store)


def _hits(snapshot: IndexSnapshot, query: str, filters: SearchFilters, k: int = 10) -> list[tuple[int, float]]:
    """Dense hits as a retrieval asks for them, best first (equal scores, to float noise, by row id)."""
    vector = HashingEmbedder().embed([query])[0]
    found = snapshot.dense(vector, k, snapshot.allowed_ids(filters), filters)
    return sorted(found, key=lambda hit: (-round(hit[1], 4), hit[0]))


def _same_hits(found: list[tuple[int, float]], expected: list[tuple[int, float]]) -> bool:
    """The same chunks in the same order with the same cosines (to float noise)."""
    return [rowid for rowid, _ in found] == [rowid for rowid, _ in expected] and np.allclose(
        [score for _, score in found], [score for _, score in expected], atol=1e-5
    )


def _collection_count(snapshot: IndexSnapshot) -> int:
    """Chunks the snapshot's Milvus collection holds."""
    assert snapshot.milvus is not None
    client, name = snapshot.milvus.client, snapshot.milvus.collection
    return int(client.query(name, filter="", output_fields=["count(*)"])[0]["count(*)"])


def _environment() -> dict[str, str]:
    """This process's environment without QA_ settings."""
    return {key: value for key, value in os.environ.items() if not key.startswith("QA_")}


def test_filter_expression_pushes_dates_sources_and_exclusions_down() -> None:
    filters = SearchFilters(since=date(2024, 2, 1), until=date(2024, 2, 29), as_of=date(2024, 2, 10), exclude_articles=('a"b',))
    expression = filter_expression(filters, ("x", "y\\z"))
    assert expression == (
        f"day >= {date(2024, 2, 1).toordinal()} and day <= {date(2024, 2, 29).toordinal()} and "
        f"(day == -1 or day <= {date(2024, 2, 10).toordinal()}) and "
        '''article in ["x", "y\\\\z"] and article not in ["a\\"b"]'''
    )
    assert filter_expression(SearchFilters(until=date(2024, 1, 1)), None) == f"day >= 1 and day <= {date(2024, 1, 1).toordinal()}"
    assert filter_expression(SearchFilters(), None) == ""


def test_milvus_finds_what_faiss_finds_under_every_filter(tmp_path: Path) -> None:
    update_index(tmp_path, HashingEmbedder(), ChunkingPolicy(48, 0), _corpus(), vector_store=MILVUS)
    server_manager_instance.release_server(MILVUS.uri_for(tmp_path))  # read from the file, as a new process would
    faiss_view, milvus_view = _snapshot(tmp_path, VectorStoreConfig()), _snapshot(tmp_path, MILVUS)
    assert milvus_view.milvus is not None and faiss_view.milvus is None and not milvus_view.loaded_segments
    assert _collection_count(milvus_view) == faiss_view.size == milvus_view.size > 60
    compared = 0
    for query in QUERIES:
        for filters in FILTERS:
            expected = _hits(faiss_view, query, filters)
            assert _same_hits(_hits(milvus_view, query, filters), expected), (query, filters)
            compared += len(expected)
    assert compared > 200  # the filters leave hits to compare
    assert not _hits(milvus_view, QUERIES[0], SearchFilters(sources=("nobody",)))


def test_answers_cite_the_same_passages_on_both_stores(tmp_path: Path) -> None:
    answers = {}
    for kind in ("faiss", "milvus"):
        settings = Settings(index_dir=tmp_path / kind, seeds_dir=SEEDS, min_confidence=-1.0, vector_store=kind)
        service = QAService(settings, embedder=HashingEmbedder(), today=lambda: date(2024, 5, 1))
        service.upsert_articles(_corpus())
        answers[kind] = [
            [(c.article_id, c.start, c.end, c.quote, c.date, c.source) for c in service.ask(question, filters=filters).citations]
            for question in QUERIES for filters in FILTERS[:5]
        ]
    assert answers["milvus"] == answers["faiss"]
    assert sum(map(len, answers["faiss"])) > 20


def test_upserts_and_deletes_reach_the_collection(tmp_path: Path) -> None:
    settings = Settings(index_dir=tmp_path / "index", seeds_dir=SEEDS, min_confidence=-1.0, vector_store="milvus")
    service = QAService(settings, embedder=HashingEmbedder())
    service.upsert_articles(_corpus(12))
    service.upsert_articles([make_article("quake", "Quake", "An earthquake shook Marlow at dawn.", "ap", date(2024, 3, 1))])
    assert service.search("earthquake shook Marlow", 1)[0].article_id == "quake"
    service.upsert_articles([make_article("quake", "Quake", "Aftershocks rattled the harbour pier.", "ap", date(2024, 3, 1))])
    top = service.search("aftershocks rattled the harbour pier", 1)[0]
    assert top.article_id == "quake" and "Aftershocks" in top.text
    assert all("Marlow" not in passage.text for passage in service.search("earthquake shook Marlow", 20))
    service.delete_articles(["quake", "story-0"])
    snapshot = service.snapshot()
    assert {p.article_id for p in service.search("aftershocks harbour pier earthquake", 20)}.isdisjoint({"quake", "story-0"})
    assert _collection_count(snapshot) == snapshot.size == snapshot.state.chunks


def test_a_snapshot_never_returns_chunks_written_after_it(tmp_path: Path) -> None:
    service = QAService(Settings(index_dir=tmp_path / "index", vector_store="milvus"), embedder=HashingEmbedder())
    service.upsert_articles(_corpus(8))
    old = service.snapshot()
    service.upsert_articles([make_article("late", "Late", "Pilots of the airline walked out over pay.", "ap", None)])
    new_rowids = {rowid for rowid, owner in service.snapshot().owners(range(10_000)).items() if owner.article_id == "late"}
    assert new_rowids and new_rowids.isdisjoint(rowid for rowid, _ in _hits(old, "airline pilots walked out", SearchFilters(), 50))
    assert new_rowids & {rowid for rowid, _ in _hits(service.snapshot(), "airline pilots walked out", SearchFilters(), 5)}


def test_a_write_milvus_missed_is_caught_up_when_the_index_is_opened(tmp_path: Path) -> None:
    embedder, policy = HashingEmbedder(), ChunkingPolicy(48, 0)
    update_index(tmp_path, embedder, policy, _corpus(10), vector_store=MILVUS)
    # as if the writer crashed between its commit and the copy into Milvus: a write that never reached the collection
    update_index(tmp_path, embedder, policy, [make_article("new", "New", "Gas pipeline talks resumed at the border.", "ap", None)], deletes=["story-2"])
    mirror = MilvusVectors(MILVUS, tmp_path, 1, embedder.dimension)
    assert mirror.mirrored_generation() == 1
    snapshot = _snapshot(tmp_path, MILVUS)
    assert mirror.mirrored_generation() == snapshot.state.generation == 2
    expected = _hits(_snapshot(tmp_path, VectorStoreConfig()), "gas pipeline talks border", SearchFilters())
    assert _same_hits(_hits(snapshot, "gas pipeline talks border", SearchFilters()), expected)
    assert _collection_count(snapshot) == snapshot.state.chunks
    assert mirror.sync(read_manifest(tmp_path).database_path(tmp_path)) is None  # already current
    mirror.client.drop_collection(mirror.collection)  # lost entirely: reloaded from the store
    reopened = _snapshot(tmp_path, MILVUS)
    assert _collection_count(reopened) == reopened.state.chunks


def test_a_rebuilt_store_gets_its_own_collection_and_the_old_one_goes(tmp_path: Path) -> None:
    embedder, policy = HashingEmbedder(), ChunkingPolicy(48, 0)
    update_index(tmp_path, embedder, policy, _corpus(6), vector_store=MILVUS)
    update_index(tmp_path, embedder, policy, _corpus(6), rebuild=True, vector_store=MILVUS)
    client = _snapshot(tmp_path, MILVUS).milvus
    assert client is not None and client.collection == "qa_chunks_000002"
    update_index(tmp_path, embedder, policy, [make_article("x", "X", "Oil prices rose.", "ap", None)], vector_store=MILVUS)
    assert client.client.list_collections() == ["qa_chunks_000002"]


def test_a_milvus_server_is_shared_by_processes(tmp_path: Path) -> None:
    """A `qa index` process writes through a Milvus server while this process serves from it over HTTP (a Milvus Lite
    file allows one process only); once the server is gone, searches fail with a 503 that names QA_MILVUS_URI."""
    with ExitStack() as stack:
        uri = stack.enter_context(milvus_server(tmp_path / "milvus-data"))
        settings = Settings(index_dir=tmp_path / "index", vector_store="milvus", milvus_uri=uri, milvus_collection="newsroom")
        reader = QAService(settings, embedder=HashingEmbedder())
        reader.upsert_articles(_corpus(6))
        app = create_app(reader, ApiSettings(rate_limit_per_minute=0))
        with TestClient(app) as client:
            assert app.state.api.readiness.wait(60), app.state.api.readiness.error
            (tmp_path / "drop").mkdir()
            (tmp_path / "drop" / "late.txt").write_text(" date 2024-03-09 Airline strike\n\nPilots of the airline walked out over pay.\n", encoding="utf-8")
            environment = {"QA_INDEX_DIR": str(settings.index_dir), "QA_VECTOR_STORE": "milvus", "QA_MILVUS_URI": uri,
                           "QA_MILVUS_COLLECTION": "newsroom", "HF_HUB_OFFLINE": "1"}
            script = (  # `qa index --no-prune`, with the fake embedder the index was built with
                "import sys; from pathlib import Path; from index.embedder import HashingEmbedder; from qa.config import Settings; "
                "from qa.service import QAService; "
                "QAService(Settings(), embedder=HashingEmbedder()).index_paths([Path(sys.argv[1])], prune=False)"
            )
            subprocess.run([sys.executable, "-c", script, str(tmp_path / "drop")], check=True, cwd=REPO, timeout=120,
                           env={**_environment(), **environment})
            top = client.post("/v1/search", json={"question": "pilots of the airline walked out", "k": 1}).json()["passages"][0]
            assert top["title"] == "Airline strike" and top["date"] == "2024-03-09"
            assert MilvusClient(uri=uri).list_collections() == ["newsroom_000001"]
            stack.close()  # the Milvus server stops
            response = client.post("/v1/search", json={"question": "pilots of the airline"})
        error = response.json()["error"]
        assert response.status_code == 503 and error["code"] == "vector_store_unavailable" and "QA_MILVUS_URI" in error["message"]
        with pytest.raises(VectorStoreError, match="failed to search .*check that it is running and QA_MILVUS_URI"):
            reader.search("pilots of the airline walked out", 1)


def test_a_milvus_lite_file_open_in_another_process_is_a_clear_error(tmp_path: Path) -> None:
    holder = subprocess.Popen(
        [sys.executable, "-c", f"from pymilvus import MilvusClient; import time; MilvusClient({str(tmp_path / 'm.db')!r}); print('held', flush=True); time.sleep(60)"],
        stdout=subprocess.PIPE, text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        settings = Settings(index_dir=tmp_path / "index", vector_store="milvus", milvus_uri=str(tmp_path / "m.db"))
        with pytest.raises(VectorStoreError, match="one process at a time.*QA_MILVUS_URI=http"):
            QAService(settings, embedder=HashingEmbedder()).upsert_articles(_corpus(2))
    finally:
        holder.kill()
        holder.wait()


def test_an_unreachable_milvus_server_is_a_clear_error_and_loses_nothing(tmp_path: Path) -> None:
    from bench.serving import free_port

    settings = Settings(index_dir=tmp_path / "index", vector_store="milvus", milvus_uri=f"http://127.0.0.1:{free_port()}")
    service = QAService(settings, embedder=HashingEmbedder())
    with pytest.raises(VectorStoreError, match="cannot open Milvus at http://127.0.0.1:.*QA_MILVUS_URI"):
        service.upsert_articles(_corpus(3))
    # the articles were committed to the store before Milvus was reached: with FAISS they are all there
    faiss = QAService(Settings(index_dir=tmp_path / "index"), embedder=HashingEmbedder())
    assert {article.id for article in faiss.articles()} == {"story-0", "story-1", "story-2"}
