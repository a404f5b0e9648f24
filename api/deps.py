"""Dependencies of the routes: the app's state, the ready service, the caller, rate limiting and write access.

All are `async`: each is quick and never blocks, and a sync dependency would cost every request a trip through the
worker-thread pool (and the GIL) before the route even starts."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.auth import Caller
from api.errors import ApiError
from api.ratelimit import client_bucket
from api.state import ApiState
from qa.service import QAService

bearer = HTTPBearer(auto_error=False, description="An API key from QA_API_KEYS or QA_ADMIN_API_KEYS.")


async def api_state(request: Request) -> ApiState:
    """This app's state."""
    state: ApiState = request.app.state.api
    return state


StateDep = Annotated[ApiState, Depends(api_state)]


async def ready_service(state: StateDep) -> QAService:
    """The service once its model and index are loaded; 503 before."""
    if not state.readiness.ready:
        reason = f"loading failed: {state.readiness.error}" if state.readiness.error else "the model and index are loading"
        raise ApiError(503, "not_ready", f"not ready yet ({reason}); retry shortly or check GET /readyz")
    return state.service


ServiceDep = Annotated[QAService, Depends(ready_service)]


async def authenticate(
    request: Request, state: StateDep, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
) -> Caller:
    """The caller, or 401 when keys are configured and this request has no known one (429 once a client IP, or IPv6
    /64, has had QA_RATE_LIMIT_PER_MINUTE of those in a minute, so keys cannot be guessed at full speed)."""
    host = request.client.host if request.client else "unknown"
    caller = state.keys.caller(credentials.credentials if credentials else None, host)
    if caller is None:
        _limit(state, f"refused:{client_bucket(host)}", {"WWW-Authenticate": "Bearer"})
        raise ApiError(
            401, "unauthorized", "send a valid API key as `Authorization: Bearer <key>`",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return caller


CallerDep = Annotated[Caller, Depends(authenticate)]


async def rate_limit(state: StateDep, caller: CallerDep) -> None:
    """429 with Retry-After when the caller is over QA_RATE_LIMIT_PER_MINUTE."""
    _limit(state, caller.identity)


def _limit(state: ApiState, identity: str, headers: dict[str, str] | None = None) -> None:
    """Count one request for `identity`: 429 with Retry-After (and any other headers given) when it is over
    QA_RATE_LIMIT_PER_MINUTE."""
    retry_after = state.limiter.retry_after(identity)
    if retry_after is not None:
        raise ApiError(
            429, "rate_limited",
            f"more than {state.settings.rate_limit_per_minute} requests a minute; retry in {retry_after} s",
            headers={"Retry-After": str(retry_after), **(headers or {})},
        )


async def require_writer(caller: CallerDep) -> Caller:
    """403 unless the caller may add and delete articles."""
    if not caller.may_write:
        raise ApiError(403, "forbidden", "this key may read but not write; use a key from QA_ADMIN_API_KEYS")
    return caller
