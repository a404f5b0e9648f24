"""GET /v1/sources: the followed feeds and folders and how their fetches went."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from api.deps import StateDep, authenticate, rate_limit
from api.errors import documented
from api.schemas import FollowedSourceOut, SourcesOut
from qa.sources.registry import FILE_NAME, SourceRegistry
from qa.sources.status import source_status

router = APIRouter(prefix="/v1", dependencies=[Depends(authenticate), Depends(rate_limit)], responses=documented(401, 422, 429, 500, 503))


@router.get("/sources", response_model=SourcesOut, tags=["sources"])
def list_sources(state: StateDep) -> SourcesOut:
    """The feeds and folders the index follows (`qa sources add`): last and next fetch, articles, last error."""
    index_dir = state.service.index_dir
    if not (index_dir / FILE_NAME).exists():
        return SourcesOut(watching=state.watcher is not None, sources=[])
    registry = SourceRegistry(index_dir)
    try:
        shown = [FollowedSourceOut.model_validate(source_status(source)) for source in registry.list()]
    finally:
        registry.close()
    return SourcesOut(watching=state.watcher is not None, sources=shown)
