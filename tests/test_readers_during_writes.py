"""Readers during writes: questions asked while articles are added and deleted through the API, or while `qa index`
rebuilds under a running `qa serve`, never fail and cite only articles of the index they searched."""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from api.app import create_app
from api.settings import ApiSettings
from index import store
from index.articles import load_paths, make_article
from index.build import update_index
from index.manifest import Manifest, read_manifest
from qa.errors import IndexCorruptError
from qa.service import QAService
from qa.types import SearchFilters
from tests.conftest import GCC_QUESTION, SEEDS
from tests.web.servers import qa_environment, serve_in_thread, serve_subprocess

View = Mapping[str, str]
"""What a response may cite: article id -> the text its offsets point into."""

ROUTES = ("/v1/ask", "/v1/search")
READERS = 3
WAIT_SECONDS = 120.0
ADDS = 60
LIVE = 2
READS_AFTER_WRITE = 1
FERRY_QUESTIONS = ("which ferry sailed to the lighthouse island?", "how many passengers were on the harbour ferry?")

CORPUS_A = {
    "alder-library": ("2026-03-02", "Alder opens a library", "The town of Alder opened a new public library on Main "
                      "Street. The building holds forty thousand books and a children's reading room. Mayor Ines Varga "
                      "cut the ribbon."),
    "birch-bridge": ("2026-03-03", "Birch bridge closed", "Engineers closed the Birch river bridge for repairs after "
                     "cracks were found in two pillars. Traffic is diverted through the northern ring road until June."),
    "cedar-school": ("2026-03-04", "Robotics at Cedar Valley", "Cedar Valley school added a robotics class for its "
                     "senior students. Twenty-two pupils signed up in the first week."),
    "dunmore-market": ("2026-03-05", "Dunmore market moves", "The Dunmore farmers market moved to Saturdays. Stall "
                       "holders said weekday sales had fallen by a third."),
    "elm-hospital": ("2026-03-06", "Nurses for Elm County", "Elm County hospital hired twelve new nurses for its "
                     "emergency ward. Waiting times fell to under two hours."),
    "fenwick-festival": ("2026-03-07", "Fenwick jazz festival", "The Fenwick jazz festival drew eight thousand "
                         "visitors this summer. The closing concert featured the trumpeter Leo Brandt."),
    "glen-water": ("2026-03-08", "Boil water in Glen Harbour", "Glen Harbour residents were told to boil tap water "
                   "after a pipe burst at the treatment plant. The warning lasted three days."),
    "hollis-zoo": ("2026-03-09", "Red pandas at Hollis zoo", "Hollis zoo welcomed two red panda cubs born in the "
                   "spring. Keepers named them Pip and Saffron."),
    "ivy-transit": ("2026-03-10", "Electric buses in Ivy City", "Ivy City launched an electric bus line between the "
                    "station and the university. Buses run every ten minutes."),
    "juniper-fire": ("2026-03-11", "Warehouse fire in Juniper", "A fire destroyed an empty warehouse in the Juniper "
                     "industrial park. No one was hurt and the cause is under investigation."),
    "kestrel-election": ("2026-03-12", "Kestrel Bay elects a mayor", "Kestrel Bay elected Omar Haddad as mayor with "
                         "fifty-four percent of the vote. Turnout was the highest in twenty years."),
    "linden-park": ("2026-03-13", "Linden Park reopens", "Linden Park reopened after a year of renovation. It has a "
                    "new skate park and a fountain."),
}
REMOVED = ("birch-bridge", "elm-hospital", "juniper-fire")
EDITS = {
    "alder-library": ("forty thousand books and a children's reading room. Mayor Ines Varga",
                      "sixty thousand books and a music room. Deputy mayor Paul Okafor"),
    "fenwick-festival": ("eight thousand visitors this summer. The closing concert featured the trumpeter Leo Brandt",
                         "eleven thousand visitors this summer. The closing concert featured the pianist Ada Lindqvist"),
    "kestrel-election": ("fifty-four percent of the vote. Turnout was the highest in twenty years",
                         "sixty-one percent of the vote. Turnout was the lowest in ten years"),
}
NEW_ID = "kessington-guild"
NEW = {
    NEW_ID: ("2026-03-14", "Kessington glassblowers", "The glassblowers' guild of Kessington elected Marta Quill as "
             "its first president. The guild has one hundred and twenty members."),
}
NEW_QUESTION = "who did the Kessington glassblowers' guild elect as its first president?"
CORPUS_QUESTIONS = (
    "how many books does the Alder library hold?", "why was the Birch river bridge closed?",
    "what class did Cedar Valley school add?", "when is the Dunmore farmers market held?",
    "how many nurses did Elm County hospital hire?", "how many visitors came to the Fenwick jazz festival?",
    "why did Glen Harbour residents boil their water?", "what are the red panda cubs at Hollis zoo called?",
    "how often do the Ivy City electric buses run?", "what burned in the Juniper industrial park?",
    "who won the Kestrel Bay mayoral election?", "what is new in Linden Park?", NEW_QUESTION,
)


class ReadLog:
    """Reads counted by epoch (the writes that had returned when a read was sent) with what that epoch's reads may
    cite; the writer starts a new epoch after each write and waits for reads sent in it."""

    def __init__(self, views: Sequence[View]) -> None:
        self._condition = threading.Condition()
        self._views: list[tuple[View, ...]] = [tuple(views)]
        self._reads: Counter[int] = Counter()
        self.routes: Counter[str] = Counter()
        self.cited: set[str] = set()
        self.problems: list[str] = []

    def begin(self) -> tuple[int, tuple[View, ...]]:
        """The current epoch and the views a read sent now may match."""
        with self._condition:
            return len(self._views) - 1, self._views[-1]

    def finish(self, epoch: int, route: str, cited: set[str], problems: list[str]) -> None:
        """Count one finished read (a failed one too) and keep its problems."""
        with self._condition:
            self._reads[epoch] += 1
            self.routes[route] += 1
            self.cited |= cited
            self.problems.extend(problems)
            self._condition.notify_all()

    def advance(self, views: Sequence[View]) -> int:
        """Start an epoch whose reads may match only these views; its number."""
        with self._condition:
            self._views.append(tuple(views))
            return len(self._views) - 1

    def wait_for_reads(self, epoch: int, count: int) -> None:
        """Block until count reads sent in epoch have finished."""
        with self._condition:
            done = self._condition.wait_for(lambda: self._reads[epoch] >= count, WAIT_SECONDS)
            assert done, f"only {self._reads[epoch]} of {count} reads finished in epoch {epoch}: {self.problems[:3]}"

    def has_cited(self, article_id: str) -> bool:
        """Whether some finished read cited the article."""
        with self._condition:
            return article_id in self.cited

    def reads(self, epoch: int | None = None) -> int:
        """Reads finished, in all epochs or in one."""
        with self._condition:
            return sum(self._reads.values()) if epoch is None else self._reads[epoch]


def span_problems(spans: Sequence[tuple[str, int, int, str]], view: View) -> list[str]:
    """Why these (article id, start, end, text) spans do not all lie in the view's articles at their offsets."""
    problems: list[str] = []
    for article_id, start, end, text in spans:
        if article_id not in view:
            problems.append(f"{article_id} is not in the index")
        elif view[article_id][start:end] != text:
            problems.append(f"{article_id}[{start}:{end}] is not {text[:60]!r}")
    return problems


def check_response(body: dict[str, Any], views: Sequence[View]) -> tuple[set[str], list[str]]:
    """The article ids a response's citations cite, and its problems unless all its spans fit one of the views."""
    citations = body.get("citations", [])
    spans = [(c["article_id"], c["start"], c["end"], c["quote"]) for c in citations]
    spans += [(p["article_id"], p["start"], p["end"], p["text"]) for p in body["passages"]]
    failures = [span_problems(spans, view) for view in views]
    cited = {citation["article_id"] for citation in citations}
    if any(not failure for failure in failures):
        return cited, []
    return cited, [" | ".join("; ".join(failure[:3]) for failure in failures)]


def read_until(stop: threading.Event, base_url: str, log: ReadLog, questions: Sequence[str], start: int) -> None:
    """Ask and search in turn until stopped, checking every response against what its epoch may cite."""
    with httpx.Client(base_url=base_url, timeout=60) as client:
        for number in itertools.count(start):
            if stop.is_set():
                return
            route, question = ROUTES[number % 2], questions[(number // 2) % len(questions)]
            epoch, views = log.begin()
            cited: set[str] = set()
            try:
                response = client.post(route, json={"question": question})
                if response.status_code == 200:
                    cited, problems = check_response(response.json(), views)
                else:
                    problems = [f"{response.status_code} {response.text[:300]}"]
            except Exception as error:  # noqa: BLE001 - a failed read is counted and reported, not lost in a thread
                problems = [repr(error)]
            log.finish(epoch, route, cited, [f"{route} {question!r} in epoch {epoch}: {problem}" for problem in problems])


def keyword_problems(snapshot: store.IndexSnapshot, question: str) -> list[str]:
    """Why the keyword side of a generation disagrees with its database and vectors: a hit the database does not hold,
    an article it does not hold, or a different number of chunks."""
    terms = snapshot.keyword_terms(question)
    rowids = [rowid for rowid, _ in snapshot.keyword(terms, 500, SearchFilters())]
    problems = [f"keyword chunk {rowid} is not in the database" for rowid in set(rowids) - set(snapshot.chunks(rowids))]
    articles = [article_id for article_id, _ in snapshot.keyword_articles(terms, 500, SearchFilters())]
    problems += [f"keyword article {article_id} is not in the database" for article_id in articles if snapshot.article(article_id) is None]
    if not snapshot.size == snapshot.keyword_size == snapshot.state.chunks:
        problems.append(f"{snapshot.keyword_size} keyword chunks, {snapshot.size} vectors, database {snapshot.state.chunks}")
    return problems


def check_keywords_until(stop: threading.Event, service: QAService, questions: Sequence[str], found: list[str]) -> int:
    """Search the live generation's keyword index until stopped, collecting disagreements; how many searches ran."""
    for number in itertools.count():
        if stop.is_set():
            return number
        found.extend(keyword_problems(service.snapshot(), questions[number % len(questions)]))
    return 0


@contextmanager
def reading(base_url: str, log: ReadLog, questions: Sequence[str]) -> Iterator[None]:
    """READERS threads asking and searching continuously for the duration of the block; stopped and joined on exit."""
    stop = threading.Event()
    with ThreadPoolExecutor(READERS, thread_name_prefix="reader") as pool:
        futures = [pool.submit(read_until, stop, base_url, log, questions, 5 * reader) for reader in range(READERS)]
        try:
            yield
        finally:
            stop.set()
            for future in futures:
                future.result(timeout=WAIT_SECONDS)


def ferry_article(number: int) -> tuple[str, str]:
    """A uniquely identified short article that the ferry questions find: its id and text."""
    return f"ferry-bulletin-{number:03d}", (
        f"Harbour bulletin {number}. The ferry Osprey {number} sailed from pier {number} to the lighthouse island at "
        f"dawn. Its captain reported calm water and {40 + number} passengers on board."
    )


def test_api_writes_under_reads_never_fail_nor_cite_deleted_articles(fake_service: QAService) -> None:
    app = create_app(fake_service, ApiSettings(rate_limit_per_minute=0))
    ferries = dict(ferry_article(number) for number in range(ADDS))
    known = {**{article.id: article.text for article in load_paths([SEEDS]).articles}, **ferries}
    deleted: set[str] = set()

    def citable() -> View:
        """What a read sent now may cite: any article but those whose DELETE has returned (one whose POST is still
        on its way may already be live)."""
        return {article_id: text for article_id, text in known.items() if article_id not in deleted}

    log = ReadLog([citable()])
    writes: Counter[str] = Counter()
    keyword_disagreements: list[str] = []
    stop_keywords = threading.Event()
    with serve_in_thread(app) as base_url, httpx.Client(base_url=base_url, timeout=60) as writer, ThreadPoolExecutor(1) as pool:
        assert app.state.api.readiness.wait(60), app.state.api.readiness.error
        keyword_reads = pool.submit(check_keywords_until, stop_keywords, fake_service, (*FERRY_QUESTIONS, GCC_QUESTION), keyword_disagreements)
        with reading(base_url, log, (*FERRY_QUESTIONS, GCC_QUESTION)):
            log.wait_for_reads(0, READS_AFTER_WRITE)
            for number, (article_id, text) in enumerate(ferries.items()):
                body = {"articles": [{"id": article_id, "title": f"Ferry bulletin {number}", "text": text}]}
                response = writer.post("/v1/articles", json=body)
                assert response.status_code == 200, response.text
                writes["added"] += 1
                log.wait_for_reads(log.advance([citable()]), READS_AFTER_WRITE)
                if number >= LIVE:
                    gone, _ = ferry_article(number - LIVE)
                    writes["deleted after being cited"] += log.has_cited(gone)
                    response = writer.delete(f"/v1/articles/{gone}")
                    assert response.status_code == 200, response.text
                    writes["deleted"] += 1
                    deleted.add(gone)
                    log.wait_for_reads(log.advance([citable()]), READS_AFTER_WRITE)
        stop_keywords.set()
        keyword_searches = keyword_reads.result(timeout=WAIT_SECONDS)
        fake_service.wait_for_compaction()
        compactions = fake_service.writes.compactions
    print(f"{compactions} segment merges by the server's background compaction while the readers read")
    assert compactions >= 5  # the writes left tiers of small segments and many tombstones: merged under the reads
    print(
        f"\nAPI writes under reads: {log.reads()} reads ({log.routes['/v1/ask']} ask, {log.routes['/v1/search']} "
        f"search) by {READERS} readers, {writes['added']} adds + {writes['deleted']} deletes "
        f"({writes['deleted after being cited']} of the deleted articles had been cited before), "
        f"{len(log.problems)} errors; {keyword_searches} keyword searches beside them, {len(keyword_disagreements)} disagreeing"
    )
    assert not log.problems, f"{len(log.problems)} failed reads, e.g. {log.problems[:5]}"
    assert not keyword_disagreements, keyword_disagreements[:5]
    assert keyword_searches >= ADDS
    assert (writes["added"], writes["deleted"]) == (ADDS, ADDS - LIVE)
    assert log.reads() >= READS_AFTER_WRITE * (2 * ADDS - LIVE)
    assert min(log.routes[route] for route in ROUTES) >= ADDS
    assert writes["deleted after being cited"] >= (ADDS - LIVE) // 2


@pytest.fixture
def write_after_first_manifest_read(fake_service: QAService, monkeypatch: pytest.MonkeyPatch) -> list[Manifest]:
    """The race made certain: right after IndexSnapshot.open first reads the manifest, a rebuild publishes a new
    store and deletes the files that manifest names. The list receives the new manifest."""
    fake_service.ensure_index()
    published: list[Manifest] = []

    def read_then_publish(directory: Path) -> Manifest:
        """Read the manifest; the first time, a write lands right after."""
        manifest = read_manifest(directory)
        if not published:
            article_id, text = ferry_article(0)
            article = make_article(article_id, "Ferry bulletin", text, "api", None, None)
            update_index(  # a rebuild starts a new store and deletes the one that manifest names
                fake_service.index_dir, fake_service.embedder, fake_service.chunking, [article], rebuild=True
            )
            published.append(read_manifest(directory))
        return manifest

    monkeypatch.setattr(store, "read_manifest", read_then_publish)
    return published


def test_without_a_retry_a_generation_replaced_while_being_opened_fails(
    fake_service: QAService, write_after_first_manifest_read: list[Manifest]
) -> None:
    """What a reader got before the retry: a 503 whose message says to rebuild an index that is fine."""
    embedder = fake_service.embedder
    with pytest.raises(IndexCorruptError, match="is missing|No such file"):
        store.IndexSnapshot.open(fake_service.index_dir, embedder.name, embedder.dimension, retries=0)


def test_a_generation_replaced_while_being_opened_gives_way_to_the_newer_one(
    fake_service: QAService, write_after_first_manifest_read: list[Manifest]
) -> None:
    embedder = fake_service.embedder
    snapshot = store.IndexSnapshot.open(fake_service.index_dir, embedder.name, embedder.dimension)
    assert snapshot.manifest == write_after_first_manifest_read[0]
    assert snapshot.article(ferry_article(0)[0]) is not None


def edited(article_id: str) -> tuple[str, str, str]:
    """An article of corpus A as corpus B has it: its text edited when EDITS says so."""
    published, title, body = CORPUS_A[article_id]
    before, after = EDITS.get(article_id, ("", ""))
    assert before in body
    return published, title, body.replace(before, after) if before else body


def write_corpus(folder: Path, articles: Mapping[str, tuple[str, str, str]]) -> dict[str, str]:
    """Write articles as seed-format files; their texts as the loader reads them, by id."""
    folder.mkdir()
    for article_id, (published, title, body) in articles.items():
        (folder / f"{article_id}.txt").write_text(f" date {published} {title}\n\n{body}\n", encoding="utf-8")
    loaded = load_paths([folder])
    assert not loaded.errors and len(loaded.articles) == len(articles)
    return {article.id: article.text for article in loaded.articles}


def run_qa_index(corpus: Path, index_dir: Path) -> dict[str, Any]:
    """`qa index --json` on corpus in its own process, as an operator would run it; its report."""
    command = [sys.executable, "-m", "qa", "index", str(corpus), "--index-dir", str(index_dir), "--json"]
    process = subprocess.Popen(
        command, cwd=corpus.parent, env=qa_environment(), stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        stdout, stderr = process.communicate(timeout=WAIT_SECONDS)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=30)
    assert process.returncode == 0, stderr.decode(errors="replace")
    report: dict[str, Any] = json.loads(stdout)
    return report


@pytest.mark.slow
def test_qa_index_under_a_running_qa_serve_is_picked_up_without_errors(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    kept = {article_id: edited(article_id) for article_id in CORPUS_A if article_id not in REMOVED}
    texts_a = write_corpus(tmp_path / "a", CORPUS_A)
    texts_b = write_corpus(tmp_path / "b", {**kept, **NEW})
    index_dir = tmp_path / "index"
    log = ReadLog([texts_a, texts_b])  # a read sent before `qa index` may still be answered after it
    settings = {"QA_RATE_LIMIT_PER_MINUTE": "0"}
    with serve_subprocess(index_dir, tmp_path / "a", tmp_path / "serve.log", settings=settings) as base_url:
        with reading(base_url, log, CORPUS_QUESTIONS):
            log.wait_for_reads(0, 2 * len(CORPUS_QUESTIONS))
            during = log.advance([texts_a, texts_b])
            report = run_qa_index(tmp_path / "b", index_dir)
            after = log.advance([texts_b])
            log.wait_for_reads(after, 2 * len(CORPUS_QUESTIONS))
        with httpx.Client(base_url=base_url, timeout=60) as client:
            answer = client.post("/v1/ask", json={"question": NEW_QUESTION}).json()
    print(
        f"\nqa index under qa serve: {log.reads()} reads ({log.reads(0)} before, {log.reads(during)} while `qa index` "
        f"ran, {log.reads(after)} after) by {READERS} readers, one rebuild ({report['added']} added, "
        f"{report['updated']} updated, {report['removed']} removed), {len(log.problems)} errors"
    )
    assert not log.problems, f"{len(log.problems)} failed reads, e.g. {log.problems[:5]}"
    # every kept article counts as updated: its source path moved from a/ to b/ (three texts changed as well)
    assert (report["added"], report["updated"], report["removed"], report["errors"]) == (1, len(kept), len(REMOVED), [])
    assert log.reads(during) >= 1
    assert set(REMOVED) | set(EDITS) <= log.cited, "the readers never cited the articles the rebuild removed or changed"
    first = answer["citations"][0]
    assert first["article_id"] == NEW_ID and "Marta Quill" in first["quote"], answer
    assert texts_b[NEW_ID][first["start"] : first["end"]] == first["quote"]
