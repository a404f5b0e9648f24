"""Chunk vectors in a Milvus collection (pymilvus MilvusClient): a copy of the segment store's chunks, brought up to
date after each committed write from the store's change log, and searched with the filters pushed down as a Milvus
expression. The SQLite store stays the source of truth: a search keeps only the chunks its snapshot holds."""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from index import database
from index.locking import exclusive
from index.segments import changed_since, read_state
from index.vector_store import VectorStoreConfig
from qa.errors import VectorStoreError
from qa.types import SearchFilters

logger = logging.getLogger(__name__)

GENERATION = "qa.generation"  # collection property: the store write the collection is up to date with
UNDATED = -1  # the day of an article without a date (as in the chunk catalog)
MAX_ID_LENGTH = 4096
SEARCH_LIMIT = 16_384  # Milvus's largest top-k
OVERFETCH = 16  # extra hits asked for, in case a few belong to a write this snapshot does not see
ARTICLE_LIST_LIMIT = 2_000  # sources matching more articles than this are filtered after the search instead
BATCH = 2_000
SYNC_LOCK = ".milvus-sync.lock"
CONNECT_SECONDS = 20.0


@dataclass(frozen=True)
class SyncReport:
    """What bringing a collection up to date did."""

    generation: int
    full: bool
    deleted_articles: int
    inserted: int


class MilvusVectors:
    """One store's collection (named by the configured prefix and the store number) on a Milvus Lite file or server."""

    def __init__(self, config: VectorStoreConfig, directory: Path, store: int, dimension: int) -> None:
        self.config = config
        self.directory = directory
        self.uri = config.uri_for(directory)
        self.collection = f"{config.milvus_collection}_{store:06d}"
        self.dimension = dimension
        self.client = _connect(config, self.uri)

    def mirrored_generation(self) -> int | None:
        """The store write the collection holds, or None when there is no collection yet."""
        with self._errors("read the collection's state"):
            if not self.client.has_collection(self.collection):
                return None
            properties = self.client.describe_collection(self.collection).get("properties", {})
        value = properties.get(GENERATION)
        return int(value) if value is not None else None

    def load(self) -> None:
        """Make the collection searchable (Milvus serves a collection once loaded into memory; a no-op when it is)."""
        with self._errors("load the collection"):
            self.client.load_collection(self.collection)

    def sync(self, database_path: Path, show_progress: bool = False) -> SyncReport | None:
        """Bring the collection up to the store's last committed write (None when it already is): the articles
        written since the generation it holds are deleted and their current chunks inserted, or, when it is missing,
        older than the change log reaches or ahead of the store (a rebuilt store), everything is loaded afresh.
        Safe to repeat after a crash; one sync at a time per index folder."""
        with exclusive(self.directory, name=SYNC_LOCK):
            connection = database.connect_reader(database_path)
            try:
                connection.execute("BEGIN")
                state = read_state(connection)
                mirrored = self.mirrored_generation()
                if mirrored == state.generation:
                    return None
                full = mirrored is None or mirrored < state.log_from or mirrored > state.generation
                changed: list[str] | None = None if full else changed_since(connection, mirrored or 0)
                if full:
                    self._create()
                else:
                    self._delete_articles(changed or [])
                placements = database.chunk_placements(connection, changed)
                self._insert(connection, placements, show_progress)
            finally:
                connection.close()
            with self._errors("record the collection's state"):
                self.client.flush(self.collection)
                self.client.alter_collection_properties(self.collection, properties={GENERATION: str(state.generation)})
        return SyncReport(state.generation, full, len(changed or []), len(placements))

    def _create(self) -> None:
        """A new, empty collection (replacing any of that name) with an inner-product index on the vectors."""
        from pymilvus import DataType, MilvusClient

        schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
        schema.add_field("rowid", DataType.INT64, is_primary=True)
        schema.add_field("vector", DataType.FLOAT_VECTOR, dim=self.dimension)
        schema.add_field("article", DataType.VARCHAR, max_length=MAX_ID_LENGTH)
        schema.add_field("day", DataType.INT64)
        with self._errors("create the collection"):
            if self.client.has_collection(self.collection):
                self.client.drop_collection(self.collection)
            self.client.create_collection(self.collection, schema=schema)
            indexes = self.client.prepare_index_params()
            indexes.add_index(field_name="vector", index_type=self.config.milvus_index, metric_type="IP")
            self.client.create_index(self.collection, indexes, sync=False)  # waiting polls twice a second
            self.client.load_collection(self.collection)

    def _delete_articles(self, article_ids: Sequence[str]) -> None:
        """Delete every chunk of these articles."""
        with self._errors("delete changed articles"):
            for start in range(0, len(article_ids), BATCH):
                listed = _string_list(article_ids[start : start + BATCH])
                self.client.delete(self.collection, filter=f"article in {listed}")

    def _insert(
        self, connection: sqlite3.Connection, placements: Sequence[tuple[int, str, str | None]], show_progress: bool
    ) -> None:
        """Insert chunks (row id, article, day) with their stored vectors, in batches."""
        bar = tqdm(total=len(placements), unit="chunk", desc="Milvus", disable=not show_progress or not placements)
        with bar:
            for start in range(0, len(placements), BATCH):
                batch = placements[start : start + BATCH]
                ids, vectors = database.chunk_vectors(connection, self.dimension, [rowid for rowid, _, _ in batch])
                vector_of = dict(zip(ids.tolist(), vectors, strict=True))
                rows = [
                    {"rowid": rowid, "vector": vector_of[rowid].tolist(), "article": article_id, "day": _day(published)}
                    for rowid, article_id, published in batch
                ]
                with self._errors("insert chunks"):
                    self.client.insert(self.collection, rows)
                bar.update(len(batch))

    def search(self, query: np.ndarray, k: int, expression: str, accept: np.ndarray) -> list[tuple[int, float]]:
        """Top-k (row id, cosine) among the chunks the expression selects and the accept mask marks (accept[rowid]
        True); asks for more when hits the mask rejects leave fewer than k."""
        if k <= 0 or not accept.any():
            return []
        limit = min(k + OVERFETCH, SEARCH_LIMIT)
        vector = np.asarray(query, dtype=np.float32).reshape(-1).tolist()
        while True:
            with self._errors("search"):
                hits = self.client.search(
                    self.collection, data=[vector], limit=limit, filter=expression, output_fields=[],
                    search_params={"metric_type": "IP"},
                )[0]
            found = [(int(hit["rowid"]), float(hit["distance"])) for hit in hits]
            kept = [(rowid, score) for rowid, score in found if rowid < len(accept) and accept[rowid]]
            if len(kept) >= k or len(found) < limit or limit >= SEARCH_LIMIT:
                return kept[:k]
            limit = min(limit * 4, SEARCH_LIMIT)

    def drop_other_stores(self, keep: int) -> list[str]:
        """Drop the collections of this prefix that belong to another store whose database is gone (rebuilt)."""
        prefix = f"{self.config.milvus_collection}_"
        with self._errors("list collections"):
            names = self.client.list_collections()
        dropped = []
        for name in names:
            number = name[len(prefix):]
            if name.startswith(prefix) and number.isdigit() and int(number) != keep:
                if not (self.directory / f"store-{int(number):06d}.sqlite").exists():
                    with self._errors("drop an old collection"):
                        self.client.drop_collection(name)
                    dropped.append(name)
        return dropped

    def close(self) -> None:
        """Release the client."""
        try:
            self.client.close()
        except Exception:  # noqa: BLE001 - closing a broken connection has nothing left to report
            pass

    @contextmanager
    def _errors(self, doing: str) -> Iterator[None]:
        """Turn a Milvus failure into a VectorStoreError that says where and what to check."""
        try:
            yield
        except VectorStoreError:
            raise
        except Exception as error:  # noqa: BLE001 - pymilvus raises its own and gRPC errors alike
            raise VectorStoreError(
                f"Milvus at {self.uri} failed to {doing} in collection {self.collection!r} ({error}); check that it "
                "is running and QA_MILVUS_URI, or set QA_VECTOR_STORE=faiss"
            ) from error


def filter_expression(filters: SearchFilters, articles: Sequence[str] | None) -> str:
    """The filters as a Milvus boolean expression over `day` and `article` (articles: the ids the source filter
    allows, or None when it is applied afterwards); empty when nothing is filtered."""
    parts: list[str] = []
    if filters.since or filters.until:
        parts.append(f"day >= {filters.since.toordinal() if filters.since else 1}")
        if filters.until:
            parts.append(f"day <= {filters.until.toordinal()}")
    if filters.as_of:
        parts.append(f"(day == {UNDATED} or day <= {filters.as_of.toordinal()})")
    if articles is not None:
        parts.append(f"article in {_string_list(articles)}")
    if filters.exclude_articles:
        parts.append(f"article not in {_string_list(filters.exclude_articles)}")
    return " and ".join(parts)


def _string_list(values: Sequence[str]) -> str:
    """A Milvus list literal of strings (JSON string syntax: quotes and backslashes escaped)."""
    return "[" + ", ".join(json.dumps(value) for value in values) + "]"


def _day(published: str | None) -> int:
    """An ISO date as its ordinal (UNDATED when missing)."""
    return date.fromisoformat(published).toordinal() if published else UNDATED


def _connect(config: VectorStoreConfig, uri: str) -> Any:
    """A MilvusClient on the URI (a Milvus Lite file runs in this process, on a 127.0.0.1 port)."""
    try:
        from pymilvus import MilvusClient
    except ImportError as error:
        raise VectorStoreError(
            "QA_VECTOR_STORE=milvus needs pymilvus (and milvus-lite for a local file): pip install -e '.[milvus]'"
        ) from error
    try:
        return MilvusClient(uri=uri, token=config.milvus_token, timeout=CONNECT_SECONDS)
    except Exception as error:  # noqa: BLE001 - pymilvus raises its own and gRPC errors alike
        hint = (
            "a Milvus Lite file serves one process at a time: stop the other `qa` using it, or run a Milvus server "
            "and set QA_MILVUS_URI=http://HOST:19530"
            if config.lite else "check that the server is running and QA_MILVUS_URI"
        )
        raise VectorStoreError(f"cannot open Milvus at {uri} ({error}); {hint}") from error
