"""The `qa` command line: a thin click layer over QAService."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable, Sequence
from dataclasses import asdict
from datetime import date, datetime
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar

import click
from tqdm import tqdm

from index.build import IndexReport
from qa.config import Settings
from qa.errors import QAError
from qa.serialize import answer_to_dict, found_to_dict
from qa.service import QAService
from qa.time_text import searched_text
from qa.types import Answer, Outlet, Passage, SearchFilters, TimeWindow, also_published

F = TypeVar("F", bound=Callable[..., Any])


def _user_errors(function: F) -> F:
    """Show library errors as a one-line message with exit code 1."""

    @wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return function(*args, **kwargs)
        except QAError as error:
            raise click.ClickException(str(error)) from error

    return wrapper  # type: ignore[return-value]


ServiceFactory = Callable[[Settings], QAService]


def _settings(index_dir: Path | None) -> Settings:
    """The settings, with the index folder given on the command line."""
    settings = Settings()
    return settings.model_copy(update={"index_dir": index_dir}) if index_dir is not None else settings


def _service(index_dir: Path | None) -> QAService:
    """A service over the configured (or given) index; tests pass their own factory as the context object."""
    return _factory()(_settings(index_dir))


def _factory() -> ServiceFactory:
    """How services are made: QAService, or the factory a test passed as the context object."""
    factory: ServiceFactory = click.get_current_context().find_root().obj or QAService
    return factory


def _to_date(_: click.Context, __: click.Parameter, value: datetime | None) -> date | None:
    """click's DateTime as a date."""
    return value.date() if value else None


index_dir_option = click.option(
    "--index-dir", type=click.Path(path_type=Path, file_okay=False), help="Index folder (default: QA_INDEX_DIR or .qa/index)."
)
json_option = click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")


def query_options(function: F) -> F:
    """Options shared by search and ask."""
    for option in reversed(
        [
            click.option("--k", type=click.IntRange(1, 100), default=None, help="Passages to retrieve."),
            click.option("--since", type=click.DateTime(["%Y-%m-%d"]), callback=_to_date, help="Only articles dated on or after."),
            click.option("--until", type=click.DateTime(["%Y-%m-%d"]), callback=_to_date, help="Only articles dated on or before."),
            click.option("--source", "sources", multiple=True, help="Only articles whose source path or url contains this."),
            click.option(
                "--as-of", type=click.DateTime(["%Y-%m-%d"]), callback=_to_date,
                help="Answer as of this date (default today, unless QA_AS_OF_TODAY=false): no later articles, recent "
                "ones preferred, and 'this week' or 'on Monday' count from it.",
            ),
            index_dir_option,
            json_option,
        ]
    ):
        function = option(function)
    return function


@click.group()
@click.version_option(package_name="grounded-qa")
def main() -> None:
    """Answer questions from your news articles, citing the exact passages."""


@main.command("index")
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option(
    "--rebuild", is_flag=True,
    help="Build the index again from scratch (another model or format, or a damaged index); the old one keeps "
    "answering until the new one is published.",
)
@click.option(
    "--dask", "scheduler", default=None, metavar="tcp://HOST:8786|local:N",
    help="Chunk, embed and find speakers on a Dask cluster (local:N starts N worker processes on 127.0.0.1); "
    "default QA_DASK_SCHEDULER, else this process.",
)
@index_dir_option
@json_option
@_user_errors
def index_command(paths: tuple[Path, ...], rebuild: bool, scheduler: str | None, index_dir: Path | None, as_json: bool) -> None:
    """Index articles (default: the seeds); only new or changed articles are embedded."""
    service = _service(index_dir)
    report = service.index_paths(
        list(paths) or [service.settings.seeds_dir], show_progress=not as_json, rebuild=rebuild, parallel=True,
        dask=scheduler or service.settings.dask_scheduler,
    )
    _print_report(report, as_json)
    if report.errors:
        sys.exit(1)


@main.command()
@click.option("--all", "everything", is_flag=True, help="Merge every segment into one and purge every tombstone.")
@index_dir_option
@json_option
@_user_errors
def compact(everything: bool, index_dir: Path | None, as_json: bool) -> None:
    """Merge the index's small vector segments and purge deleted chunks now (writes do it as they go)."""
    service = _service(index_dir)
    steps = service.compact(everything)
    state = service.snapshot().state
    if as_json:
        click.echo(json.dumps({"steps": [asdict(step) for step in steps], "segments": len(state.segments), "tombstones": len(state.tombstones)}))
        return
    for step in steps:
        click.echo(f"{step.reason}: {step.merged} segments into one {step.kind} segment of {step.vectors} vectors "
                   f"({step.purged} tombstones purged) in {step.seconds:.2f} s")
    click.echo(f"{len(state.segments)} segments, {len(state.tombstones)} tombstones" + ("" if steps else " (nothing to do)"))


@main.command()
@click.argument("question")
@query_options
@_user_errors
def search(
    question: str, k: int | None, since: date | None, until: date | None, sources: tuple[str, ...],
    as_of: date | None, index_dir: Path | None, as_json: bool,
) -> None:
    """Show the passages that best match a question."""
    service = _service(index_dir)
    service.ensure_index(show_progress=not as_json)
    found = service.find(question, k, SearchFilters(since, until, sources), as_of)
    if as_json:
        click.echo(json.dumps(found_to_dict(question.strip(), found), ensure_ascii=False))
        return
    _print_time(found.time_window, found.time_note)
    for number, passage in enumerate(found.passages, start=1):
        _print_passage(number, passage)


@main.command()
@click.argument("question")
@query_options
@_user_errors
def ask(
    question: str, k: int | None, since: date | None, until: date | None, sources: tuple[str, ...],
    as_of: date | None, index_dir: Path | None, as_json: bool,
) -> None:
    """Answer a question from the indexed articles, citing the passages used."""
    service = _service(index_dir)
    service.ensure_index(show_progress=not as_json)
    answer = service.ask(question, k, SearchFilters(since, until, sources), as_of)
    if as_json:
        click.echo(json.dumps(answer_to_dict(answer), ensure_ascii=False))
    else:
        _print_answer(answer)


@main.command()
@click.option("--k", type=click.IntRange(1, 100), default=None, help="Passages to retrieve.")
@click.option("--as-of", type=click.DateTime(["%Y-%m-%d"]), callback=_to_date, help="Answer as of this date.")
@index_dir_option
@_user_errors
def chat(k: int | None, as_of: date | None, index_dir: Path | None) -> None:
    """Ask questions interactively; follow-ups use the conversation. /new starts over, /quit or Ctrl-D leaves."""
    service = _service(index_dir)
    service.ensure_index(show_progress=True)
    conversation_id: str | None = None
    click.echo("Ask about the indexed articles. /new starts a new conversation, /quit leaves.")
    while True:
        try:
            question = click.prompt("", prompt_suffix="> ", default="", show_default=False).strip()
        except click.Abort:
            click.echo()
            return
        if question in ("/quit", "/exit"):
            return
        if question == "/new":
            conversation_id = None
            click.echo("New conversation.")
            continue
        if not question:
            continue
        try:
            answer = service.ask(question, k, as_of=as_of, conversation_id=conversation_id)
        except QAError as error:
            click.echo(f"error: {error}", err=True)
            continue
        conversation_id = answer.conversation_id
        if answer.resolved_question != answer.question:
            click.secho(f"(understood as: {answer.resolved_question})", dim=True)
        _print_answer(answer)
        click.echo()


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on (0.0.0.0 for all).")
@click.option("--port", type=click.IntRange(1, 65535), default=8000, show_default=True, help="Port to listen on.")
@click.option("--watch", "keep_watching", is_flag=True, help="Also keep the followed feeds and folders indexed (`qa sources`).")
@index_dir_option
@_user_errors
def serve(host: str, port: int, keep_watching: bool, index_dir: Path | None) -> None:
    """Serve the HTTP API and chat page; the model and index load once at start-up (from the seeds if absent)."""
    import uvicorn

    from api.app import create_app
    from api.chat_settings import ChatSettings
    from api.settings import ApiSettings

    logging.basicConfig(level=logging.INFO, format="%(levelname)s:     %(name)s: %(message)s")
    app = create_app(_service(index_dir), ApiSettings(), ChatSettings(), watch=keep_watching)
    uvicorn.run(app, host=host, port=port, log_level="info")


@main.group()
def sources() -> None:
    """Feeds and folders the index follows (kept in the index folder; `qa watch` keeps them indexed)."""


@sources.command("add")
@click.argument("location")
@click.option("--name", default=None, help="What citations call this source (default: the feed's host or the folder's name).")
@click.option("--every", default="10m", show_default=True, help="How often a feed is polled: 90s, 10m, 2h, 1d.")
@index_dir_option
@_user_errors
def sources_add(location: str, name: str | None, every: str, index_dir: Path | None) -> None:
    """Follow an RSS/Atom feed URL or a folder of articles."""
    from qa.sources.setup import add_source

    source, warning = add_source(_settings(index_dir), location, name, every)
    if warning:
        click.secho(warning, fg="yellow", err=True)
    click.echo(f"following {source.kind} {source.location} as {source.name!r}; run `qa watch` (or `qa serve --watch`) to keep it indexed")


@sources.command("list")
@index_dir_option
@json_option
@_user_errors
def sources_list(index_dir: Path | None, as_json: bool) -> None:
    """The followed sources: last and next fetch, articles, last error."""
    from qa.sources.registry import FILE_NAME, SourceRegistry
    from qa.sources.status import source_status

    folder = _settings(index_dir).index_dir
    shown = []
    if (folder / FILE_NAME).exists():
        registry = SourceRegistry(folder)
        shown = [source_status(source) for source in registry.list()]
        registry.close()
    if as_json:
        click.echo(json.dumps({"sources": shown}))
        return
    if not shown:
        click.echo("no sources yet; add one with `qa sources add URL|FOLDER`")
    for item in shown:
        click.echo(f"{item['name']}  {item['kind']}  {item['location']}")
        when = (f"every {item['every_seconds']:.0f} s; next {item['next_fetch'] or 'now'}" if item["kind"] == "feed"
                else "synced as its files change")
        click.echo(f"    {when}; last pass {item['last_fetch'] or 'never'}; {item['articles']} articles; "
                   f"{item['fetches']} passes, {item['not_modified']} answered 304, {item['errors']} failed")
        if item["last_error"]:
            click.secho(f"    last error: {item['last_error']}", fg="red")


@sources.command("remove")
@click.argument("name")
@index_dir_option
@_user_errors
def sources_remove(name: str, index_dir: Path | None) -> None:
    """Stop following a source (its articles stay indexed; delete them with DELETE /v1/articles/{id})."""
    from qa.errors import SourceError
    from qa.sources.registry import FILE_NAME, SourceRegistry

    folder = _settings(index_dir).index_dir
    if not (folder / FILE_NAME).exists():
        raise SourceError(f"no source named {name!r}: {folder} follows no sources")
    registry = SourceRegistry(folder)
    try:
        removed = registry.remove(name)
    finally:
        registry.close()
    click.echo(f"no longer following {removed.location} ({removed.name!r})")


@main.command()
@click.option("--once", is_flag=True, help="One pass over every source, then exit (for tests and cron).")
@click.option("--source", "names", multiple=True, help="Only this source (by name); repeatable.")
@index_dir_option
@json_option
@_user_errors
def watch(once: bool, names: tuple[str, ...], index_dir: Path | None, as_json: bool) -> None:
    """Keep the followed feeds and folders indexed: feeds polled when due, folders synced as files change."""
    import threading

    from qa.sources.report import PassReport
    from qa.sources.setup import make_watcher

    service = _service(index_dir)
    watcher = make_watcher(service)
    total = len([source for source in watcher.registry.list() if not names or source.name in names])
    bar = tqdm(total=total, unit="source", desc="sources", disable=as_json or not once, file=sys.stderr)

    def show(report: PassReport) -> None:
        bar.update(1)
        if not as_json:
            tqdm.write(report.summary(), file=sys.stdout)
            for error in report.errors:
                tqdm.write(click.style(f"    {error}", fg="red"), file=sys.stderr)

    if once and total == 0 and not names:
        bar.close()
        click.echo("no sources yet; add one with `qa sources add URL|FOLDER`")
        return
    if once:
        reports = watcher.run_once(names, on_done=show)
        bar.close()
        service.wait_for_compaction()
        if as_json:
            click.echo(json.dumps({"sources": [asdict(report) for report in reports]}))
        if any(report.errors for report in reports):
            sys.exit(1)
        return
    click.echo("watching; Ctrl-C to stop")
    stop = threading.Event()
    try:
        watcher.run(stop, on_done=show)
    except KeyboardInterrupt:
        stop.set()
    service.wait_for_compaction()


@main.command("eval")
@click.option("--corpus", type=click.Path(path_type=Path, exists=True, dir_okay=False), required=True)
@click.option("--questions", type=click.Path(path_type=Path, exists=True, dir_okay=False), required=True)
@click.option("--k", type=click.IntRange(1, 100), default=10, show_default=True)
@click.option("--limit", type=click.IntRange(1), default=None, help="Only the first N questions.")
@click.option("--unanswerable", is_flag=True, help="Also ask each question with its gold articles removed.")
@click.option("--as-of-question-date", is_flag=True, help="Ask each question as of its own date (recency, no later articles).")
@json_option
@_user_errors
def eval_command(
    corpus: Path, questions: Path, k: int, limit: int | None, unanswerable: bool, as_of_question_date: bool, as_json: bool
) -> None:
    """Measure retrieval quality, answers, abstention and latency on a corpus with gold passages."""
    from qa.evaluate import EvalOptions, run_eval

    options = EvalOptions(k, limit, unanswerable, as_of_question_date, show_progress=not as_json)
    results = run_eval(_factory(), Settings(), corpus, questions, options)
    if as_json:
        click.echo(json.dumps(results))
        return
    tradeoff = results.pop("abstention_tradeoff", [])
    for name, value in results.items():
        click.echo(f"{name:>36}  {value}")
    if tradeoff:
        click.echo("\n threshold  answered (answerable)  abstained (unanswerable)")
        for row in tradeoff:
            click.echo(f"{row['threshold']:>10.2f}  {row['answer_rate_answerable']:>21.3f}  {row['abstain_rate_unanswerable']:>24.3f}")


def _print_report(report: IndexReport, as_json: bool) -> None:
    """Counts of what indexing changed, plus any load errors."""
    counts = {
        "added": report.added, "updated": report.updated, "removed": report.removed,
        "unchanged": report.unchanged, "chunks": report.chunks, "seconds": report.seconds,
    }
    if as_json:
        click.echo(json.dumps({
            **counts, "embedded": report.embedded, "bytes_written": report.bytes_written,
            "write_seconds": report.write_seconds, "generation": report.generation, "segments": report.segments,
            "tombstones": report.tombstones, "tombstoned": report.tombstoned, "compactions": report.compactions,
            "mirrored": report.mirrored, "errors": report.errors, "skipped": report.skipped,
        }))
    else:
        click.echo(
            f"{report.added} added, {report.updated} updated, {report.removed} removed, {report.unchanged} unchanged; "
            f"{report.chunks} chunks ({report.embedded} embedded) in {report.seconds:.1f} s; "
            f"{report.segments} segments, {report.tombstones} tombstones"
            + (f"; {report.mirrored} chunks copied into Milvus" if report.mirrored else "")
        )
    for skipped in report.skipped:
        click.echo(f"warning: {skipped}", err=True)
    for error in report.errors:
        click.echo(f"error: {error}", err=True)
    if report.errors:
        click.echo(
            f"{len(report.errors)} file(s) or line(s) could not be indexed (listed above); fix them and run `qa index` again "
            "(articles that vanished are kept until every source loads).",
            err=True,
        )


def _print_passage(number: int, passage: Passage) -> None:
    """One passage with its citation line."""
    click.secho(f"[{number}] {passage.title or passage.article_id}", bold=True, nl=False)
    click.echo(f"  {passage.date or 'undated'}  score {passage.score:.3f}")
    click.echo(f"    {passage.source}  chars {passage.start}-{passage.end}")
    _print_outlets(passage.outlets, "    ")
    click.echo("    " + passage.text.replace("\n", "\n    ") + "\n")


def _print_time(window: TimeWindow | None, note: str) -> None:
    """'Searched articles from 12–18 May 2022', and the note when nothing found is from then."""
    if window is not None:
        click.secho(searched_text(window), dim=True)
    if note:
        click.echo(note)


def _print_answer(answer: Answer) -> None:
    """The period searched (when the question named one), the answer, then its numbered sources underneath."""
    _print_time(answer.time_window, "")
    click.echo(answer.answer)
    if not answer.citations:
        return
    click.echo("\nSources:")
    for citation in answer.citations:
        click.secho(f"  [{citation.n}] {citation.title or citation.article_id}", bold=True, nl=False)
        click.echo(f" ({citation.date or 'undated'}) {citation.url or citation.source}, chars {citation.start}-{citation.end}")
        _print_outlets(citation.outlets, "      ")
        said = f"{citation.speaker.label}: " if citation.speaker else ""
        click.echo(f'      {said}"{citation.quote}"')


def _print_outlets(outlets: Sequence[Outlet], indent: str) -> None:
    """'also published by: AP (https://…), BBC' when other outlets published the story."""
    if outlets:
        click.echo(indent + also_published(outlets, _outlet_text))


def _outlet_text(outlet: Outlet) -> str:
    """'AP (https://…)', or just the outlet's name when it has no url."""
    return f"{outlet.source} ({outlet.url})" if outlet.url else outlet.source
