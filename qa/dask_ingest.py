"""Ingestion on Dask distributed: loaded articles split into partitions that workers chunk, embed and annotate (the
model loaded once per worker); the results are written through the store in one write, as `qa index` writes."""

from __future__ import annotations

import threading
from collections.abc import Callable, Collection, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tqdm import tqdm

from index.backends import Backend, make_embedder
from index.build import PreparedArticles, prepare_articles
from index.chunking import ChunkingPolicy
from index.embedder import Embedder
from index.speakers import SpeakerFinder
from qa.config import Settings
from qa.errors import QAError
from qa.types import Article

PARTITION_ARTICLES = 64  # articles per task: large enough to batch the model, small enough to spread and retry
LOOPBACK = "127.0.0.1"
CONNECT_SECONDS = 15


@contextmanager
def dask_client(scheduler: str) -> Iterator[Any]:
    """A client of the scheduler at tcp://HOST:PORT, or of a LocalCluster of N worker processes for `local:N`
    (every port on 127.0.0.1, random, and no dashboard or other HTTP route), closed on exit."""
    import dask
    from distributed import Client, LocalCluster

    if scheduler.startswith("local:"):
        workers = _worker_count(scheduler)
        quiet = {"distributed.scheduler.http.routes": [], "distributed.worker.http.routes": []}  # no HTTP endpoints
        with dask.config.set(quiet), LocalCluster(
            n_workers=workers, threads_per_worker=1, processes=True, host=LOOPBACK,
            dashboard_address=f"{LOOPBACK}:0", protocol="tcp",
        ) as cluster, Client(cluster) as client:
            yield client
        return
    if not scheduler.startswith("tcp://"):
        raise QAError(f"{scheduler!r} is not a Dask scheduler: give tcp://HOST:8786 or local:N")
    with _connected(scheduler) as client:
        yield client


@contextmanager
def _connected(scheduler: str) -> Iterator[Any]:
    """A client of a remote scheduler, or a QAError when none answers as a Dask scheduler within the time limit
    (a wrong port may accept the connection and never speak Dask)."""
    from distributed import Client

    outcome: list[Any] = []

    def connect() -> None:
        try:
            outcome.append(Client(scheduler, timeout=f"{CONNECT_SECONDS}s"))
        except Exception as error:  # noqa: BLE001 (any failure of the handshake is reported below)
            outcome.append(error)

    thread = threading.Thread(target=connect, name="dask-connect", daemon=True)
    thread.start()
    thread.join(CONNECT_SECONDS + 5)
    found = outcome[0] if outcome else None
    if not isinstance(found, Client):
        reason = f"{type(found).__name__}: {found}" if found is not None else f"no Dask answer in {CONNECT_SECONDS + 5} s"
        raise QAError(f"cannot reach the Dask scheduler at {scheduler} ({reason}); is `dask scheduler` running on that port?")
    with found:
        yield found


def prepare_on_dask(
    articles: Sequence[Article],
    settings: Settings,
    policy: ChunkingPolicy,
    scheduler: str,
    show_progress: bool = False,
    on_partition: Callable[[int, Any], None] | None = None,
    partition_articles: int = PARTITION_ARTICLES,
    known_keys: Collection[str] = (),
) -> PreparedArticles:
    """The articles' chunks, vectors and notes, computed on the cluster's workers, one task per partition of
    `partition_articles` (run again on another worker when its worker dies: Dask's allowed-failures); chunk texts
    whose keys are in `known_keys` (already indexed) are not embedded. `on_partition` is given how many partitions
    are done, and the Dask client, after each."""
    from distributed import as_completed

    prepared = PreparedArticles()
    if not articles:
        return prepared
    size = max(1, partition_articles)
    partitions = [list(articles[start : start + size]) for start in range(0, len(articles), size)]
    with dask_client(scheduler) as client:
        model = (settings.model, settings.embed_backend, settings.onnx_cache_dir)  # nothing else (no secrets) leaves
        futures = client.map(_prepare_partition, partitions, model=model, policy=policy, known_keys=set(known_keys), pure=False)
        with tqdm(total=len(partitions), desc="Partitions", unit="partition", disable=not show_progress) as progress:
            for done, future in enumerate(as_completed(futures), start=1):
                prepared.merge(future.result())
                progress.update(1)
                if on_partition:
                    on_partition(done, client)
    return prepared


def _prepare_partition(
    articles: list[Article], model: tuple[str, Backend, Path | None], policy: ChunkingPolicy, known_keys: set[str]
) -> PreparedArticles:
    """On a worker: chunk, embed and annotate one partition with the worker's model (loaded on its first task)."""
    from distributed import get_worker

    worker = get_worker()
    tools: tuple[Embedder, SpeakerFinder] | None = getattr(worker, "_qa_tools", None)
    if tools is None:
        tools = (make_embedder(*model), SpeakerFinder())
        worker._qa_tools = tools  # noqa: SLF001 (the worker object is the per-process place Dask offers for this)
    return prepare_articles(articles, tools[0], policy, tools[1], known_keys)


def _worker_count(scheduler: str) -> int:
    """N from local:N."""
    count = scheduler.removeprefix("local:")
    if not count.isdigit() or not 1 <= int(count) <= 64:
        raise QAError(f"{scheduler!r}: write local:N with N workers between 1 and 64, e.g. local:2")
    return int(count)

