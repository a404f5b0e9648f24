"""The ONNX backends against the torch model: same vectors (within quantisation), same tokens, a reused cache."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from index import onnx_export
from index.embedder import SentenceTransformerEmbedder
from index.onnx_embedder import OnnxEmbedder
from index.onnx_export import checksum_path, file_sha256, is_intact
from qa.config import Settings
from qa.service import QAService
from tests.conftest import GCC_QUESTION, SEED_ID, SEEDS

pytestmark = pytest.mark.slow

SENTENCES = [
    "Russia said it maintained constant contact with the Gulf Cooperation Council.",
    "Iran launched multiple waves of drone and missile attacks.",
    "How do I bake sourdough bread?",
    "Café crème, naïve façades and the Zürich–Genève line — ünïcödé survives tokenisation.",
    "Shares of ACME Corp rose 3.5% to $12.40 on Tuesday after the Q3 report (vs. consensus 11.9).",
    "short",
    " ".join(["The long sentence keeps going past the model's limit of two hundred and fifty-six tokens."] * 30),
]


@pytest.fixture(scope="session")
def onnx_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A private ONNX cache, exported into once per session."""
    return tmp_path_factory.mktemp("onnx-cache")


@pytest.fixture(scope="session")
def onnx_fp32(onnx_cache: Path) -> OnnxEmbedder:
    """The bundled model on onnxruntime, fp32."""
    return OnnxEmbedder(precision="fp32", cache_dir=onnx_cache)


@pytest.fixture(scope="session")
def onnx_int8(onnx_cache: Path, onnx_fp32: OnnxEmbedder) -> OnnxEmbedder:
    """The bundled model on onnxruntime, dynamically quantised to int8 (from the fp32 export)."""
    return OnnxEmbedder(precision="int8", cache_dir=onnx_cache)


def _cosines(left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Row-wise cosine of two matrices of unit vectors."""
    return np.einsum("ij,ij->i", left, right)


def test_fp32_vectors_match_the_torch_model(onnx_fp32: OnnxEmbedder, real_embedder: SentenceTransformerEmbedder) -> None:
    ours, reference = onnx_fp32.embed(SENTENCES), real_embedder.embed(SENTENCES)
    assert ours.shape == reference.shape == (len(SENTENCES), 384) and ours.dtype == np.float32
    assert _cosines(ours, reference).min() > 0.99
    np.testing.assert_allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)


def test_int8_vectors_stay_close_to_the_torch_model(
    onnx_int8: OnnxEmbedder, real_embedder: SentenceTransformerEmbedder
) -> None:
    cosines = _cosines(onnx_int8.embed(SENTENCES), real_embedder.embed(SENTENCES))
    assert cosines.min() > 0.97
    assert cosines.max() < 0.99999, "int8 vectors identical to fp32 ones: the quantised file is not in use"


def test_order_and_batching_do_not_change_vectors(onnx_fp32: OnnxEmbedder) -> None:
    whole = onnx_fp32.embed(SENTENCES)
    one_by_one = np.vstack([onnx_fp32.embed([sentence]) for sentence in SENTENCES])
    np.testing.assert_allclose(whole, one_by_one, atol=1e-5)
    assert onnx_fp32.embed([]).shape == (0, 384)


def test_token_counts_equal_the_torch_embedders(
    onnx_fp32: OnnxEmbedder, real_embedder: SentenceTransformerEmbedder
) -> None:
    texts = [*SENTENCES, "", "   ", "\u2014\u201cquoted\u201d\u2014", "x" * 3000, "tokens " * 600]
    assert onnx_fp32.count_tokens(texts) == real_embedder.count_tokens(texts)
    assert onnx_fp32.count_tokens(texts)[-1] > 256
    assert (onnx_fp32.name, onnx_fp32.dimension, onnx_fp32.max_tokens) == (
        real_embedder.name, real_embedder.dimension, real_embedder.max_tokens,
    )
    assert (onnx_fp32.precision, real_embedder.precision) == ("fp32", "fp32")


def test_a_second_construction_reuses_the_cached_files(
    onnx_cache: Path, onnx_int8: OnnxEmbedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = {path: path.stat().st_mtime_ns for path in onnx_cache.rglob("*.onnx")}
    assert len(before) == 2

    def refuse(*_: object) -> None:
        raise AssertionError("the cache was rebuilt although it was intact")

    monkeypatch.setattr(onnx_export, "export_onnx", refuse)
    monkeypatch.setattr(onnx_export, "quantise_int8", refuse)
    again = OnnxEmbedder(precision="int8", cache_dir=onnx_cache)
    assert again.model_file == onnx_int8.model_file
    assert {path: path.stat().st_mtime_ns for path in onnx_cache.rglob("*.onnx")} == before
    np.testing.assert_allclose(again.embed(SENTENCES[:2]), onnx_int8.embed(SENTENCES[:2]), atol=1e-6)


def test_a_corrupt_cached_file_is_detected_and_rebuilt(
    onnx_cache: Path, onnx_int8: OnnxEmbedder, tmp_path: Path
) -> None:
    copy = tmp_path / "cache"
    shutil.copytree(onnx_cache, copy)
    damaged = copy / onnx_int8.model_file.relative_to(onnx_cache)
    damaged.write_bytes(damaged.read_bytes()[: damaged.stat().st_size // 2])
    (damaged.parent / f".{damaged.name}.999.tmp").write_bytes(b"half a file left by a crash")
    assert not is_intact(damaged)

    rebuilt = OnnxEmbedder(precision="int8", cache_dir=copy)
    assert rebuilt.model_file == damaged and is_intact(damaged)
    assert checksum_path(damaged).read_text().strip() == file_sha256(damaged)
    np.testing.assert_allclose(rebuilt.embed(SENTENCES[:3]), onnx_int8.embed(SENTENCES[:3]), atol=1e-4)


def test_an_onnx_index_answers_the_gcc_question(onnx_cache: Path, onnx_int8: OnnxEmbedder, tmp_path: Path) -> None:
    settings = Settings(index_dir=tmp_path / "index", seeds_dir=SEEDS, embed_backend="onnx-int8", onnx_cache_dir=onnx_cache)
    service = QAService(settings)
    service.ensure_index()
    assert isinstance(service.embedder, OnnxEmbedder) and service.embedder.precision == "int8"
    answer = service.ask(GCC_QUESTION)
    assert not answer.abstained
    gcc = next(citation for citation in answer.citations if "Gulf Cooperation Council (GCC)" in citation.quote)
    assert gcc.article_id == SEED_ID
    assert service.article(SEED_ID).text[gcc.start : gcc.end] == gcc.quote
