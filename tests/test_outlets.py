"""Outlets: a wire story republished by several outlets is indexed once and names every outlet that published it, from
the JSONL record to the stored article, its passages, its citations and the filters; stores written before outlets
existed keep working."""

from __future__ import annotations

import json
import sqlite3
from datetime import date
from pathlib import Path

import numpy as np
import pytest

from index.articles import load_file, make_article
from index.build import update_index
from index.chunking import ChunkingPolicy
from index.embedder import HashingEmbedder
from index.manifest import read_manifest
from index.store import IndexSnapshot
from qa.cli import _print_answer, _print_passage
from qa.serialize import answer_to_dict, article_to_dict, found_to_dict
from qa.service import QAService
from qa.types import Article, Outlet, SearchFilters
from tests.legacy_index import as_generation

pytestmark = pytest.mark.both_stores  # run against the FAISS segments and against Milvus Lite

WIRE_TEXT = "A strong earthquake struck the coast of Marlow on Monday. Rescue teams searched the collapsed houses overnight."
OUTLETS = (Outlet("AP", "https://apnews.example/quake", date(2024, 3, 4)), Outlet("BBC News"))
OUTLETS_JSON = [
    {"source": "AP", "url": "https://apnews.example/quake", "date": "2024-03-04"},
    {"source": "BBC News", "url": None, "date": None},
]
LOCAL = make_article("budget", "Budget", "The council passed a budget for road repairs in Marlow.", "feeds/local", date(2024, 3, 3))


def _wire(outlets: tuple[Outlet, ...] = OUTLETS) -> Article:
    """The wire story as Reuters published it, with the other outlets that republished it."""
    return make_article(
        "quake", "Quake hits Marlow", WIRE_TEXT, "feeds/reuters", date(2024, 3, 4), "https://reuters.example/quake", outlets
    )


def _open(directory: Path, reuse: IndexSnapshot | None = None) -> IndexSnapshot:
    """The live state (taking over an older snapshot's catalog when given)."""
    embedder = HashingEmbedder()
    return IndexSnapshot.open(directory, embedder.name, embedder.dimension, reuse=reuse.reusable() if reuse else None)


def _write(directory: Path, *articles: Article) -> tuple[int, int, int]:
    """Upsert articles; (added, updated, embedded)."""
    report = update_index(directory, HashingEmbedder(), ChunkingPolicy(), articles, compact=False)
    return report.added, report.updated, report.embedded


def _sources(snapshot: IndexSnapshot, *needles: str) -> set[str]:
    """Ids of the articles the sources filter lets through."""
    mask = snapshot.catalog.allowed_articles(SearchFilters(sources=needles))
    return set(snapshot.catalog.article_ids(mask if mask is not None else np.ones(snapshot.article_count, dtype=bool)))


def _outlet_rows(directory: Path) -> list[tuple[str, int, str]]:
    """The stored outlet rows."""
    with sqlite3.connect(read_manifest(directory).database_path(directory)) as connection:
        return connection.execute("SELECT article_id, position, source FROM article_outlets ORDER BY 1, 2").fetchall()


def test_an_article_without_outlets_hashes_as_it_did_before_outlets_existed() -> None:
    article = make_article(
        "wire-1", "Quake hits coast", "A strong earthquake struck the coast on Monday.", "feeds/reuters.jsonl",
        date(2024, 3, 4), "https://reuters.com/quake",
    )
    # computed with the code before articles had outlets: existing indexes see no article as changed
    assert article.content_hash == "4dd4f336e0234f25e5d50f0687fa050350c6e5900b82ba701f86ef9ef56deee3"
    plain = make_article("plain", "Title", "Some text.", "seeds/a.txt", None)
    assert plain.content_hash == "0b03ccf7cf532514a438a692f352c13d35cd19f30809e1b370a972ee34fc6ecb"
    hashes = {
        make_article("wire-1", article.title, article.text, article.source, article.date, article.url, outlets).content_hash
        for outlets in ((), (Outlet("AP"),), (Outlet("AP", date=date(2024, 3, 5)),), (Outlet("AP"), Outlet("BBC")))
    }
    assert len(hashes) == 4 and article.content_hash in hashes


def test_jsonl_records_carry_outlets_and_bad_ones_are_named(tmp_path: Path) -> None:
    records: list[object] = [
        {"id": "quake", "title": "Quake", "text": WIRE_TEXT, "outlets": OUTLETS_JSON},
        {"id": "none", "text": "No other outlet.", "outlets": []},
        {"id": "a", "text": "x", "outlets": "AP"},
        {"id": "b", "text": "x", "outlets": ["AP"]},
        {"id": "c", "text": "x", "outlets": [{"url": "https://ap.example"}]},
        {"id": "d", "text": "x", "outlets": [{"source": "AP", "url": 5}]},
        {"id": "e", "text": "x", "outlets": [{"source": "AP"}, {"source": "BBC", "date": "soon"}]},
    ]
    path = tmp_path / "wire.jsonl"
    path.write_text("\n".join(json.dumps(record) for record in records), encoding="utf-8")
    quake, none, *errors = load_file(path)
    assert isinstance(quake, Article) and quake.outlets == OUTLETS
    assert isinstance(none, Article) and none.outlets == ()
    assert errors == [
        f"{path}:3: 'outlets' must be a list of objects with 'source' and optional 'url' and 'date'",
        f"{path}:4: outlet 1: expected an object with 'source' and optional 'url' and 'date'",
        f"{path}:5: outlet 1: missing 'source'",
        f"{path}:6: outlet 1: 'url' must be a string",
        f"{path}:7: outlet 2: date 'soon' is not YYYY-MM-DD",
    ]


def test_outlets_reach_the_stored_article_its_passages_and_its_citations(
    fake_service: QAService, capsys: pytest.CaptureFixture[str]
) -> None:
    fake_service.upsert_articles([_wire(), LOCAL])
    assert fake_service.article("quake").outlets == OUTLETS
    assert {article.id: article.outlets for article in fake_service.articles()} == {"quake": OUTLETS, "budget": ()}
    assert article_to_dict(fake_service.article("quake"))["outlets"] == OUTLETS_JSON

    found = fake_service.find("earthquake struck the coast of Marlow", k=5)
    by_article = {passage.article_id: passage.outlets for passage in found.passages}
    assert by_article == {"quake": OUTLETS, "budget": ()}
    assert found_to_dict("q", found)["passages"][0]["outlets"] == OUTLETS_JSON

    answer = fake_service.ask("what struck the coast of Marlow on Monday?")
    [cited] = [citation for citation in answer.citations if citation.article_id == "quake"]
    assert cited.outlets == OUTLETS
    assert [c["outlets"] for c in answer_to_dict(answer)["citations"] if c["article_id"] == "quake"] == [OUTLETS_JSON]

    _print_answer(answer)
    _print_passage(1, found.passages[0])
    printed = capsys.readouterr().out
    assert printed.count("also published by: AP (https://apnews.example/quake), BBC News") == 2


def test_changing_only_the_outlets_replaces_the_article_without_embedding(tmp_path: Path) -> None:
    assert _write(tmp_path, _wire(), LOCAL) == (2, 0, 2)
    assert _write(tmp_path, _wire((Outlet("AFP"),)), LOCAL) == (0, 1, 0)
    assert _open(tmp_path).article("quake") == _wire((Outlet("AFP"),))
    assert _outlet_rows(tmp_path) == [("quake", 0, "AFP")]  # the replaced article's outlets went with it
    assert _write(tmp_path, _wire(()), LOCAL) == (0, 1, 0)
    assert _open(tmp_path).article("quake") == _wire(()) and _outlet_rows(tmp_path) == []
    _write(tmp_path, _wire())
    update_index(tmp_path, HashingEmbedder(), ChunkingPolicy(), deletes=["quake"], compact=False)
    assert _outlet_rows(tmp_path) == []


def test_the_sources_filter_matches_any_outlet_read_whole_or_brought_up_to_date(
    tmp_path: Path, fake_service: QAService
) -> None:
    _write(tmp_path, _wire(()), LOCAL)
    before = _open(tmp_path)
    assert _sources(before, "bbc") == set() and _sources(before, "reuters") == {"quake"}
    _write(tmp_path, _wire())
    updated, whole = _open(tmp_path, reuse=before), _open(tmp_path)
    assert updated.catalog.gone_share > 0 and whole.catalog.gone_share == 0  # brought up to date, and read whole
    for snapshot in (updated, whole):
        assert _sources(snapshot, "BBC") == _sources(snapshot, "apnews.example") == _sources(snapshot, "reuters") == {"quake"}
        assert _sources(snapshot, "local") == {"budget"} and _sources(snapshot, "afp") == set()

    fake_service.upsert_articles([_wire(), LOCAL])
    bbc = fake_service.search("Marlow", k=10, filters=SearchFilters(sources=("bbc news",)))
    assert {passage.article_id for passage in bbc} == {"quake"}


def test_a_store_written_before_outlets_existed_is_read_and_written(tmp_path: Path) -> None:
    _write(tmp_path, _wire(()), LOCAL)
    with sqlite3.connect(read_manifest(tmp_path).database_path(tmp_path)) as connection:
        connection.execute("DROP TABLE article_outlets")
    old = _open(tmp_path)
    assert old.article("quake") == _wire(()) and _sources(old, "reuters") == {"quake"}
    rowid = next(iter(old.catalog.owners(range(10))))
    assert old.chunks([rowid])[rowid].outlets == ()

    assert _write(tmp_path, _wire(), LOCAL) == (0, 1, 0)  # the writer adds the table
    new = _open(tmp_path)
    assert new.article("quake") == _wire() and _sources(new, "bbc") == {"quake"}
    assert old.article("quake") == _wire(()) and old.chunks([rowid])[rowid].outlets == ()  # still its own state


def test_a_format_4_generation_has_no_outlets_and_its_conversion_takes_them(tmp_path: Path) -> None:
    _write(tmp_path, LOCAL)
    as_generation(tmp_path, format_version=4)
    legacy = _open(tmp_path)
    assert legacy.article("budget") == LOCAL and _sources(legacy, "local") == {"budget"}
    assert _write(tmp_path, LOCAL, _wire()) == (1, 0, 1)
    converted = _open(tmp_path)
    assert converted.manifest.format_version == 5 and converted.article("quake") == _wire()
    assert _sources(converted, "bbc") == {"quake"}
