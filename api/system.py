"""Operational routes: liveness, readiness and Prometheus metrics."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response

from api.deps import StateDep
from api.errors import ApiError, documented
from api.schemas import HealthOut, ReadyOut

router = APIRouter(tags=["operations"], responses=documented(500))


@router.get("/healthz", response_model=HealthOut)
def healthz() -> HealthOut:
    """The process is up (it may still be loading)."""
    return HealthOut()


@router.get("/readyz", response_model=ReadyOut, responses=documented(503))
def readyz(state: StateDep) -> ReadyOut:
    """200 once the model and index are loaded, 503 before (or if loading failed)."""
    readiness = state.readiness
    if not readiness.ready:
        message = f"loading failed: {readiness.error}" if readiness.error else "loading the model and index"
        raise ApiError(503, "not_ready", message)
    figures = readiness.index_figures()
    return ReadyOut(
        model=state.service.embedder.name, articles=figures["articles"], chunks=figures["chunks"],
        vector_store=state.service.settings.vector_store,
    )


@router.get("/metrics", response_class=Response, responses={200: {"content": {"text/plain": {}}}})
def metrics(state: StateDep) -> Response:
    """Request counts and latencies by route template and status, and the index size, for Prometheus."""
    body, content_type = state.metrics.render()
    return Response(body, media_type=content_type)
