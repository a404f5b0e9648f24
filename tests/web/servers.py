"""Run the app for tests on a free loopback port: uvicorn in a thread, or `qa serve` in a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

import uvicorn
from fastapi import FastAPI

from bench.serving import LOOPBACK, free_port, stop, wait_until_ready


@contextmanager
def serve_in_thread(app: FastAPI) -> Iterator[str]:
    """Serve an app with uvicorn on a loopback port; its base URL, the server stopped on exit."""
    server = uvicorn.Server(uvicorn.Config(app, host=LOOPBACK, port=free_port(), log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, name="uvicorn-test", daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    try:
        yield f"http://{LOOPBACK}:{server.config.port}"
    finally:
        server.should_exit = True
        thread.join(timeout=20)


def qa_environment(settings: Mapping[str, str] | None = None) -> dict[str, str]:
    """This process's environment without the developer's QA_* variables, plus the given ones."""
    environment = {key: value for key, value in os.environ.items() if not key.startswith("QA_")}
    environment.update(settings or {})
    return environment


@contextmanager
def serve_subprocess(
    index_dir: Path,
    seeds_dir: Path,
    log_path: Path,
    timeout: float = 240,
    settings: Mapping[str, str] | None = None,
    options: Sequence[str] = (),
) -> Iterator[str]:
    """Run `qa serve` (with extra QA_* settings and command-line options) on a loopback port until /readyz says 200;
    its base URL, the process stopped on exit."""
    port = free_port()
    environment = qa_environment({"QA_INDEX_DIR": str(index_dir), "QA_SEEDS_DIR": str(seeds_dir), **(settings or {})})
    command = [sys.executable, "-m", "qa", "serve", "--host", LOOPBACK, "--port", str(port), *options]
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, cwd=log_path.parent, env=environment, stdout=log, stderr=subprocess.STDOUT)
        base_url = f"http://{LOOPBACK}:{port}"
        try:
            wait_until_ready(base_url, timeout, process, log_path)
            yield base_url
        finally:
            stop(process)
