"""Fixtures for the HTTP API: apps over the fake-embedder service, reached in-process or over real HTTP."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any, cast

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api.app import create_app
from api.settings import ApiSettings
from index.embedder import HashingEmbedder
from qa.config import Settings
from qa.service import QAService
from tests.conftest import SEEDS
from tests.web.servers import serve_in_thread, serve_subprocess

OpenClient = Callable[..., httpx.Client]


@pytest.fixture(scope="session")
def seed_index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The seeds indexed once with the fake embedder."""
    folder = tmp_path_factory.mktemp("seed-index") / "index"
    QAService(Settings(index_dir=folder, seeds_dir=SEEDS), embedder=HashingEmbedder()).ensure_index()
    return folder


@pytest.fixture
def fake_service(settings: Settings, fake_embedder: HashingEmbedder, seed_index: Path) -> QAService:
    """A service over the fake embedder, starting from a private copy of the seed index (with Milvus, its collection
    is filled from the copy when the service first opens it)."""
    shutil.copytree(seed_index, settings.index_dir)
    return QAService(settings, embedder=fake_embedder)


@pytest.fixture(params=["asgi", "http"])
def transport(request: pytest.FixtureRequest) -> str:
    """In-process through FastAPI's TestClient, or over real HTTP to uvicorn on a loopback port."""
    return str(request.param)


@pytest.fixture
def open_client(transport: str, fake_service: QAService) -> Iterator[OpenClient]:
    """Open a client on a new app (fake service unless given; no rate limit unless asked), once it is ready."""
    with ExitStack() as stack:

        def open_(service: QAService | None = None, wait: bool = True, **settings: Any) -> httpx.Client:
            app = create_app(service or fake_service, ApiSettings(**{"rate_limit_per_minute": 0, **settings}))
            client = stack.enter_context(_client(app, transport))
            if wait:
                assert app.state.api.readiness.wait(60), app.state.api.readiness.error
            return client

        yield open_


@pytest.fixture
def client(open_client: OpenClient) -> httpx.Client:
    """A ready client with default settings (auth off, no rate limit)."""
    return open_client()


@contextmanager
def _client(app: FastAPI, transport: str) -> Iterator[httpx.Client]:
    """An httpx-compatible client for the app over the chosen transport, with the app started."""
    if transport == "asgi":
        with TestClient(app, raise_server_exceptions=False) as test_client:
            # TestClient is an httpx(2).Client with the same request and response surface the tests use.
            yield cast(httpx.Client, test_client)
        return
    with serve_in_thread(app) as base_url, httpx.Client(base_url=base_url, timeout=60) as http_client:
        yield http_client


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """`qa serve` with the real model in a subprocess on a loopback port, over a temporary index of the seeds."""
    folder = tmp_path_factory.mktemp("qa-serve")
    log_path = folder / "serve.log"
    with serve_subprocess(folder / "index", SEEDS, log_path) as base_url:
        yield base_url, log_path
