"""Every error as one JSON shape, `{"error": {"code", "message", "detail"}}`; library errors mapped to HTTP here."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.schemas import ErrorBody, ErrorOut
from qa.errors import (
    ArticleError,
    ArticleNotFoundError,
    IndexCorruptError,
    IndexMismatchError,
    IndexNotFoundError,
    InvalidQuestionError,
    QAError,
    VectorStoreError,
)

logger = logging.getLogger("qa.api")

LIBRARY_ERRORS: tuple[tuple[type[QAError], int, str], ...] = (
    (InvalidQuestionError, 422, "invalid_question"),
    (ArticleError, 422, "invalid_article"),
    (ArticleNotFoundError, 404, "article_not_found"),
    (IndexNotFoundError, 503, "index_unavailable"),
    (IndexCorruptError, 503, "index_unavailable"),
    (IndexMismatchError, 503, "index_unavailable"),
    (VectorStoreError, 503, "vector_store_unavailable"),
    (QAError, 503, "service_unavailable"),
)

_DESCRIPTIONS = {
    401: "No or unknown bearer key (only when QA_API_KEYS or QA_ADMIN_API_KEYS is set).",
    403: "The key may read but not write (QA_ADMIN_API_KEYS is set and this key is not among them).",
    404: "No article with that id.",
    413: "The request body is larger than QA_MAX_BODY_BYTES.",
    422: "The body is malformed or invalid, or the question is empty or too long; `detail` has pydantic's errors.",
    429: "Too many requests; retry after the Retry-After header's seconds.",
    500: "An unexpected server error; the server log has the traceback.",
    503: "The model and index are still loading, or the index cannot be read.",
}
_CODES = {413: "body_too_large"}


class ApiError(Exception):
    """An error the API reports as is: status, code, message, optional detail and headers."""

    def __init__(
        self, status: int, code: str, message: str, detail: Any = None, headers: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.detail = detail
        self.headers = dict(headers or {})


def error_response(
    status: int, code: str, message: str, detail: Any = None, headers: Mapping[str, str] | None = None
) -> JSONResponse:
    """The documented error body with a status."""
    body = ErrorOut(error=ErrorBody(code=code, message=message, detail=jsonable_encoder(detail)))
    return _ErrorJSONResponse(body.model_dump(mode="json"), status_code=status, headers=dict(headers or {}))


class _ErrorJSONResponse(JSONResponse):
    """Starlette's JSON rendering, except that a lone surrogate echoed from the request (a 422's input) becomes `?`."""

    def render(self, content: Any) -> bytes:
        text = json.dumps(content, ensure_ascii=False, allow_nan=False, indent=None, separators=(",", ":"))
        return text.encode("utf-8", "replace")


def documented(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses=` entries that document the error shape for these statuses."""
    return {status: {"model": ErrorOut, "description": _DESCRIPTIONS[status]} for status in statuses}


def library_error_status(error: QAError) -> tuple[int, str]:
    """The HTTP status and code of a library error (its most specific match)."""
    return next((status, code) for kind, status, code in LIBRARY_ERRORS if isinstance(error, kind))


async def _api_error(_: Request, error: Exception) -> JSONResponse:
    """An ApiError as it says."""
    assert isinstance(error, ApiError)
    return error_response(error.status, error.code, error.message, error.detail, error.headers)


async def _library_error(_: Request, error: Exception) -> JSONResponse:
    """A qa.errors error, with its message for the user."""
    assert isinstance(error, QAError)
    status, code = library_error_status(error)
    return error_response(status, code, str(error))


async def _validation_error(_: Request, error: Exception) -> JSONResponse:
    """422 with pydantic's error list as the detail and the first problem in the message."""
    assert isinstance(error, RequestValidationError)
    return error_response(422, "invalid_request", invalid_message(error.errors()), error.errors())


def invalid_message(errors: Sequence[Any]) -> str:
    """'the request is not valid: question: String should have at least 1 character (1 problem; see detail)'."""
    if not errors:
        return "the request is not valid; see detail"
    first = errors[0]
    where = ".".join(str(part) for part in first.get("loc", ()) if part != "body")
    said = f"{where}: {first.get('msg', 'invalid')}" if where else str(first.get("msg", "invalid"))
    count = f"{len(errors)} problems" if len(errors) > 1 else "1 problem"
    return f"the request is not valid: {said} ({count}; see detail)"


async def _http_error(_: Request, error: Exception) -> JSONResponse:
    """Starlette's own HTTP errors (unknown route, wrong method, body too large) in the documented shape."""
    assert isinstance(error, HTTPException)
    if error.status_code == 400:  # FastAPI's "error parsing the body": bytes that are not UTF-8, so not JSON either
        detail = [{"type": "json_invalid", "loc": ["body"], "msg": "the body is not UTF-8 JSON"}]
        return error_response(422, "invalid_request", invalid_message(detail), detail)
    phrase = HTTPStatus(error.status_code).phrase
    code = _CODES.get(error.status_code) or phrase.lower().replace(" ", "_").replace("-", "_")
    message = error.detail if isinstance(error.detail, str) else phrase
    return error_response(error.status_code, code, message, headers=error.headers)


async def _unexpected_error(request: Request, error: Exception) -> JSONResponse:
    """Anything else: logged with its traceback, a 500 in the documented shape without internals."""
    return _internal_error(request.method, request.url.path, error)


def _internal_error(method: str, path: str, error: Exception) -> JSONResponse:
    """Log an unexpected error with its traceback; the documented 500, without internals."""
    logger.error("unexpected error on %s %s", method, path, exc_info=error)
    return error_response(500, "internal_error", "unexpected server error; the server log has the details")


class UnexpectedErrorMiddleware:
    """Answer an unexpected exception with the documented 500 and keep the connection open.

    Starlette's outermost handler answers too, but then re-raises, and uvicorn closes the keep-alive connection, so
    a client that already sent its next request on it gets a reset. Errors after the response started still go up.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def send_and_note_start(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, send_and_note_start)
        except Exception as error:
            if started:
                raise
            await _internal_error(scope["method"], scope["path"], error)(scope, receive, send)


def install_error_handlers(app: FastAPI) -> None:
    """Route every error through the documented shape."""
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(QAError, _library_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected_error)  # errors raised outside UnexpectedErrorMiddleware
    app.add_middleware(UnexpectedErrorMiddleware)
