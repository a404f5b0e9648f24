"""Commit what a pass found: new and changed articles written in one write, wire copies merged into the article
they republish (listed as its outlets), then the fetched documents remembered."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, replace

from index.articles import content_hash
from index.store import index_exists
from qa.service import QAService
from qa.sources.registry import Document, SourceRegistry
from qa.sources.report import PassReport
from qa.sources.wire import WireIndex, WirePolicy, from_bytes, signature, to_bytes
from qa.types import Article, Outlet


@dataclass(frozen=True)
class Pending:
    """An article a pass found, and the document (feed entry page or file) it came from."""

    article: Article
    document: Document


class Ingester:
    """Writes a pass's articles through the service, one story once: the only place sources change the index."""

    def __init__(self, service: QAService, registry: SourceRegistry, policy: WirePolicy = WirePolicy()) -> None:
        self.service = service
        self.registry = registry
        self._lock = threading.Lock()
        self._wire = WireIndex(policy)
        for article_id, stored in registry.signatures():
            self._wire.add(article_id, from_bytes(stored, policy))

    def commit(
        self,
        pending: Sequence[Pending],
        report: PassReport,
        deletes: Sequence[str] = (),
        remember: Sequence[Document] = (),
        forget: Sequence[str] = (),
    ) -> None:
        """Write the pass's articles and deletes as one index write; then remember its documents (those of the
        articles, and `remember`) and forget the `forget` locations, so a crash before the write re-reads them."""
        with self._lock:
            writes: dict[str, Article] = {}
            given: dict[str, tuple[Document, list[str]]] = {}
            for item in pending:
                holder = self._place(item.article, writes, report)
                document, ids = given.setdefault(item.document.location, (item.document, []))
                ids.append(holder)
            leaving = {*forget, *given}
            kept = self.registry.still_given(deletes, leaving) if deletes else set()
            gone = [
                article_id for article_id in dict.fromkeys(deletes)
                if article_id not in writes and article_id not in kept and self._stored(article_id) is not None
            ]
            if writes:
                self.service.upsert_articles(list(writes.values()))
            if gone:
                self.service.delete_articles(gone)
            for article_id in gone:
                self._wire.remove(article_id)
                self.registry.forget_signature(article_id)
                report.deleted.append(article_id)
            for article in writes.values():
                self.registry.save_signature(article.id, to_bytes(self._wire.signature_of(article.id)))
            for document, ids in given.values():
                self.registry.save_document(replace(document, article_ids=tuple(dict.fromkeys(ids))))
            for document in remember:
                self.registry.save_document(document)
            for location in forget:
                self.registry.forget_document(location)

    def _place(self, article: Article, writes: dict[str, Article], report: PassReport) -> str:
        """Put an article in this write, as itself or as another outlet of the story it republishes; return the id
        of the article that holds it."""
        minhash = signature(article.text, self._wire.policy)
        current = writes.get(article.id) or self._stored(article.id)
        if current is not None:  # the same page again, changed or not
            changed = _with_outlets(article, current.outlets)
            if changed.content_hash == current.content_hash:
                return article.id
            writes[article.id] = changed
            self._wire.add(article.id, minhash)
            report.updated.append(article.id)
            return article.id
        match = self._wire.match(minhash, excluding=article.id)
        primary = (writes.get(match[0]) or self._stored(match[0])) if match else None
        if primary is not None:
            outlet = Outlet(article.source, article.url, article.date)
            listed = {(primary.source, primary.url), *((known.source, known.url) for known in primary.outlets)}
            if (outlet.source, outlet.url) not in listed:
                writes[primary.id] = _with_outlets(primary, (*primary.outlets, outlet))
                report.merged.append(f"{article.url or article.id} → {primary.id}")
            return primary.id
        writes[article.id] = article
        self._wire.add(article.id, minhash)
        report.added.append(article.id)
        return article.id

    def _stored(self, article_id: str) -> Article | None:
        """The indexed article with this id, if any (none before the first write makes an index)."""
        if not index_exists(self.service.index_dir):
            return None
        return self.service.snapshot().article(article_id)


def _with_outlets(article: Article, outlets: tuple[Outlet, ...]) -> Article:
    """The article listing these other outlets, its content hash brought up to date."""
    listed = replace(article, outlets=outlets)
    return replace(listed, content_hash=content_hash(listed))
