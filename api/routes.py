"""The /v1 routes: ask (plain and streamed), search, and the articles behind the answers."""

from __future__ import annotations

from dataclasses import asdict
from functools import partial
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import StreamingResponse

from api.deps import ServiceDep, StateDep, authenticate, rate_limit, require_writer
from api.errors import documented
from api.schemas import (
    AnswerOut,
    ArticleDeletedOut,
    ArticleIn,
    ArticleOut,
    ArticlePageOut,
    ArticlesIn,
    ArticlesWrittenOut,
    ArticleSummaryOut,
    AskIn,
    IndexChangeOut,
    SearchIn,
    SearchOut,
)
from api.sse import answer_events
from index.articles import make_article, normalise
from index.build import IndexReport
from qa.serialize import answer_to_dict, article_to_dict, found_to_dict
from qa.service import QAService
from qa.types import Article, Outlet

API_SOURCE = "api"
_STREAM_DOC: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "Server-sent events: `citations` (citations, conversation_id, abstained), then `answer` "
        "events whose `text` pieces join into the answer, then `done` (question, resolved_question, ...).",
        "content": {"text/event-stream": {"schema": {  # each event, as OpenAPI before 3.2 reads an event stream's schema
            "type": "object", "required": ["event", "data"],
            "properties": {
                "event": {"type": "string", "enum": ["citations", "answer", "done"]},
                "data": {"type": "string", "contentMediaType": "application/json"},
            },
        }}},
    }
}

router = APIRouter(
    prefix="/v1",
    dependencies=[Depends(authenticate), Depends(rate_limit)],
    responses=documented(401, 422, 429, 500, 503),
)


@router.post("/ask", response_model=AnswerOut, responses=documented(413), tags=["answers"])
async def ask(body: AskIn, request: Request, service: ServiceDep, state: StateDep) -> AnswerOut:
    """A short answer from the articles, each sentence citing its passage; pass conversation_id for follow-ups."""
    return await state.answer_slots.run(partial(_answer, service, body), request.is_disconnected)


@router.post("/ask/stream", responses={**_STREAM_DOC, **documented(413)}, tags=["answers"])
async def ask_stream(body: AskIn, request: Request, service: ServiceDep, state: StateDep) -> StreamingResponse:
    """The same answer as POST /v1/ask, as server-sent events."""
    answer = await state.answer_slots.run(partial(_answer, service, body), request.is_disconnected)
    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    return StreamingResponse(answer_events(answer), media_type="text/event-stream", headers=headers)


@router.post("/search", response_model=SearchOut, responses=documented(413), tags=["answers"])
async def search(body: SearchIn, request: Request, service: ServiceDep, state: StateDep) -> SearchOut:
    """The passages that best match a question, without composing an answer."""
    return await state.answer_slots.run(partial(_search, service, body), request.is_disconnected)


@router.get("/articles", response_model=ArticlePageOut, tags=["articles"])
def list_articles(
    service: ServiceDep,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    offset: Annotated[int, Query(ge=0, le=1_000_000_000)] = 0,
) -> ArticlePageOut:
    """Articles' metadata, newest first, one page at a time."""
    total = service.snapshot().article_count
    articles = [ArticleSummaryOut.model_validate(article_to_dict(a, with_text=False)) for a in service.articles(limit, offset)]
    next_offset = offset + limit if offset + limit < total else None
    return ArticlePageOut(articles=articles, total=total, limit=limit, offset=offset, next_offset=next_offset)


@router.get("/articles/{article_id}", response_model=ArticleOut, responses=documented(404), tags=["articles"])
def get_article(article_id: str, service: ServiceDep) -> ArticleOut:
    """One article with its text: a citation's quote is text[start:end], counted in code points."""
    return ArticleOut.model_validate(article_to_dict(service.article(article_id)))


@router.post(
    "/articles", response_model=ArticlesWrittenOut, dependencies=[Depends(require_writer)],
    responses=documented(403, 413), tags=["articles"],
)
def put_articles(body: ArticlesIn, service: ServiceDep) -> ArticlesWrittenOut:
    """Add or replace articles; they are searchable when this returns."""
    report = service.upsert_articles([_article(article) for article in body.articles])
    return ArticlesWrittenOut(ids=[article.id for article in body.articles], index=_change(report))


@router.delete(
    "/articles/{article_id}", response_model=ArticleDeletedOut, dependencies=[Depends(require_writer)],
    responses=documented(403, 404), tags=["articles"],
)
def delete_article(article_id: str, service: ServiceDep) -> ArticleDeletedOut:
    """Remove an article; it is never cited once this returns."""
    return ArticleDeletedOut(id=article_id, index=_change(service.delete_articles([article_id])))


def _answer(service: QAService, body: AskIn) -> AnswerOut:
    """Ask the service and shape the answer as `qa ask --json` does."""
    answer = service.ask(body.question, body.k, body.search_filters(), body.as_of, body.conversation_id)
    return AnswerOut.model_validate(answer_to_dict(answer))


def _search(service: QAService, body: SearchIn) -> SearchOut:
    """Search the service and shape the passages as `qa search --json` does."""
    found = service.find(body.question, body.k, body.search_filters(), body.as_of)
    return SearchOut.model_validate(found_to_dict(body.question, found))


def _article(article: ArticleIn) -> Article:
    """A library article from a request's article."""
    outlets = [Outlet(outlet.source, outlet.url, outlet.date) for outlet in article.outlets]
    return make_article(
        article.id, article.title, normalise(article.text).strip(), API_SOURCE, article.date, article.url, outlets
    )


def _change(report: IndexReport) -> IndexChangeOut:
    """What a write changed."""
    return IndexChangeOut.model_validate(asdict(report))
