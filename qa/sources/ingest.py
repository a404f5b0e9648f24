"""Commit what a pass found: new and changed articles written in one write, wire copies merged into the article
they republish (listed as its outlets), articles of vanished documents deleted (or, for a vanished wire copy, its
outlet dropped), then the documents remembered."""

from __future__ import annotations

import threading
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field, replace

from datasketch import MinHash

from index.articles import content_hash
from index.store import index_exists
from qa.service import QAService
from qa.sources.registry import Document, Placement, SourceRegistry
from qa.sources.report import PassReport
from qa.sources.wire import WireIndex, WirePolicy, from_bytes, signature, to_bytes
from qa.types import Article, Outlet


@dataclass(frozen=True)
class Pending:
    """An article a pass found, and the document (feed entry page or file) it came from."""

    article: Article
    document: Document


@dataclass
class _Write:
    """One commit's plan: the articles to write, the ids to delete, the placements of each document."""

    writes: dict[str, Article] = field(default_factory=dict)
    doomed: set[str] = field(default_factory=set)
    placed: dict[str, list[Placement]] = field(default_factory=dict)


class Ingester:
    """Writes a pass's articles through the service, one story once: the only place sources change the index."""

    def __init__(self, service: QAService, registry: SourceRegistry, policy: WirePolicy = WirePolicy()) -> None:
        self.service = service
        self.registry = registry
        self._lock = threading.Lock()
        self._wire = WireIndex(policy)
        self._seen_row = 0

    def indexed(self, article_ids: Collection[str]) -> bool:
        """Whether all these articles are in the index (`qa index` may have pruned them since)."""
        if not article_ids:
            return True
        if not index_exists(self.service.index_dir):
            return False
        return len(self.service.snapshot().article_hashes(article_ids)) == len(set(article_ids))

    def commit(
        self,
        pending: Sequence[Pending],
        report: PassReport,
        gone: Sequence[Document] = (),
        remember: Sequence[Document] = (),
        incomplete: Collection[str] = (),
    ) -> None:
        """Write the pass's articles and deletes as one index write; then remember its documents (those of the
        articles, and `remember`) and forget the `gone` ones, so a crash before the write re-reads them. A document
        in `incomplete` (a file with lines that failed) keeps the articles it gave before and did not give now."""
        with self._lock:
            self._catch_up()
            plan = _Write()
            previous = {
                location: known for location in {item.document.location for item in pending}
                if (known := self.registry.document(location)) is not None
            }
            leaving = {document.location for document in gone} | set(previous)
            self._doom_primaries([p.holder for d in gone for p in d.placements if not p.merged], leaving, plan)
            for item in pending:
                placement = self._place(item.article, plan, report)
                plan.placed.setdefault(item.document.location, []).append(placement)
            placed_now = {placement for placements in plan.placed.values() for placement in placements}
            holders_now = {placement.holder for placement in placed_now}
            dropped = [
                placement for location, known in previous.items() if location not in incomplete
                for placement in known.placements if placement not in placed_now
            ] + [placement for document in gone for placement in document.placements]
            self._doom_primaries([p.holder for p in dropped if p.holder not in holders_now], leaving, plan)
            for placement in dropped:
                if placement.merged:
                    self._drop_outlet(placement, plan)
            self._apply(plan, report)
            for location, placements in plan.placed.items():
                document = next(item.document for item in pending if item.document.location == location)
                carried = previous[location].placements if location in incomplete and location in previous else ()
                kept = tuple(p for p in carried if p not in placements and p.holder not in plan.doomed)
                self.registry.save_document(replace(document, placements=(*dict.fromkeys(placements), *kept)))
            for document in remember:
                self.registry.save_document(document)
            for document in gone:
                self.registry.forget_document(document.location)

    def _apply(self, plan: _Write, report: PassReport) -> None:
        """Write the plan: upserts, deletes, and the signatures of what is indexed now."""
        doomed = sorted(article_id for article_id in plan.doomed if article_id not in plan.writes and self._stored(article_id))
        if plan.writes:
            self.service.upsert_articles(list(plan.writes.values()))
        if doomed:
            self.service.delete_articles(doomed)
        for article_id in doomed:
            self._wire.remove(article_id)
            self.registry.forget_signature(article_id)
            report.deleted.append(article_id)
        primaries = {p.holder for placements in plan.placed.values() for p in placements if not p.merged}
        for article_id in primaries - set(doomed):
            if article_id in self._wire:
                stored = to_bytes(self._wire.signature_of(article_id))
                self.registry.save_signature(article_id, stored, self._wire.policy.key)

    def _doom_primaries(self, holders: Sequence[str], leaving: Collection[str], plan: _Write) -> None:
        """Mark for deletion the articles leaving documents gave, unless a document that stays still gives them (the
        story's other copy); forget their fingerprints so nothing merges into them."""
        kept = self.registry.still_given(holders, leaving) if holders else set()
        for holder in holders:
            if holder not in kept:
                plan.doomed.add(holder)
                self._wire.remove(holder)

    def _drop_outlet(self, placement: Placement, plan: _Write) -> None:
        """A wire copy that left: its outlet is no longer listed on the article it was merged into."""
        holder = plan.writes.get(placement.holder) or self._stored(placement.holder)
        if holder is None or placement.holder in plan.doomed:
            return
        outlets = tuple(o for o in holder.outlets if (o.source, o.url) != (placement.source, placement.url))
        if outlets != holder.outlets:
            plan.writes[holder.id] = _with_outlets(holder, outlets)

    def _place(self, article: Article, plan: _Write, report: PassReport) -> Placement:
        """Put an article in this write, as itself or as another outlet of the story it republishes."""
        comparable = self._wire.policy.comparable(article.text)
        minhash = signature(article.text, self._wire.policy) if comparable else None
        current = None if article.id in plan.doomed else (plan.writes.get(article.id) or self._stored(article.id))
        if current is not None:  # the same page or file again, changed or not
            self._remember(article.id, minhash)
            changed = _with_outlets(article, current.outlets)
            if changed.content_hash != current.content_hash:
                plan.writes[article.id] = changed
                report.updated.append(article.id)
            return Placement(article.id, article.id, article.source, article.url)
        match = self._wire.match(minhash, excluding=article.id) if minhash is not None else None
        primary = None
        if match and match[0] not in plan.doomed:
            primary = plan.writes.get(match[0]) or self._stored(match[0])
        if primary is not None:
            outlet = Outlet(article.source, article.url, article.date)
            listed = {(primary.source, primary.url), *((known.source, known.url) for known in primary.outlets)}
            if (outlet.source, outlet.url) not in listed:
                plan.writes[primary.id] = _with_outlets(primary, (*primary.outlets, outlet))
                report.merged.append(f"{article.url or article.source} → {primary.id}")
            return Placement(article.id, primary.id, article.source, article.url)
        plan.doomed.discard(article.id)
        plan.writes[article.id] = article
        self._remember(article.id, minhash)
        report.added.append(article.id)
        return Placement(article.id, article.id, article.source, article.url)

    def _remember(self, article_id: str, minhash: MinHash | None) -> None:
        """Fingerprint an indexed article (a text too short to compare is forgotten instead)."""
        if minhash is None:
            self._wire.remove(article_id)
        else:
            self._wire.add(article_id, minhash)

    def _catch_up(self) -> None:
        """Learn the fingerprints stored since the last look (by this process, or another watcher before it)."""
        for row, article_id, stored in self.registry.signatures(self._wire.policy.key, after=self._seen_row):
            if article_id not in self._wire:
                self._wire.add(article_id, from_bytes(stored, self._wire.policy))
            self._seen_row = max(self._seen_row, row)

    def _stored(self, article_id: str) -> Article | None:
        """The indexed article with this id, if any (none before the first write makes an index)."""
        if not index_exists(self.service.index_dir):
            return None
        return self.service.snapshot().article(article_id)


def _with_outlets(article: Article, outlets: tuple[Outlet, ...]) -> Article:
    """The article listing these other outlets, its content hash brought up to date."""
    listed = replace(article, outlets=outlets)
    return replace(listed, content_hash=content_hash(listed))
