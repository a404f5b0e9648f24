"""OnnxEmbedder: the sentence-transformers model run by onnxruntime, in fp32 or dynamic int8."""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from tokenizers import Tokenizer
from tqdm import tqdm

from index.embedder import DEFAULT_MODEL, ModelIdentity, PassageVectors, resolve_model
from index.model_config import SentenceModelConfig, read_model_config
from index.onnx_export import default_cache_dir, prepared_model
from index.span_pooling import CharSpan, normalised, pool_spans
from qa.errors import QAError


class OnnxEmbedder(ModelIdentity):
    """Embeds like SentenceTransformerEmbedder (same tokenizer, pooling and normalisation) on onnxruntime."""

    def __init__(
        self,
        model: str = DEFAULT_MODEL,
        precision: str = "fp32",
        cache_dir: Path | None = None,
        batch_size: int = 16,
        threads: int | None = None,
    ) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        import onnxruntime

        name, path = resolve_model(model)
        self._config = read_model_config(Path(path))
        super().__init__(name, precision, self._config.hidden_size, self._config.max_seq_length - 2)
        self.model_file = prepared_model(self._config, precision, cache_dir or default_cache_dir())
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads or len(os.sched_getaffinity(0))
        options.inter_op_num_threads = 1
        options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.log_severity_level = 3
        try:
            self._session = onnxruntime.InferenceSession(str(self.model_file), options, providers=["CPUExecutionProvider"])
        except Exception as error:
            raise QAError(
                f"onnxruntime cannot load {self.model_file} ({error}); delete that folder to re-export it, "
                "or set QA_EMBED_BACKEND=torch"
            ) from error
        self._counter, self._encoder = _tokenizers(self._config)
        self._one_call_at_a_time = threading.Lock()
        self._batch_size = batch_size

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        """Model tokens in each text, special tokens excluded (the fast tokenizer, no truncation)."""
        if not texts:
            return []
        return [len(encoding.ids) for encoding in self._counter.encode_batch(list(texts), add_special_tokens=False)]

    def embed(self, texts: Sequence[str], show_progress: bool = False) -> np.ndarray:
        """Embed texts in batches of similar length, so little padding is computed."""
        return self.embed_passages(texts, [() for _ in texts], show_progress).vectors

    def embed_passages(
        self, texts: Sequence[str], sentence_spans: Sequence[Sequence[CharSpan]], show_progress: bool = False
    ) -> PassageVectors:
        """Embed texts; each sentence vector pools the passage's own token states over the sentence's tokens."""
        vectors = np.zeros((len(texts), self.dimension), dtype=np.float32)
        sentences: list[np.ndarray] = [np.zeros((0, self.dimension), dtype=np.float32) for _ in texts]
        if not texts:
            return PassageVectors(vectors, sentences)
        encodings = self._encoder.encode_batch(list(texts))
        lengths = np.fromiter((len(encoding.ids) for encoding in encodings), dtype=np.int64, count=len(encodings))
        order = np.argsort(lengths, kind="stable")
        starts = range(0, len(order), self._batch_size)
        for start in tqdm(starts, desc="Embedding", unit="batch", disable=not show_progress):
            rows = order[start : start + self._batch_size]
            ids = np.zeros((len(rows), int(lengths[rows].max())), dtype=np.int64)
            for position, row in enumerate(rows):
                ids[position, : lengths[row]] = encodings[row].ids
            mask = (np.arange(ids.shape[1]) < lengths[rows][:, None]).astype(np.int64)
            with self._one_call_at_a_time:  # a call already uses every core; concurrent calls only contend
                hidden = self._session.run(["last_hidden_state"], {"input_ids": ids, "attention_mask": mask})[0]
            vectors[rows] = pool(hidden, mask, self._config.pooling)
            for position, row in enumerate(rows):
                if sentence_spans[row]:
                    encoding = encodings[row]
                    sentences[row] = pool_spans(
                        hidden[position, : lengths[row]], encoding.offsets, encoding.special_tokens_mask, sentence_spans[row]
                    )
        return PassageVectors(normalised(vectors), sentences)


def pool(hidden: np.ndarray, mask: np.ndarray, mode: str) -> np.ndarray:
    """Pool token states into one vector per text, as the model's sentence-transformers Pooling module does."""
    pooled: np.ndarray
    if mode == "cls":
        pooled = hidden[:, 0]
        return pooled
    weights = mask[..., None].astype(hidden.dtype)
    if mode == "max":
        pooled = np.where(weights > 0, hidden, np.float32(-1e9)).max(axis=1)
    else:
        pooled = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
    return pooled


def _tokenizers(config: SentenceModelConfig) -> tuple[Tokenizer, Tokenizer]:
    """Two copies of the model's fast tokenizer: one that counts whole texts, one that truncates for the model.

    Read straight from tokenizer.json when the model has one (no transformers or torch import: a cold `qa ask`
    starts seconds sooner); otherwise through transformers' AutoTokenizer."""
    path = Path(config.path) / "tokenizer.json"
    if path.exists():
        serialized = Tokenizer.from_file(str(path)).to_str()
    else:
        from transformers import AutoTokenizer
        from transformers.utils import logging as transformers_logging

        transformers_logging.set_verbosity_error()  # type: ignore[no-untyped-call]
        serialized = AutoTokenizer.from_pretrained(str(config.path)).backend_tokenizer.to_str()
    counter, encoder = Tokenizer.from_str(serialized), Tokenizer.from_str(serialized)
    counter.no_truncation()
    counter.no_padding()
    encoder.no_padding()
    encoder.enable_truncation(max_length=config.max_seq_length)
    return counter, encoder
