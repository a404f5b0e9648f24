"""Path traversal: ids from JSONL, file names and URLs are slugs or 404/422; nothing is written to a path from an id."""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import TypeAdapter

from api.app import create_app
from api.schemas import ArticleId
from api.settings import ApiSettings
from index.articles import load_paths
from index.build import update_index
from index.chunking import ChunkingPolicy
from index.embedder import HashingEmbedder
from qa.config import Settings
from qa.service import QAService
from tests.web.servers import serve_in_thread

HOSTILE_IDS = [
    "../../etc/passwd", "/etc/passwd", "..", ".", "./.", "a/../../b", "..\\..\\windows\\system32", "\x00", "a\x00b",
    "~root", "$(touch pwned)", "%2e%2e%2fetc%2fpasswd", "C:\\boot.ini", "\ud800", "a" * 10_000, "-" * 300, "🙂/🙂",
]
_IDS = TypeAdapter(ArticleId)
_INDEX_FILE = re.compile(
    r"^(manifest\.json|\.lock|\.readers|store-\d{6}\.sqlite(-wal|-shm|-journal)?|store-\d{6}\.seg-\d{6}\.faiss)$"
)
_KEYWORD_FOLDER = re.compile(r"^store-\d{6}\.kw-\d{6}/(chunks|articles)$")
_KEYWORD_FILE = re.compile(
    r"^([0-9a-f]{32}(\.\d+)?\.(idx|pos|term|store|fast|fieldnorm|del)|meta\.json|\.managed\.json|\.tantivy-(meta|writer)\.lock)$"
)


def _files(root: Path) -> set[Path]:
    """Every file under root."""
    return {path for path in root.rglob("*") if path.is_file()}


def _is_index_file(path: Path, index_dir: Path) -> bool:
    """A file the index itself names: manifest, lock and generation files, or a tantivy file of a keyword folder."""
    if path.parent == index_dir:
        return bool(_INDEX_FILE.match(path.name))
    folder = path.parent.relative_to(index_dir).as_posix() if path.parent.is_relative_to(index_dir) else ""
    return bool(_KEYWORD_FOLDER.match(folder) and _KEYWORD_FILE.match(path.name))


def _check_safe_id(article_id: str, index_dir: Path) -> None:
    """A slug the API accepts, which stays a plain file name inside any directory it might be joined to."""
    assert _IDS.validate_python(article_id) == article_id
    assert article_id not in (".", "..") and not {"/", "\\", "\x00"} & set(article_id)
    assert (index_dir / article_id).resolve().parent == index_dir.resolve()


def _index_and_check_writes(tmp_path: Path, sources: Path) -> list[str]:
    """Load and index sources; only index files appear, and only in the index directory. The ids loaded."""
    index_dir = tmp_path / "deep" / "er" / "index"
    result = load_paths([sources])
    before = _files(tmp_path)
    update_index(index_dir, HashingEmbedder(), ChunkingPolicy(), result.articles)
    written = _files(tmp_path) - before
    assert written and all(_is_index_file(path, index_dir) for path in written), written
    for article in result.articles:
        _check_safe_id(article.id, index_dir)
    return [article.id for article in result.articles]


def test_jsonl_ids_are_slugs_and_never_paths(tmp_path: Path) -> None:
    sources = tmp_path / "sources"
    sources.mkdir()
    lines = [json.dumps({"id": value, "title": f"T{n}", "text": f"Article number {n} text."}) for n, value in enumerate(HOSTILE_IDS)]
    (sources / "hostile.jsonl").write_text("\n".join(lines), encoding="utf-8")
    ids = _index_and_check_writes(tmp_path, sources)
    assert "etc--passwd" in ids and any(len(article_id) == 200 for article_id in ids)
    assert len(set(ids)) == len(ids) >= 10  # ids that slug alike ("..", ".", "\x00" are all "article") are refused
    assert all("is already used" in error for error in load_paths([sources]).errors)


def test_file_name_ids_are_slugs_and_never_paths(tmp_path: Path) -> None:
    sources = tmp_path / "sources"
    names = [b"..evil.txt", b"...txt", b"a b.txt", b"back\\slash.txt", b"-dash.md", b"caf\xe9-latin1.txt",
             b"%2e%2e%2fx.html", b"x" * 240 + b".txt", b"sub/deeper/nested.txt"]
    for name in names:
        path = Path(os.fsdecode(os.path.join(os.fsencode(sources), name)))
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("<p>Some words.</p>" if name.endswith(b".html") else "Some words about a town.", encoding="utf-8")
    ids = _index_and_check_writes(tmp_path, sources)
    assert len(ids) == len(names) - 2 and "sub--deeper--nested" in ids  # the two dot files are hidden: skipped


def test_links_that_leave_the_source_folder_are_skipped_with_a_message(tmp_path: Path) -> None:
    outside = tmp_path / "private"
    (outside / "folder").mkdir(parents=True)
    (outside / "secret.txt").write_text("The launch code is 0000.", encoding="utf-8")
    (outside / "folder" / "more.txt").write_text("Another private note.", encoding="utf-8")
    sources = tmp_path / "sources"
    (sources / "sub").mkdir(parents=True)
    (sources / "kept.txt").write_text("An ordinary article about a town.", encoding="utf-8")
    (sources / "alias.txt").symlink_to(sources / "kept.txt")  # a link that stays inside is fine
    (sources / "leak.txt").symlink_to(outside / "secret.txt")
    (sources / "sub" / "up.txt").symlink_to(Path("..") / ".." / "private" / "secret.txt")
    (sources / "linked-folder").symlink_to(outside / "folder", target_is_directory=True)
    result = load_paths([sources])
    assert sorted(article.id for article in result.articles) == ["alias", "kept"]
    assert not any("launch code" in article.text or "private note" in article.text for article in result.articles)
    assert not result.errors
    assert len(result.skipped) == 2 and all("skipped, a link to" in note and "outside" in note for note in result.skipped)
    assert {Path(note.split(":")[0]).name for note in result.skipped} == {"leak.txt", "up.txt"}
    direct = load_paths([outside / "secret.txt"])  # named directly, it is the user's choice
    assert [article.text for article in direct.articles] == ["The launch code is 0000."] and not direct.skipped


def test_an_article_indexed_through_a_link_before_is_removed_once_the_link_is_skipped(tmp_path: Path) -> None:
    outside = tmp_path / "private.txt"
    outside.write_text("The launch code is 0000.", encoding="utf-8")
    sources = tmp_path / "sources"
    sources.mkdir()
    (sources / "kept.txt").write_text("An ordinary article about a town.", encoding="utf-8")
    service = QAService(Settings(index_dir=tmp_path / "index", seeds_dir=sources), embedder=HashingEmbedder())
    shutil.copy(outside, sources / "leak.txt")  # indexed while it was an ordinary file
    assert service.index_paths([sources]).added == 2
    (sources / "leak.txt").unlink()
    (sources / "leak.txt").symlink_to(outside)
    report = service.index_paths([sources])
    assert (report.removed, report.errors, len(report.skipped)) == (1, [], 1)
    assert [article.id for article in service.articles()] == ["kept"]


@pytest.fixture
def client(fake_service: QAService) -> Iterator[TestClient]:
    """The app in-process over the fake service, ready, no rate limit."""
    app = create_app(fake_service, ApiSettings(rate_limit_per_minute=0))
    with TestClient(app, raise_server_exceptions=False) as test_client:
        assert app.state.api.readiness.wait(60), app.state.api.readiness.error
        yield test_client


def _documented_error(status: int, body: Any, allowed: tuple[int, ...]) -> None:
    """A 404 or 422 in the documented shape, with nothing from a file in it."""
    assert status in allowed, (status, body)
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "detail"}
    assert "root:" not in json.dumps(body) and "def create_app" not in json.dumps(body)


ENCODED_PATHS = [
    "..%2F..%2Fetc%2Fpasswd", "..%2f..%2f..%2f..%2fetc%2fpasswd", "%2e%2e%2f%2e%2e%2fetc%2fpasswd", "%2Fetc%2Fpasswd",
    "%00", "abc%00", "%00..%2F", "..%5C..%5Cwindows", "%2e%2e", "..%00", "%ED%A0%80", "a" * 5000,
]


@pytest.mark.parametrize("encoded", ENCODED_PATHS, ids=lambda value: ascii(value[:30]))
def test_article_routes_never_serve_a_file_or_fail(client: TestClient, encoded: str) -> None:
    for method in ("GET", "DELETE"):
        response = client.request(method, f"/v1/articles/{encoded}")
        _documented_error(response.status_code, response.json(), (404, 422))
    assert client.get("/v1/articles").json()["total"] == 1


def test_literal_dot_segments_over_real_http_never_serve_a_file(fake_service: QAService) -> None:
    """Raw request lines (no client-side normalisation) to uvicorn: static files and articles stay inside."""
    app = create_app(fake_service, ApiSettings(rate_limit_per_minute=0))
    targets = ["/static/../../../../../../etc/passwd", "/static/../../api/app.py", "/static/..%2f..%2fapi%2fapp.py",
               "/static/%2e%2e/%2e%2e/api/app.py", "/v1/articles/../../../../etc/passwd", "/v1/articles/..%2f..%2fetc%2fpasswd"]
    with serve_in_thread(app) as base_url:
        assert app.state.api.readiness.wait(60)
        host, port = base_url.removeprefix("http://").split(":")
        for target in targets:
            status, body = _raw_get(host, int(port), target)
            _documented_error(status, json.loads(body), (404,))


def _raw_get(host: str, port: int, target: str) -> tuple[int, bytes]:
    """Send a GET with the request target exactly as given; the status and body."""
    with socket.create_connection((host, port), timeout=30) as connection:
        connection.sendall(f"GET {target} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
        response = b""
        while chunk := connection.recv(65536):
            response += chunk
    head, _, body = response.partition(b"\r\n\r\n")
    return int(head.split()[1]), body


@pytest.mark.parametrize(
    "article_id", [*HOSTILE_IDS, "a" * 201, ".hidden", "trailing.", "sp ace", "new\nline"], ids=lambda value: ascii(value[:30])
)
def test_writing_an_article_with_a_hostile_id_is_422(client: TestClient, fake_service: QAService, article_id: str) -> None:
    body = json.dumps({"articles": [{"id": article_id, "title": "T", "text": "Some words."}]})
    response = client.post("/v1/articles", content=body, headers={"content-type": "application/json"})
    _documented_error(response.status_code, response.json(), (422,))
    assert response.json()["error"]["code"] == "invalid_request"
    assert client.get("/v1/articles").json()["total"] == 1
    assert all(_is_index_file(path, fake_service.index_dir) for path in _files(fake_service.index_dir))
