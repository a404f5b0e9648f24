"""The ONNX model cache: export a sentence-transformers encoder once, fuse it, optionally quantise it to int8.

Files live under <cache root>/<fingerprint>/, where the fingerprint covers the model's files, this recipe and the
versions of the libraries that produce the graph. Each file is written aside and renamed into place, with a SHA-256
sidecar written after it; a file whose checksum does not match (a crash, a truncated copy) is rebuilt.
"""

from __future__ import annotations

import hashlib
import inspect
import logging
import os
import warnings
from collections.abc import Callable
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from index.locking import exclusive
from index.model_config import SentenceModelConfig
from qa.errors import QAError

RECIPE = "torchscript-eager-opset17+bert-fusion+int8-dynamic-per-channel-matmul-s8/1"
PRECISIONS = ("fp32", "int8")
_FINGERPRINT_FILES = ("config.json", "model.safetensors", "pytorch_model.bin", "tokenizer.json")
_FINGERPRINT_LIBRARIES = ("torch", "transformers", "onnxruntime", "onnx")
_OPSET = 17
_CHUNK = 1 << 20


def default_cache_dir() -> Path:
    """~/.cache/grounded-qa/onnx, or under $XDG_CACHE_HOME when that is set."""
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "grounded-qa" / "onnx"


def model_fingerprint(path: Path) -> str:
    """A short digest of the model's weights and config, the export recipe and the library versions."""
    digest = hashlib.sha256(RECIPE.encode())
    for name in _FINGERPRINT_FILES:
        if (path / name).is_file():
            digest.update(name.encode())
            digest.update(file_sha256(path / name).encode())
    for library in _FINGERPRINT_LIBRARIES:
        digest.update(f"{library}={_version(library)}".encode())
    return digest.hexdigest()[:16]


def prepared_model(config: SentenceModelConfig, precision: str, cache_root: Path) -> Path:
    """The cached ONNX file for this model and precision, exported (and quantised) first when missing or damaged."""
    if precision not in PRECISIONS:
        raise QAError(f"unknown ONNX precision {precision!r}; use one of {', '.join(PRECISIONS)}")
    directory = cache_root / model_fingerprint(config.path)
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise QAError(f"cannot create the ONNX cache {directory} ({error}); set QA_ONNX_CACHE_DIR to a writable folder") from error
    with exclusive(directory):  # one process prepares a folder; the others wait, then reuse it
        fp32 = _ensure(directory / "model-fp32.onnx", lambda target: export_onnx(config, target))
        if precision == "fp32":
            return fp32
        return _ensure(directory / "model-int8.onnx", lambda target: quantise_int8(fp32, target))


def export_onnx(config: SentenceModelConfig, target: Path) -> None:
    """Trace the transformer to ONNX (eager attention, so onnxruntime can fuse it) and apply the BERT fusions."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch
    from onnxruntime.transformers.optimizer import optimize_model
    from transformers import AutoModel
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()  # type: ignore[no-untyped-call]
    transformers_logging.set_verbosity_error()  # type: ignore[no-untyped-call]
    model = AutoModel.from_pretrained(str(config.path), attn_implementation="eager").eval()
    wrapper = _hidden_states_module(model)
    example = torch.ones((2, 8), dtype=torch.long)
    raw = target.with_name(f".{target.stem}.raw.{os.getpid()}.onnx")
    try:
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                wrapper, (example, example), str(raw), input_names=["input_ids", "attention_mask"],
                output_names=["last_hidden_state"], opset_version=_OPSET, dynamo=False,
                dynamic_axes={name: {0: "batch", 1: "sequence"} for name in ("input_ids", "attention_mask", "last_hidden_state")},
            )
        model_type = config.model_type if config.model_type in ("bert", "roberta", "distilbert") else "bert"
        optimized = optimize_model(str(raw), model_type=model_type, num_heads=config.num_heads,
                                   hidden_size=config.hidden_size, opt_level=1)
        optimized.save_model_to_file(str(target))
    finally:
        raw.unlink(missing_ok=True)


def quantise_int8(source: Path, target: Path) -> None:
    """Dynamic int8 quantisation of the MatMul weights, per output channel (signed weights: VNNI-friendly)."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    logging.disable(logging.WARNING)  # quantize_dynamic's advice to pre-process is for static quantisation
    try:
        quantize_dynamic(
            str(source), str(target), weight_type=QuantType.QInt8, per_channel=True, op_types_to_quantize=["MatMul"],
            extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},
        )
    finally:
        logging.disable(logging.NOTSET)


def file_sha256(path: Path) -> str:
    """Hex SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(_CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def checksum_path(path: Path) -> Path:
    """The sidecar holding a cached file's SHA-256."""
    return path.with_name(path.name + ".sha256")


def is_intact(path: Path) -> bool:
    """Whether a cached file exists and matches the checksum recorded when it was written."""
    sidecar = checksum_path(path)
    if not path.is_file() or not sidecar.is_file():
        return False
    return sidecar.read_text(encoding="ascii").strip() == file_sha256(path)


def _ensure(target: Path, build: Callable[[Path], None]) -> Path:
    """Return target when intact; otherwise build it aside, then rename it and its checksum into place."""
    if is_intact(target):
        return target
    checksum_path(target).unlink(missing_ok=True)
    temporary = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        build(temporary)
        _fsync_file(temporary)
        os.replace(temporary, target)
        _write_atomically(checksum_path(target), file_sha256(target) + "\n")
    except QAError:
        raise
    except Exception as error:
        raise QAError(
            f"could not prepare the ONNX model {target.name} in {target.parent} ({type(error).__name__}: {error}); "
            "set QA_EMBED_BACKEND=torch to run without it"
        ) from error
    finally:
        temporary.unlink(missing_ok=True)
    return target


def _write_atomically(path: Path, text: str) -> None:
    """Write a small text file aside, fsync it and rename it into place."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_text(text, encoding="ascii")
    _fsync_file(temporary)
    os.replace(temporary, path)
    descriptor = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _fsync_file(path: Path) -> None:
    """Flush a file's bytes to disk."""
    with path.open("rb") as handle:
        os.fsync(handle.fileno())


def _version(library: str) -> str:
    """Installed version of a library, or 'absent'."""
    try:
        return version(library)
    except PackageNotFoundError:
        return "absent"


def _hidden_states_module(model: Any) -> Any:
    """Wrap a Hugging Face encoder as (input_ids, attention_mask) -> last_hidden_state for tracing."""
    import torch

    takes_token_types = "token_type_ids" in inspect.signature(model.forward).parameters

    class HiddenStates(torch.nn.Module):
        """The traced module; token type ids are all zeros, as sentence-transformers passes them."""

        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
            """Run the encoder and return its last hidden state."""
            extra = {"token_type_ids": torch.zeros_like(input_ids)} if takes_token_types else {}
            hidden: torch.Tensor = self.model(input_ids=input_ids, attention_mask=attention_mask, **extra).last_hidden_state
            return hidden

    return HiddenStates()
