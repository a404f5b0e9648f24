"""`qa index --dask`: a LocalCluster of worker processes on 127.0.0.1 chunks, embeds and annotates with the real
model; the index is the one a single process builds, and a worker killed mid-run loses nothing."""

from __future__ import annotations

import os
import signal
import sqlite3
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from index.articles import load_paths
from index.build import update_index
from qa.config import Settings
from qa.dask_ingest import prepare_on_dask
from qa.errors import QAError
from qa.service import QAService
from tests.conftest import SEEDS

pytestmark = pytest.mark.slow

STORIES = [
    ("harbour", "Harbour terminal opens in April", "The port authority of Valdena said its new container terminal would open in April. Harbour master Ilse Brandt said dredging had finished early."),
    ("flu", "Winter flu campaign approved", "Health officials in Marrow approved a winter vaccination campaign. Dr. Amal Haddad said clinics would open on weekends."),
    ("orchestra", "Conductor to step down", "The Lindholm orchestra said its conductor Mara Vitale will step down after the spring season. She said she wanted to compose."),
    ("tariffs", "Bloc halves farm tariffs", "Finance ministers of the Northern Trade Bloc agreed to cut tariffs on farm machinery by half. Petra Lund said the deal showed unity."),
    ("ferry", "Ferry resumes", "The island ferry to Marsk resumed sailings on Friday after three days of storms, the operator said."),
    ("mill", "Paper mill to close", "The paper mill at Orrby will close in June, its owners said, blaming energy prices. The union said 300 jobs would go."),
    ("bridge", "Bridge reopens", "The old river bridge in Harlow reopened to traffic on Sunday after two years of repairs, the council said."),
    ("dam", "Dam opens", "The new dam on the Vessel river opened on Saturday. Engineers said it would supply power to 40,000 homes."),
]


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    """The seeds plus eight short stories."""
    folder = tmp_path / "corpus"
    folder.mkdir()
    (folder / "seed.txt").write_text(next(SEEDS.glob("*.txt")).read_text(encoding="utf-8"), encoding="utf-8")
    for name, title, text in STORIES:
        (folder / f"{name}.txt").write_text(f" date 2026-11-30 {title}\n{text}\n", encoding="utf-8")
    return folder


def stored(index_dir: Path) -> tuple[list[tuple[Any, ...]], dict[str, np.ndarray], list[tuple[Any, ...]]]:
    """Chunk rows, vectors by key and sentence notes of an index."""
    database = next(path for path in index_dir.iterdir() if path.name.startswith("store-") and path.suffix == ".sqlite")
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as connection:
        chunks = sorted(connection.execute('SELECT article_id, ordinal, heading, start, "end", text, embedding_key FROM chunks'))
        vectors = {str(key): np.frombuffer(blob, dtype=np.float32) for key, blob in connection.execute("SELECT key, vector FROM embeddings")}
        notes = sorted(connection.execute("SELECT * FROM sentence_notes"))
    return chunks, vectors, notes


def assert_same_index(one: Path, other: Path) -> None:
    """The same chunks, notes and (to float precision) vectors."""
    one_chunks, one_vectors, one_notes = stored(one)
    other_chunks, other_vectors, other_notes = stored(other)
    assert one_chunks == other_chunks and one_notes == other_notes
    assert one_vectors.keys() == other_vectors.keys()
    assert all(np.allclose(one_vectors[key], other_vectors[key], atol=1e-5) for key in one_vectors)


def service_at(index_dir: Path) -> QAService:
    """A real-model service (ONNX, the default backend, as the workers use) over a folder."""
    return QAService(Settings(index_dir=index_dir, seeds_dir=SEEDS))


class CountingEmbedder:
    """The real embedder, counting the passages this process embeds (the workers have their own)."""

    def __init__(self, real: Any) -> None:
        self._real = real
        self.passages = 0

    def embed_passages(self, texts: list[str], *args: Any, **kwargs: Any) -> Any:
        """Count, then embed."""
        self.passages += len(texts)
        return self._real.embed_passages(texts, *args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)


def test_dask_local_2_builds_the_index_one_process_builds(corpus: Path, tmp_path: Path) -> None:
    one = service_at(tmp_path / "one")
    one.index_paths([corpus])
    here = CountingEmbedder(service_at(tmp_path / "unused").embedder)
    spread = QAService(Settings(index_dir=tmp_path / "dask", seeds_dir=SEEDS), embedder=here)  # type: ignore[arg-type]
    report = spread.index_paths([corpus], dask="local:2")
    assert (report.added, report.errors, report.embedded) == (9, [], len(stored(tmp_path / "one")[1]))
    assert here.passages == 0  # every chunk was embedded on the workers
    assert_same_index(tmp_path / "one", tmp_path / "dask")
    found = spread.search("When does the container terminal open?", k=1)[0]
    assert found.article_id == "harbour"
    again = spread.index_paths([corpus], dask="local:2")
    assert (again.unchanged, again.embedded) == (9, 0)  # nothing unchanged is sent to the cluster
    with (corpus / "ferry.txt").open("a", encoding="utf-8") as story:
        story.write("Passengers were offered refunds for the cancelled crossings.\n")
    updated, alone = spread.index_paths([corpus], dask="local:2"), one.index_paths([corpus])
    assert (updated.updated, updated.embedded) == (alone.updated, alone.embedded) == (1, alone.embedded)
    assert here.passages == 0
    assert_same_index(tmp_path / "one", tmp_path / "dask")


def test_a_worker_killed_mid_run_loses_no_article(corpus: Path, tmp_path: Path) -> None:
    settings = Settings(index_dir=tmp_path / "killed", seeds_dir=SEEDS)
    service = QAService(settings)
    articles = load_paths([corpus]).articles
    killed: list[int] = []

    def kill_one_worker(done: int, client: Any) -> None:
        if done == 1:
            pids = client.run(os.getpid)
            killed.append(next(iter(pids.values())))
            os.kill(killed[0], signal.SIGKILL)

    prepared = prepare_on_dask(articles, settings, service.chunking, "local:2", on_partition=kill_one_worker, partition_articles=1)
    assert killed and set(prepared.chunked) == {article.id for article in articles}
    update_index(settings.index_dir, service.embedder, service.chunking, articles, prepared=prepared)
    service_at(tmp_path / "one").index_paths([corpus])
    assert_same_index(tmp_path / "one", tmp_path / "killed")


def test_a_bad_scheduler_is_a_clear_error(corpus: Path, tmp_path: Path) -> None:
    service = QAService(Settings(index_dir=tmp_path / "index", seeds_dir=SEEDS))
    for scheduler, message in [("bogus", "not a Dask scheduler"), ("local:0", "local:N"), ("tcp://127.0.0.1:1", "cannot reach")]:
        with pytest.raises(QAError, match=message):
            service.index_paths([corpus], dask=scheduler)
