"""One pass over a watched folder: files added or changed since the last pass loaded, files gone noted."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from pathlib import Path

from index.articles import display_source, files_with_ids, load_file
from qa.errors import ArticleError
from qa.sources.ingest import Pending
from qa.sources.registry import Document, Source, SourceRegistry
from qa.sources.report import PassReport
from qa.types import Article


@dataclass
class FolderChanges:
    """What a folder pass found: articles of new and changed files, documents of files gone, and files that loaded
    only in part (their other articles are kept)."""

    pending: list[Pending] = field(default_factory=list)
    gone: list[Document] = field(default_factory=list)
    incomplete: set[str] = field(default_factory=set)


def read_folder(
    source: Source, registry: SourceRegistry, report: PassReport, indexed: Callable[[Collection[str]], bool]
) -> FolderChanges:
    """The folder's changes since the last pass; a file whose articles are no longer indexed (`qa index` pruned
    them) counts as changed."""
    changes = FolderChanges()
    root = Path(source.location)
    if not root.is_dir():
        report.errors.append(f"{root}: the watched folder is missing; create it or `qa sources remove {source.name}`")
        return changes
    known = {document.location: document for document in registry.documents(source.name)}
    inside = root.resolve()
    present: set[str] = set()
    for path, article_id in files_with_ids(root):
        if not path.resolve().is_relative_to(inside):
            continue
        location = str(path.resolve())
        present.add(location)
        report.entries += 1
        try:
            body = path.read_bytes()
        except OSError as error:
            report.errors.append(f"{path}: {error.strerror}")
            continue
        digest = hashlib.sha256(body).hexdigest()
        before = known.get(location)
        if before is not None and before.body_hash == digest and indexed(before.article_ids):
            continue
        report.fetched += 1
        loaded, complete = _load(path, article_id, display_source(root, path), report)
        if not loaded and not complete:  # unreadable now: what it gave stays indexed until it is fixed or removed
            continue
        if not complete:
            changes.incomplete.add(location)
        document = Document(location, source.name, None, None, digest, time.time())
        changes.pending += [Pending(article, document) for article in loaded]
        if not loaded and before is not None:  # a file that now holds no article: what it gave goes
            changes.gone.append(before)
    changes.gone += [document for location, document in known.items() if location not in present]
    return changes


def _load(path: Path, article_id: str | None, shown: str, report: PassReport) -> tuple[list[Article], bool]:
    """A file's articles, and whether all of it loaded; its errors reported."""
    try:
        items = list(load_file(path, article_id, shown))
    except ArticleError as error:
        report.errors.append(str(error))
        return [], False
    errors = [item for item in items if isinstance(item, str)]
    report.errors += errors
    return [item for item in items if not isinstance(item, str)], not errors
