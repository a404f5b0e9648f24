"""Ingestion on Dask distributed: loaded articles split into partitions that workers chunk, embed and annotate (the
model loaded once per worker); the results are written through the store in one write, as `qa index` writes."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from tqdm import tqdm

from index.backends import make_embedder
from index.build import PreparedArticles, prepare_articles
from index.chunking import ChunkingPolicy
from index.embedder import Embedder
from index.speakers import SpeakerFinder
from qa.config import Settings
from qa.errors import QAError
from qa.types import Article

PARTITION_ARTICLES = 64  # articles per task: large enough to batch the model, small enough to spread and retry
TASK_RETRIES = 3  # a partition whose worker died is run again, up to this many times
LOOPBACK = "127.0.0.1"


@contextmanager
def dask_client(scheduler: str) -> Iterator[Any]:
    """A client of the scheduler at tcp://HOST:PORT, or of a LocalCluster of N worker processes for `local:N`
    (bound to 127.0.0.1, dashboard off), closed on exit."""
    from distributed import Client, LocalCluster

    if scheduler.startswith("local:"):
        workers = _worker_count(scheduler)
        with LocalCluster(
            n_workers=workers, threads_per_worker=1, processes=True, host=LOOPBACK, dashboard_address=None,
            protocol="tcp",
        ) as cluster, Client(cluster) as client:
            yield client
        return
    if not scheduler.startswith(("tcp://", "tls://")):
        raise QAError(f"{scheduler!r} is not a Dask scheduler: give tcp://HOST:8786 or local:N")
    try:
        client = Client(scheduler, timeout="15s")
    except OSError as error:
        raise QAError(f"cannot reach the Dask scheduler at {scheduler} ({error}); is `dask scheduler` running?") from error
    with client:
        yield client


def prepare_on_dask(
    articles: Sequence[Article],
    settings: Settings,
    policy: ChunkingPolicy,
    scheduler: str,
    show_progress: bool = False,
    on_partition: Callable[[int, Any], None] | None = None,
    partition_articles: int = PARTITION_ARTICLES,
) -> PreparedArticles:
    """The articles' chunks, vectors and notes, computed on the cluster's workers, one task per partition of
    `partition_articles` (retried when its worker dies); `on_partition` is given how many partitions are done, and
    the Dask client, after each."""
    from distributed import as_completed

    prepared = PreparedArticles()
    if not articles:
        return prepared
    size = max(1, partition_articles)
    partitions = [list(articles[start : start + size]) for start in range(0, len(articles), size)]
    with dask_client(scheduler) as client:
        futures = client.map(
            _prepare_partition, partitions, settings=settings.model_dump_json(), policy=policy,
            retries=TASK_RETRIES, pure=False,
        )
        with tqdm(total=len(partitions), desc="Partitions", unit="partition", disable=not show_progress) as progress:
            for done, future in enumerate(as_completed(futures), start=1):
                prepared.merge(future.result())
                progress.update(1)
                if on_partition:
                    on_partition(done, client)
    return prepared


def _prepare_partition(articles: list[Article], settings: str, policy: ChunkingPolicy) -> PreparedArticles:
    """On a worker: chunk, embed and annotate one partition with the worker's model (loaded on its first task)."""
    from distributed import get_worker

    worker = get_worker()
    tools: tuple[Embedder, SpeakerFinder] | None = getattr(worker, "_qa_tools", None)
    if tools is None:
        chosen = Settings.model_validate_json(settings)
        tools = (make_embedder(chosen.model, chosen.embed_backend, chosen.onnx_cache_dir), SpeakerFinder())
        worker._qa_tools = tools  # noqa: SLF001 (the worker object is the per-process place Dask offers for this)
    return prepare_articles(articles, tools[0], policy, tools[1])


def _worker_count(scheduler: str) -> int:
    """N from local:N."""
    count = scheduler.removeprefix("local:")
    if not count.isdigit() or not 1 <= int(count) <= 64:
        raise QAError(f"{scheduler!r}: write local:N with N workers between 1 and 64, e.g. local:2")
    return int(count)

