"""One pass over a watched folder: files added or changed since the last pass loaded, files gone deleted."""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

from index.articles import display_source, files_with_ids, load_file
from qa.errors import ArticleError
from qa.sources.ingest import Pending
from qa.sources.registry import Document, Source, SourceRegistry
from qa.sources.report import PassReport
from qa.types import Article


def read_folder(source: Source, registry: SourceRegistry, report: PassReport) -> tuple[list[Pending], list[str], list[str]]:
    """The articles of new and changed files, the ids of articles whose files are gone (or no longer hold them), and
    the locations of files that are gone."""
    root = Path(source.location)
    if not root.is_dir():
        report.errors.append(f"{root}: the watched folder is missing; create it or `qa sources remove {source.name}`")
        return [], [], []
    known = {document.location: document for document in registry.documents(source.name)}
    inside = root.resolve()
    pending: list[Pending] = []
    deletes: list[str] = []
    present: set[str] = set()
    for path, article_id in files_with_ids(root):
        location = str(path.resolve())
        if not path.resolve().is_relative_to(inside):
            continue
        present.add(location)
        report.entries += 1
        try:
            body = path.read_bytes()
        except OSError as error:
            report.errors.append(f"{path}: {error.strerror}")
            continue
        digest = hashlib.sha256(body).hexdigest()
        before = known.get(location)
        if before is not None and before.body_hash == digest:
            continue
        report.fetched += 1
        loaded = _load(path, article_id, display_source(root, path), report)
        if loaded is None:  # unreadable now: what it held stays indexed until it is fixed or removed
            continue
        document = Document(location, source.name, None, None, digest, (), time.time())
        pending += [Pending(article, document) for article in loaded]
        if before is not None:
            deletes += [old for old in before.article_ids if old not in {article.id for article in loaded}]
    gone = [location for location in known if location not in present]
    for location in gone:
        deletes += list(known[location].article_ids)
    return pending, deletes, gone


def _load(path: Path, article_id: str | None, shown: str, report: PassReport) -> list[Article] | None:
    """A file's articles (None when the whole file failed); its errors reported."""
    try:
        items = list(load_file(path, article_id, shown))
    except ArticleError as error:
        report.errors.append(str(error))
        return None
    report.errors += [item for item in items if isinstance(item, str)]
    return [item for item in items if not isinstance(item, str)]
