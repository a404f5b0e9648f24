"""The app factory: one FastAPI app over one QAService."""

from __future__ import annotations

import logging
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

import httpx
from fastapi import APIRouter, FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.staticfiles import StaticFiles

from api import page, routes, sources, system
from api.answer_slots import AnswerSlots
from api.auth import KeyRing
from api.bodylimit import BodyLimitMiddleware
from api.chat_settings import ChatSettings
from api.errors import install_error_handlers
from api.integrations import chat_routers, chat_summary
from api.metrics import Metrics, MetricsMiddleware
from api.page import STATIC_DIR
from api.ratelimit import RateLimiter
from api.readiness import Readiness
from api.settings import ApiSettings
from api.state import ApiState
from qa.service import QAService
from qa.sources.setup import make_watcher

logger = logging.getLogger("qa.api")


def create_app(
    service: QAService,
    settings: ApiSettings | None = None,
    chat: ChatSettings | None = None,
    watch: bool = False,
    fetch_transport: httpx.BaseTransport | None = None,
) -> FastAPI:
    """The HTTP API, chat page, health checks, metrics and the configured chat integrations (Slack, Mattermost);
    the model and index load in the background at start-up; with watch, the followed feeds and folders are kept
    indexed on a background thread once they have (fetching through `fetch_transport` in tests)."""
    settings = settings or ApiSettings()
    readiness = Readiness(service)
    answer_slots = AnswerSlots(settings.concurrent_answers, settings.answer_queue_limit)
    watcher = make_watcher(service, fetch_transport) if watch else None
    state = ApiState(
        service=service,
        settings=settings,
        keys=KeyRing(settings.api_keys, settings.admin_api_keys),
        limiter=RateLimiter(settings.rate_limit_per_minute, service.settings.redis_url),
        readiness=readiness,
        metrics=Metrics(
            readiness.index_figures, answer_slots, watcher.figures if watcher else None, service.query_figures
        ),
        answer_slots=answer_slots,
        watcher=watcher,
    )
    app = FastAPI(
        title="grounded-qa",
        summary="Answers from news articles, every sentence citing the exact passage it came from.",
        version="0.1.0",
        lifespan=_lifespan(state),
    )
    app.state.api = state
    install_error_handlers(app)
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)
    app.add_middleware(MetricsMiddleware, metrics=state.metrics)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware, allow_origins=list(settings.cors_origins), allow_methods=["GET", "POST", "DELETE"],
            allow_headers=["Authorization", "Content-Type"], max_age=600,
        )
    _include_routers(app, chat_routers(service, chat) if chat else [])
    if chat:
        logger.info(chat_summary(chat))
    return app


def _include_routers(app: FastAPI, chat: list[APIRouter]) -> None:
    """Every router the app serves: the one place to add another front end (its service is app.state.api.service)."""
    app.include_router(system.router)
    app.include_router(routes.router)
    app.include_router(sources.router)
    app.include_router(page.router)
    for router in chat:
        app.include_router(router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")


def _lifespan(state: ApiState) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    """Log what is switched on, then start loading the model and index without blocking the server."""

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        for line in startup_summary(state):
            logger.info(line)
        state.readiness.start()
        stop = threading.Event()
        watching = threading.Thread(target=_watch, args=(state, stop), name="watcher", daemon=True)
        if state.watcher:
            watching.start()
        yield
        stop.set()
        if state.watcher:
            watching.join(timeout=30)
        state.service.wait_for_compaction()

    return lifespan


def _watch(state: ApiState, stop: threading.Event) -> None:
    """Keep the sources indexed once the model and index have loaded (the server's one writer of sources)."""
    while not state.readiness.wait(1.0):
        if stop.is_set() or state.readiness.error:
            return
    if state.watcher:
        state.watcher.run(stop, on_done=lambda report: logger.info(report.summary()))


def startup_summary(state: ApiState) -> list[str]:
    """One line per integration or setting that changes behaviour, saying whether it is on (never a secret)."""
    settings, service_settings = state.settings, state.service.settings
    keys, admin_keys = len(settings.api_keys), len(settings.admin_api_keys)
    writes = "admin keys only" if admin_keys else ("any key" if keys else "anyone")
    limit = settings.rate_limit_per_minute
    return [
        f"index: {service_settings.index_dir}",
        f"auth: {'on' if settings.auth_enabled else 'off'} ({keys} keys, {admin_keys} admin keys; writes: {writes})",
        f"cors: {', '.join(settings.cors_origins) if settings.cors_origins else 'off'}",
        f"rate limit: {f'{limit} requests a minute per caller' if limit else 'off'}",
        f"shared state: {'Redis (conversations, rate limits, Slack de-duplication)' if service_settings.redis_url else 'in this process (set QA_REDIS_URL to share it between replicas)'}",
        f"generative answers: {f'on (model {service_settings.llm_model})' if service_settings.llm_url else 'off (extractive)'}",
        f"max request body: {settings.max_body_bytes} bytes",
        f"sources: {'watched (qa serve --watch)' if state.watcher else 'not watched (qa serve --watch to keep feeds and folders indexed)'}",
        f"questions answered at once: {settings.concurrent_answers} (up to {settings.answer_queue_limit} more wait their turn)",
    ]
