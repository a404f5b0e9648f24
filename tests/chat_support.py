"""Test helpers for the chat bots: a local stand-in for Slack, a uvicorn server in a thread, signed requests."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode

import httpx
import uvicorn
from fastapi import FastAPI
from pydantic import SecretStr
from slack_sdk.signature import SignatureVerifier

from api.chat_settings import ChatSettings
from api.slack import slack_router
from qa.service import QAService

SIGNING_SECRET = "test-signing-secret-5f2b9c"
BOT_TOKEN = "xoxb-test-bot-token-81d3"
BOT_USER_ID = "UBOT"
BOT_ID = "BBOT"
TEAM_ID = "T1"
AUTH_TEST = {"ok": True, "team_id": TEAM_ID, "team": "test", "user_id": BOT_USER_ID, "bot_id": BOT_ID, "user": "qa"}


@dataclass(frozen=True)
class Received:
    """One request the fake Slack received."""

    path: str
    headers: dict[str, str]
    body: dict[str, Any]


@dataclass
class FakeSlack:
    """An HTTP server on 127.0.0.1 standing in for Slack's Web API and response_urls; it records every request."""

    received: list[Received] = field(default_factory=list)
    changed: threading.Condition = field(default_factory=threading.Condition)
    url: str = ""
    refuse_blocks: bool = False

    def record(self, request: Received) -> None:
        """Keep a request and wake whoever waits for it."""
        with self.changed:
            self.received.append(request)
            self.changed.notify_all()

    def requests(self, path: str) -> list[Received]:
        """The requests received so far whose path ends with path."""
        with self.changed:
            return [request for request in self.received if request.path.endswith(path)]

    def wait_for(self, path: str, count: int = 1, timeout: float = 30.0) -> list[Received]:
        """The requests to path once there are count of them; fails after timeout."""
        with self.changed:
            self.changed.wait_for(lambda: len(self.requests(path)) >= count, timeout)
        found = self.requests(path)
        assert len(found) >= count, f"expected {count} request(s) to {path}, got {[r.path for r in self.received]}"
        return found


@contextmanager
def fake_slack() -> Iterator[FakeSlack]:
    """A running FakeSlack; answers auth.test and chat.postMessage like Slack, and 'ok' to response_urls."""
    slack = FakeSlack()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
            slack.record(Received(self.path, dict(self.headers.items()), _parse(raw, self.headers.get("Content-Type"))))
            reply: Any = "ok"
            if self.path.endswith("/auth.test"):
                reply = AUTH_TEST
            elif self.path.endswith("/chat.postMessage") and slack.refuse_blocks and '"blocks"' in raw:
                reply = {"ok": False, "error": "invalid_blocks"}
            elif self.path.endswith("/chat.postMessage"):
                reply = {"ok": True, "channel": "C1", "ts": f"{time.time():.6f}"}
            payload = (json.dumps(reply) if isinstance(reply, dict) else reply).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json" if isinstance(reply, dict) else "text/plain")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet."""

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    slack.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield slack
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def _parse(raw: str, content_type: str | None) -> dict[str, Any]:
    """A JSON or form-encoded body as a dict."""
    if not raw:
        return {}
    if content_type and "json" in content_type:
        return json.loads(raw)  # type: ignore[no-any-return]
    return {key: values[0] for key, values in parse_qs(raw).items()}


@contextmanager
def serve(app: FastAPI) -> Iterator[str]:
    """Run app with uvicorn on a free 127.0.0.1 port in a thread; yields its base URL and stops it afterwards."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.01)
    assert server.started, "uvicorn did not start"
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


def signed_headers(body: str, secret: str = SIGNING_SECRET, timestamp: int | None = None) -> dict[str, str]:
    """Slack's v0 signature headers for body, computed with slack_sdk's own algorithm."""
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    signature = SignatureVerifier(secret).generate_signature(timestamp=stamp, body=body)
    return {"X-Slack-Request-Timestamp": stamp, "X-Slack-Signature": str(signature)}


def event_body(event: dict[str, Any], event_id: str) -> str:
    """An Events API envelope around event, as Slack sends it."""
    envelope = {
        "token": "unused-verification-token", "team_id": TEAM_ID, "api_app_id": "A1", "type": "event_callback",
        "event": event, "event_id": event_id, "event_time": int(time.time()),
        "authorizations": [{"team_id": TEAM_ID, "user_id": BOT_USER_ID, "is_bot": True}],
    }
    return json.dumps(envelope)


def command_body(text: str, response_url: str, channel: str = "C1", user: str = "U1") -> str:
    """A slash command's form-encoded body, as Slack sends it."""
    return urlencode({
        "token": "unused-verification-token", "team_id": TEAM_ID, "team_domain": "test", "channel_id": channel,
        "channel_name": "news", "user_id": user, "user_name": "ana", "command": "/ask", "text": text,
        "api_app_id": "A1", "response_url": response_url, "trigger_id": "1.2.3",
    })


@dataclass
class RunningBot:
    """Our Slack endpoints served over HTTP, the fake Slack they talk to, and the executor answering in background."""

    url: str
    slack: FakeSlack
    executor: ThreadPoolExecutor
    http: httpx.Client

    def post(
        self, path: str, body: str, headers: dict[str, str] | None = None, extra: dict[str, str] | None = None
    ) -> httpx.Response:
        """POST body to our endpoint, signed correctly unless headers are given; extra headers are added."""
        content_type = "application/json" if body.startswith("{") else "application/x-www-form-urlencoded"
        sent = {"Content-Type": content_type, **(signed_headers(body) if headers is None else headers), **(extra or {})}
        return self.http.post(f"{self.url}{path}", content=body.encode(), headers=sent)

    def event(self, event: dict[str, Any], event_id: str, extra: dict[str, str] | None = None) -> httpx.Response:
        """A correctly signed event delivery, with extra headers (such as Slack's retry headers)."""
        return self.post("/slack/events", event_body(event, event_id), extra=extra)

    def settle(self) -> None:
        """Wait until every answer started in the background has been posted."""
        self.executor.shutdown(wait=True)


@contextmanager
def running_bot(service: QAService, shared_slack: FakeSlack | None = None, **options: Any) -> Iterator[RunningBot]:
    """A FastAPI app with our Slack router on uvicorn, talking to a fresh fake Slack (or to one another bot uses)."""
    with ExitStack() as stack:
        slack = shared_slack or stack.enter_context(fake_slack())
        yield stack.enter_context(_bot(service, slack, **options))


@contextmanager
def _bot(service: QAService, slack: FakeSlack, **options: Any) -> Iterator[RunningBot]:
    """The Slack router served for this service, talking to this fake Slack."""
    with ThreadPoolExecutor(max_workers=4) as executor, httpx.Client(timeout=30) as http:
        settings = ChatSettings(
            slack_signing_secret=SecretStr(SIGNING_SECRET), slack_bot_token=SecretStr(BOT_TOKEN),
            slack_api_url=f"{slack.url}/api/", **options,
        )
        app = FastAPI()
        app.include_router(slack_router(service, settings, executor))
        with serve(app) as url:
            yield RunningBot(url, slack, executor, http)


def mention(text: str, ts: str, channel: str = "C1", thread_ts: str | None = None, user: str = "U1") -> dict[str, Any]:
    """An app_mention event."""
    event = {"type": "app_mention", "user": user, "text": text, "ts": ts, "channel": channel, "event_ts": ts}
    return {**event, "thread_ts": thread_ts} if thread_ts else event


def direct_message(text: str, ts: str, **fields: Any) -> dict[str, Any]:
    """A message.im event from a user (fields override or add, e.g. bot_id, subtype)."""
    event = {"type": "message", "channel_type": "im", "channel": "D1", "user": "U1", "text": text, "ts": ts}
    return {**event, **fields}


def sources(blocks: list[dict[str, Any]]) -> list[list[str]]:
    """The texts of each source's context block (those after the divider)."""
    kinds = [block["type"] for block in blocks]
    after = blocks[kinds.index("divider") + 1 :] if "divider" in kinds else []
    return [[element["text"] for element in block["elements"]] for block in after]


def section_texts(blocks: list[dict[str, Any]]) -> list[str]:
    """The texts of the section blocks."""
    return [block["text"]["text"] for block in blocks if block["type"] == "section"]

