"""Refuse request bodies over a size limit with 413 in the documented error shape."""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import error_response


class BodyLimitMiddleware:
    """413 up front for a declared Content-Length over the limit; otherwise stop reading once the limit is passed."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = Headers(scope=scope).get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_bytes:
            await self._too_large()(scope, receive, send)
            return
        received = 0

        async def receive_within_limit() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > self.max_bytes:
                raise HTTPException(413, self._message())
            return message

        await self.app(scope, receive_within_limit, send)

    def _message(self) -> str:
        """What the client should do."""
        return f"the request body is larger than {self.max_bytes} bytes (QA_MAX_BODY_BYTES); send less"

    def _too_large(self) -> ASGIApp:
        """The 413 response."""
        return error_response(413, "body_too_large", self._message())
