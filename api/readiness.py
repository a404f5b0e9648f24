"""Load the model and the index once, in the background, and say when the service is ready."""

from __future__ import annotations

import logging
import threading

from qa.service import QAService

logger = logging.getLogger("qa.api")


class Readiness:
    """Loads a service's model and index on a background thread (building the index from the seeds if absent)."""

    def __init__(self, service: QAService) -> None:
        self._service = service
        self._ready = threading.Event()
        self._finished = threading.Event()
        self._error: str | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Begin loading, once."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._load, name="qa-load", daemon=True)
            self._thread.start()

    @property
    def ready(self) -> bool:
        """Whether the model and index are loaded."""
        return self._ready.is_set()

    @property
    def error(self) -> str | None:
        """Why loading failed, if it did."""
        return self._error

    def index_figures(self) -> dict[str, int]:
        """Articles, chunks, vector segments and tombstones in the live index (nothing until ready), and what this
        server's writes and compactions have written."""
        writes = self._service.writes
        tally = {
            "writes": writes.writes, "written_bytes": writes.bytes_written, "compactions": writes.compactions,
            "compaction_written_bytes": writes.compaction_bytes,
        }
        if not self.ready:
            return tally
        snapshot = self._service.snapshot()
        state = snapshot.state
        return {**tally, "articles": snapshot.article_count, "chunks": snapshot.size, "segments": len(state.segments),
                "tombstones": len(state.tombstones)}

    def wait(self, timeout: float) -> bool:
        """Block until loading has succeeded, failed or timed out; whether ready."""
        self._finished.wait(timeout)
        return self.ready

    def _load(self) -> None:
        """Load, recording success or the reason for failure."""
        try:
            self._open()
        except Exception as error:  # noqa: BLE001 - a failed load is reported by /readyz, not raised into a thread
            self._error = str(error) or type(error).__name__
            logger.exception("loading the model and index failed")
        else:
            self._ready.set()
        finally:
            self._finished.set()

    def _open(self) -> None:
        """Build the index from the seeds if absent, open it and warm the model up."""
        report = self._service.ensure_index()
        if report is not None:
            logger.info("built the index from %s: %d chunks", self._service.settings.seeds_dir, report.chunks)
        snapshot = self._service.warm_up()
        milvus = f" (vectors in Milvus at {snapshot.milvus.uri})" if snapshot.milvus else ""
        logger.info("ready: %d articles, %d chunks in %s%s", snapshot.article_count, snapshot.size, snapshot.directory, milvus)
