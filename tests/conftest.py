"""Shared fixtures: an isolated environment, a fake embedder, the real model loaded once."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from index.embedder import HashingEmbedder, SentenceTransformerEmbedder
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


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Settings with a private index directory and the shipped seeds (the fake embedder's cosines are not calibrated)."""
    return Settings(index_dir=tmp_path / "index", seeds_dir=SEEDS, min_confidence=-1.0)


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
def real_service(tmp_path_factory: pytest.TempPathFactory, real_embedder: SentenceTransformerEmbedder) -> QAService:
    """A service with the real model over an index of the seeds."""
    directory = tmp_path_factory.mktemp("real-index")
    service = QAService(Settings(index_dir=directory / "index", seeds_dir=SEEDS), embedder=real_embedder)
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
