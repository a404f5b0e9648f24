"""The backend setting, the precision an index records, and eval indexes kept apart per backend."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from index.build import update_index
from index.chunking import ChunkingPolicy
from index.embedder import HashingEmbedder
from index.manifest import read_manifest
from index.store import IndexSnapshot
from qa.config import Settings
from qa.errors import IndexMismatchError
from qa.evaluate import eval_index_dir
from qa.types import Article


def _article(article_id: str, text: str) -> Article:
    """A minimal article."""
    return Article(id=article_id, title="Title", text=text, source=f"{article_id}.txt")


def test_the_manifest_records_the_precision_of_the_vectors(tmp_path: Path) -> None:
    update_index(tmp_path, HashingEmbedder(precision="int8"), ChunkingPolicy(), [_article("a", "Oil prices rose.")])
    assert read_manifest(tmp_path).precision == "int8"


def test_writing_vectors_of_another_precision_is_refused_with_the_fix(tmp_path: Path) -> None:
    update_index(tmp_path, HashingEmbedder(), ChunkingPolicy(), [_article("a", "Oil prices rose.")])
    with pytest.raises(IndexMismatchError) as error:
        update_index(tmp_path, HashingEmbedder(precision="int8"), ChunkingPolicy(), [_article("b", "Gold fell.")])
    assert "fp32 vectors" in str(error.value) and "QA_EMBED_BACKEND to onnx or torch" in str(error.value)
    assert "qa index --rebuild" in str(error.value)
    assert read_manifest(tmp_path).articles == 1  # counted when the store was published


def test_reading_with_another_precision_is_allowed(tmp_path: Path) -> None:
    update_index(tmp_path, HashingEmbedder(), ChunkingPolicy(), [_article("a", "Oil prices rose.")])
    embedder = HashingEmbedder(precision="int8")
    assert IndexSnapshot.open(tmp_path, embedder.name, embedder.dimension).manifest.precision == "fp32"


def test_a_manifest_from_before_precision_was_recorded_reads_as_fp32(tmp_path: Path) -> None:
    update_index(tmp_path, HashingEmbedder(), ChunkingPolicy(), [_article("a", "Oil prices rose.")])
    path = tmp_path / "manifest.json"
    path.write_text(path.read_text().replace('  "precision": "fp32",\n', ""))
    assert "precision" not in path.read_text()
    assert read_manifest(tmp_path).precision == "fp32"
    update_index(tmp_path, HashingEmbedder(), ChunkingPolicy(), [_article("b", "Gold fell.")])


def test_the_backend_setting_accepts_only_known_backends(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QA_EMBED_BACKEND", "onnx-int8")
    monkeypatch.setenv("QA_ONNX_CACHE_DIR", "/tmp/somewhere")
    settings = Settings()
    assert (settings.embed_backend, settings.onnx_cache_dir) == ("onnx-int8", Path("/tmp/somewhere"))
    monkeypatch.setenv("QA_EMBED_BACKEND", "tensorrt")
    with pytest.raises(ValidationError):
        Settings()


def test_eval_indexes_are_kept_apart_per_backend_and_chunking(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus.jsonl"
    variants = [Settings(embed_backend=backend) for backend in ("torch", "onnx", "onnx-int8")]
    variants += [Settings(chunk_tokens=96), Settings(chunk_overlap=0), Settings(chunk_context="title+heading+lead")]
    assert len({eval_index_dir(tmp_path, corpus, settings) for settings in variants}) == 6
    assert eval_index_dir(tmp_path, corpus, Settings(embed_backend="onnx")) == eval_index_dir(tmp_path, corpus, Settings())
