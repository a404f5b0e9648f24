"""Generative mode against a small local server speaking the chat-completions protocol."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from pydantic import SecretStr

from index.embedder import HashingEmbedder
from qa.config import Settings
from qa.generate import parse_reply
from qa.service import QAService
from tests.conftest import SEED_ID


@dataclass
class FakeModel:
    """What the stand-in server replies, and what it was sent."""

    reply: str = ""
    status: int = 200
    delay: float = 0.0
    requests: list[dict[str, object]] = field(default_factory=list)


@pytest.fixture
def model_server() -> Iterator[tuple[FakeModel, str]]:
    """A chat-completions endpoint on 127.0.0.1, stopped after the test."""
    model = FakeModel()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's naming
            body = self.rfile.read(int(self.headers["Content-Length"]))
            model.requests.append({"path": self.path, "auth": self.headers.get("Authorization"), **json.loads(body)})
            time.sleep(model.delay)
            payload = json.dumps({"choices": [{"message": {"role": "assistant", "content": model.reply}}]}).encode()
            self.send_response(model.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args: object) -> None:
            """Keep test output quiet."""

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield model, f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()
    server.server_close()


@pytest.fixture
def generative_service(settings: Settings, model_server: tuple[FakeModel, str]) -> QAService:
    """A fake-embedder service whose answers come from the stand-in model."""
    _, url = model_server
    configured = settings.model_copy(update={"llm_url": url, "llm_timeout_seconds": 1.0, "llm_api_key": SecretStr("sk-test")})
    service = QAService(configured, embedder=HashingEmbedder())
    service.ensure_index()
    return service


def test_generated_sentences_cite_exact_supporting_sentences(
    generative_service: QAService, model_server: tuple[FakeModel, str]
) -> None:
    model, _ = model_server
    model.reply = "Russia said it kept constant contact with the Gulf Cooperation Council states [1]. It wants diplomacy [2]."
    answer = generative_service.ask("what did Russia say about the GCC?")
    assert answer.mode == "generative" and not answer.abstained
    assert answer.answer.startswith("Russia said it kept constant contact with the Gulf Cooperation Council states. [1]")
    text = generative_service.article(SEED_ID).text
    for citation in answer.citations:
        assert text[citation.start : citation.end] == citation.quote
    sent = model.requests[0]
    assert sent["path"] == "/v1/chat/completions" and sent["auth"] == "Bearer sk-test"
    assert "[1]" in sent["messages"][1]["content"]  # type: ignore[index]


def test_out_of_range_and_missing_citations_are_dropped(
    generative_service: QAService, model_server: tuple[FakeModel, str]
) -> None:
    model, _ = model_server
    model.reply = "Invented claim [9]. Unsupported claim. Zero is not a passage [0]. Moscow kept in touch with the GCC [1]."
    answer = generative_service.ask("what did Russia say about the GCC?")
    assert answer.mode == "generative"
    assert answer.answer == "Moscow kept in touch with the GCC. [1]"
    assert len(answer.citations) == 1


@pytest.mark.parametrize(("reply", "status", "delay"), [("", 500, 0.0), ("late [1].", 200, 2.0), ("no citations at all.", 200, 0.0)])
def test_failures_fall_back_to_the_extractive_answer(
    generative_service: QAService, model_server: tuple[FakeModel, str], reply: str, status: int, delay: float
) -> None:
    model, _ = model_server
    model.reply, model.status, model.delay = reply, status, delay
    answer = generative_service.ask("what did Russia say about the GCC?")
    assert answer.mode == "extractive" and not answer.abstained
    assert answer.citations


def test_not_found_reply_abstains(generative_service: QAService, model_server: tuple[FakeModel, str]) -> None:
    model, _ = model_server
    model.reply = "NOT_FOUND"
    answer = generative_service.ask("what did Russia say about the GCC?")
    assert answer.abstained and answer.citations == ()


def test_parse_reply_bounds_checks_one_based_numbers() -> None:
    parsed = parse_reply("A [1][3]. B [2]. C [4]. D.", passage_count=3)
    assert [(sentence.text, sentence.passages) for sentence in parsed] == [("A.", (1, 3)), ("B.", (2,))]
