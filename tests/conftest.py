"""Shared fixtures: an isolated environment, a fake embedder, the real model loaded once, and the vector store the
index uses (modules marked `both_stores` run every test against the FAISS segments and against Milvus Lite)."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from index.embedder import HashingEmbedder, SentenceTransformerEmbedder
from index.vector_store import VECTOR_STORES, VectorStoreKind
from qa.config import Settings
from qa.service import QAService

REPO = Path(__file__).resolve().parent.parent
SEEDS = REPO / "seeds"
SHARED_EVAL = REPO.parent / "shared" / "eval"
SEED_ID = "2026-03-07-telephonic-condolences-to-iran"
GCC_QUESTION = "what did Russia say about the GCC?"


@pytest.fixture(autouse=True)
def isolated_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No QA_* variable or .env file from the developer's shell leaks into a test."""
    import os

    for name in list(os.environ):
        if name.startswith("QA_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


def pytest_configure(config: pytest.Config) -> None:
    """Declare the marker that runs a module against both vector stores."""
    config.addinivalue_line("markers", "both_stores: run against the FAISS segments and against Milvus Lite")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Tests marked both_stores (and the services they use) run once per vector store."""
    if "vector_store" in metafunc.fixturenames and metafunc.definition.get_closest_marker("both_stores"):
        metafunc.parametrize("vector_store", VECTOR_STORES, indirect=True, scope="session")


@pytest.fixture(scope="session")
def vector_store(request: pytest.FixtureRequest) -> Iterator[VectorStoreKind]:
    """The vector store of the indexes a test builds: faiss unless the test is marked both_stores. The Milvus Lite
    servers a store's tests started (one per index file, in this process) are stopped when they are done."""
    kind: VectorStoreKind = getattr(request, "param", "faiss")
    yield kind
    if kind == "milvus":
        from milvus_lite.server_manager import server_manager_instance

        server_manager_instance.release_all()


@pytest.fixture
def settings(tmp_path: Path, vector_store: VectorStoreKind) -> Settings:
    """Settings with a private index directory and the shipped seeds (the fake embedder's cosines are not calibrated)."""
    return Settings(index_dir=tmp_path / "index", seeds_dir=SEEDS, min_confidence=-1.0, vector_store=vector_store)


@pytest.fixture
def fake_embedder() -> HashingEmbedder:
    """A fast deterministic embedder."""
    return HashingEmbedder()


@pytest.fixture
def fake_service(settings: Settings, fake_embedder: HashingEmbedder) -> QAService:
    """A service over the fake embedder."""
    return QAService(settings, embedder=fake_embedder)


@pytest.fixture(scope="session")
def real_embedder() -> SentenceTransformerEmbedder:
    """The bundled all-MiniLM-L6-v2, loaded once per test session."""
    return SentenceTransformerEmbedder()


@pytest.fixture(scope="session")
def real_service(
    tmp_path_factory: pytest.TempPathFactory, real_embedder: SentenceTransformerEmbedder, vector_store: VectorStoreKind
) -> QAService:
    """A service with the real model over an index of the seeds."""
    directory = tmp_path_factory.mktemp("real-index")
    settings = Settings(index_dir=directory / "index", seeds_dir=SEEDS, vector_store=vector_store)
    service = QAService(settings, embedder=real_embedder)
    service.ensure_index()
    return service


@pytest.fixture
def corpus_dir(tmp_path: Path) -> Iterator[Path]:
    """A folder with a copy of the seeds that a test may change."""
    folder = tmp_path / "corpus"
    shutil.copytree(SEEDS, folder)
    yield folder


@pytest.fixture
def write_article() -> Callable[..., Path]:
    """Write an article file in the seed format."""

    def write(folder: Path, name: str, body: str, header: str = " date 2026-01-02 A Test Article") -> Path:
        path = folder / name
        path.write_text(f"{header}\n\n{body}\n", encoding="utf-8")
        return path

    return write
