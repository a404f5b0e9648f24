"""A real `qa serve` for the HTTP benchmarks: the cached bench index, a loopback port, and /proc readings of it."""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

LOOPBACK = "127.0.0.1"
REPO = Path(__file__).resolve().parent.parent
SEEDS = REPO / "seeds"
RTQA = REPO.parent / "shared" / "eval" / "rtqa-passages"
DEFAULT_CACHE = REPO / ".qa" / "bench"
SEED_QUESTIONS = (
    "What did Russia say about the GCC?",
    "Who did Putin speak with on the phone?",
    "What was the military operation called?",
    "How did Iran retaliate?",
    "What did Putin condemn?",
    "Where did Israel expand its operations?",
    "What do analysts fear the hostilities could disrupt?",
    "What is the capital of Australia?",
)


@dataclass(frozen=True)
class Served:
    """A running server: where it listens, its process id, and how long it took to say it was ready."""

    base_url: str
    pid: int
    ready_seconds: float
    log_path: Path


def free_port() -> int:
    """A port nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind((LOOPBACK, 0))
        return int(probe.getsockname()[1])


def wait_until_ready(base_url: str, timeout: float, process: subprocess.Popen[bytes], log_path: Path) -> None:
    """Poll /readyz until 200; fail with the server's log if it exits or takes too long."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"qa serve exited with {process.returncode}:\n{log_path.read_text(errors='replace')}")
        try:
            if httpx.get(f"{base_url}/readyz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"qa serve was not ready after {timeout} s:\n{log_path.read_text(errors='replace')}")


def server_environment(index_dir: Path) -> dict[str, str]:
    """Default settings (no QA_* from the shell), offline model, this source tree, and no rate limit.

    The API limits each client IP to QA_RATE_LIMIT_PER_MINUTE (120) /v1 requests a minute when auth is off; every
    load-generator connection comes from 127.0.0.1, so the limit is switched off (0) or it would cap the run at 2/s.
    """
    environment = {key: value for key, value in os.environ.items() if not key.startswith("QA_")}
    environment.update(
        HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", PYTHONPATH=str(REPO),
        QA_INDEX_DIR=str(index_dir), QA_SEEDS_DIR=str(SEEDS), QA_RATE_LIMIT_PER_MINUTE="0",
    )
    return environment


def corpus_sources(corpus: Path | None) -> list[Path]:
    """The seeds, plus the rtqa-passages corpus where it exists (read in place, never copied)."""
    return [SEEDS, *([corpus] if corpus and corpus.exists() else [])]


def ensure_index(cache_dir: Path, sources: Sequence[Path]) -> Path:
    """Index the sources into cache_dir/index with `qa index` (only what changed; rebuilt if the format moved on)."""
    index_dir = cache_dir / "index"
    command = [sys.executable, "-m", "qa", "index", *map(str, sources), "--index-dir", str(index_dir), "--json"]
    environment = server_environment(index_dir)
    cache_dir.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    done = subprocess.run(command, cwd=cache_dir, env=environment, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        print(f"qa index failed ({done.stderr.strip()[-400:]}); rebuilding the bench index", flush=True)
        done = subprocess.run([*command, "--rebuild"], cwd=cache_dir, env=environment, capture_output=True, text=True, check=True)
    report = json.loads(done.stdout.strip().splitlines()[-1])
    print(f"bench index {index_dir}: {report['added']} added, {report['unchanged']} unchanged, {report['chunks']} chunks "
          f"({time.perf_counter() - started:.1f} s)", flush=True)
    return index_dir


@contextmanager
def serve(
    index_dir: Path, log_path: Path, timeout: float = 300, settings: Mapping[str, str] | None = None
) -> Iterator[Served]:
    """`qa serve` on a free loopback port with default settings (but these QA_* settings) until /readyz is 200;
    stopped on exit."""
    port = free_port()
    command = [sys.executable, "-m", "qa", "serve", "--host", LOOPBACK, "--port", str(port)]
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("wb") as log:
        started = time.perf_counter()
        environment = {**server_environment(index_dir), **(settings or {})}
        process = subprocess.Popen(command, cwd=log_path.parent, env=environment, stdout=log, stderr=subprocess.STDOUT)
        try:
            base_url = f"http://{LOOPBACK}:{port}"
            wait_until_ready(base_url, timeout, process, log_path)
            yield Served(base_url, process.pid, time.perf_counter() - started, log_path)
        finally:
            stop(process)


def stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM, then SIGKILL if it does not exit within 20 s."""
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=20)


def rss_bytes(pid: int) -> int:
    """Resident memory of a process (VmRSS)."""
    for line in Path(f"/proc/{pid}/status").read_text(encoding="utf-8").splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


def cpu_seconds(pid: int) -> float:
    """User plus system CPU seconds a process has used, all its threads included."""
    fields = Path(f"/proc/{pid}/stat").read_text(encoding="utf-8").rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine_busy_seconds() -> float:
    """CPU seconds all cores together have been busy since boot (/proc/stat: everything but idle and iowait)."""
    fields = [int(value) for value in Path("/proc/stat").read_text(encoding="utf-8").splitlines()[0].split()[1:9]]
    return (sum(fields) - fields[3] - fields[4]) / os.sysconf("SC_CLK_TCK")


def load_questions(path: Path | None, limit: int | None = None) -> list[str]:
    """Questions from a JSONL file's `question` fields, or the seed questions when it is missing."""
    if path is None or not path.exists():
        return list(SEED_QUESTIONS)
    questions = []
    with path.open(encoding="utf-8") as reader:
        for line in reader:
            if line.strip():
                questions.append(str(json.loads(line)["question"]))
            if limit and len(questions) >= limit:
                break
    return questions


def add_common_options(parser: argparse.ArgumentParser) -> None:
    """The options every HTTP benchmark takes: questions, corpus, index cache, quiet machine, JSON output."""
    parser.add_argument("--questions", type=Path, default=RTQA / "questions.jsonl", help="JSONL with `question` fields.")
    parser.add_argument("--corpus", type=Path, default=RTQA / "corpus.jsonl", help="Indexed with the seeds when present.")
    parser.add_argument("--cache-dir", type=Path, default=DEFAULT_CACHE, help="Where the bench index is kept.")
    parser.add_argument("--max-load", type=float, default=1.5, help="Wait for the 1-minute load to drop to this.")
    parser.add_argument("--patience", type=float, default=300.0, help="Seconds to wait for a quiet machine.")
    parser.add_argument("--json", type=Path, default=None, help="Write the results here as JSON.")
    parser.add_argument(
        "--server-setting", action="append", default=[], metavar="QA_NAME=VALUE",
        help="A setting for the server (repeatable), e.g. QA_QUERY_CACHE_SIZE=0 to embed every question.",
    )


def server_settings(pairs: Sequence[str]) -> dict[str, str]:
    """--server-setting QA_NAME=VALUE pairs as a mapping."""
    settings = dict(pair.split("=", 1) for pair in pairs)
    if not all(name.startswith("QA_") for name in settings):
        raise SystemExit("--server-setting takes QA_NAME=VALUE")
    return settings
