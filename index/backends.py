"""Choosing the embedding backend: torch (sentence-transformers), onnx (fp32) or onnx-int8."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from index.embedder import Embedder, SentenceTransformerEmbedder

Backend = Literal["torch", "onnx", "onnx-int8"]
BACKENDS: tuple[Backend, ...] = ("torch", "onnx", "onnx-int8")


def make_embedder(model: str, backend: Backend, cache_dir: Path | None = None) -> Embedder:
    """The embedder for a model on a backend; the ONNX ones export the model into cache_dir on first use."""
    if backend == "torch":
        return SentenceTransformerEmbedder(model)
    from index.onnx_embedder import OnnxEmbedder

    return OnnxEmbedder(model, precision="int8" if backend == "onnx-int8" else "fp32", cache_dir=cache_dir)
