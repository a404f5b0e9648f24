"""A Milvus server for tests: Milvus Lite's gRPC server (the Milvus protocol) in its own process on a free 127.0.0.1
port, over a temporary data folder, stopped afterwards."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from pymilvus import MilvusClient

from bench.serving import free_port


@contextmanager
def milvus_server(data_dir: Path) -> Iterator[str]:
    """A running server's URI (http://127.0.0.1:PORT)."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "milvus_lite", "server", "--data-dir", str(data_dir), "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    uri = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                MilvusClient(uri=uri, timeout=2).close()
                break
            except Exception:  # noqa: BLE001 - not listening yet
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError("the Milvus Lite server did not start") from None
                time.sleep(0.1)
        yield uri
    finally:
        process.terminate()
        process.wait(timeout=30)
