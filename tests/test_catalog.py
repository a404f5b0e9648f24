"""The in-memory chunk catalog: the same articles pass its filters as pass the filters' documented meaning."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np

from index import database
from index.articles import make_article
from index.build import update_index
from index.catalog import ChunkCatalog
from index.chunking import ChunkingPolicy
from index.embedder import HashingEmbedder
from index.manifest import read_manifest
from qa.types import SearchFilters

ARTICLES = [
    make_article("a", "A", "Alpha story. More alpha.", "feeds/Reuters", date(2022, 5, 1), "https://reuters.example/a"),
    make_article("b", "B", "Beta story.", "seeds", date(2022, 5, 9)),
    make_article("c", "C", "Gamma story.", "api", None, "https://ÉLYSÉE.example/c"),
]


def _catalog(tmp_path: Path) -> tuple[ChunkCatalog, dict[int, str]]:
    update_index(tmp_path, HashingEmbedder(), ChunkingPolicy(), ARTICLES)
    with database.connect(read_manifest(tmp_path).database_path(tmp_path)) as connection:
        owners = {rowid: article for rowid, article in connection.execute("SELECT rowid, article_id FROM chunks")}
        return ChunkCatalog(connection), owners


def _passing(catalog: ChunkCatalog, owners: dict[int, str], filters: SearchFilters) -> set[str]:
    mask = catalog.allowed_chunks(filters)
    return set(owners.values()) if mask is None else {owners[rowid] for rowid in np.flatnonzero(mask)}


def test_filters_select_articles_by_date_source_and_id(tmp_path: Path) -> None:
    catalog, owners = _catalog(tmp_path)
    assert catalog.allowed_chunks(SearchFilters()) is None
    assert _passing(catalog, owners, SearchFilters(since=date(2022, 5, 2))) == {"b"}  # undated never in a range
    assert _passing(catalog, owners, SearchFilters(until=date(2022, 5, 1))) == {"a"}
    assert _passing(catalog, owners, SearchFilters(sources=("reuters",))) == {"a"}  # source path or url, any case
    assert _passing(catalog, owners, SearchFilters(sources=("élysée", "SEEDS"))) == {"b", "c"}
    assert _passing(catalog, owners, SearchFilters(exclude_articles=("a", "unknown"))) == {"b", "c"}
    assert _passing(catalog, owners, SearchFilters(sources=("nowhere",))) == set()
    assert _passing(catalog, owners, SearchFilters(as_of=date(2022, 5, 8))) == {"a", "c"}  # undated may be from any day
    assert catalog.article_ids(catalog.allowed_articles(SearchFilters(sources=("api",)))) == ("c",)
