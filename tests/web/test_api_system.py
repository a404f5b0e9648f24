"""Health, readiness, metrics, the OpenAPI document and the chat page's static files."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor

import anyio
import httpx
import numpy as np
import pytest

from api.answer_slots import AnswerSlots
from api.app import create_app, startup_summary
from api.errors import ApiError
from api.page import STATIC_DIR
from api.settings import ApiSettings
from index.embedder import HashingEmbedder
from qa.config import Settings
from qa.errors import QAError
from qa.service import QAService
from tests.web.conftest import OpenClient


class GatedEmbedder(HashingEmbedder):
    """The fake embedder, held back until the test opens the gate (or failing, when told to)."""

    def __init__(self, fail: bool = False) -> None:
        super().__init__()
        self.gate = threading.Event()
        self.fail = fail

    def embed(self, texts: Sequence[str], show_progress: bool = False) -> np.ndarray:
        """Wait for the gate, then embed or fail."""
        assert self.gate.wait(30)
        if self.fail:
            raise QAError("the model could not be loaded")
        return super().embed(texts, show_progress)


def _metric(text: str, name: str, **labels: str) -> float:
    """One sample's value from the Prometheus text format."""
    wanted = ",".join(f'{key}="{value}"' for key, value in sorted(labels.items()))
    for line in text.splitlines():
        sample, _, value = line.rpartition(" ")
        if sample.startswith(name) and re.fullmatch(rf"{name}(\{{{re.escape(wanted)}\}})?", _sorted_labels(sample)):
            return float(value)
    raise AssertionError(f"no sample {name}{labels} in:\n{text}")


def _sorted_labels(sample: str) -> str:
    """A sample name with its labels in a stable order."""
    name, _, labels = sample.partition("{")
    if not labels:
        return name
    return name + "{" + ",".join(sorted(labels.rstrip("}").split(","))) + "}"


def test_readyz_is_503_until_the_model_and_index_are_loaded(open_client: OpenClient, settings: Settings) -> None:
    embedder = GatedEmbedder()
    client = open_client(QAService(settings, embedder=embedder), wait=False)
    assert client.get("/healthz").json() == {"status": "ok"}
    not_ready = client.get("/readyz")
    assert not_ready.status_code == 503 and not_ready.json()["error"]["code"] == "not_ready"
    ask = client.post("/v1/ask", json={"question": "GCC"})
    assert ask.status_code == 503 and ask.json()["error"]["code"] == "not_ready"
    embedder.gate.set()
    ready = _poll(client, lambda response: response.status_code == 200)
    assert ready.json()["status"] == "ready" and ready.json()["articles"] == 1 and ready.json()["chunks"] > 0
    assert client.post("/v1/ask", json={"question": "GCC"}).status_code == 200


def test_readyz_says_why_loading_failed(open_client: OpenClient, settings: Settings) -> None:
    embedder = GatedEmbedder(fail=True)
    embedder.gate.set()
    client = open_client(QAService(settings, embedder=embedder), wait=False)
    response = _poll(client, lambda response: "failed" in response.text)
    assert response.status_code == 503
    assert "the model could not be loaded" in response.json()["error"]["message"]
    assert "loading failed" in client.post("/v1/search", json={"question": "GCC"}).json()["error"]["message"]


def _poll(client: httpx.Client, done: Callable[[httpx.Response], bool]) -> httpx.Response:
    """GET /readyz until the response is what the test waits for."""
    for _ in range(300):
        response = client.get("/readyz")
        if done(response):
            return response
        time.sleep(0.05)
    raise AssertionError(response.text)


def test_metrics_count_requests_by_route_template_and_status(open_client: OpenClient) -> None:
    client = open_client()
    client.post("/v1/ask", json={"question": "GCC"})
    client.post("/v1/ask", json={"question": ""})
    client.get("/v1/articles/missing-one")
    client.get("/v1/articles/missing-two")
    text = client.get("/metrics").text
    assert _metric(text, "qa_http_requests_total", method="POST", route="/v1/ask", status="200") == 1
    assert _metric(text, "qa_http_requests_total", method="POST", route="/v1/ask", status="422") == 1
    assert _metric(text, "qa_http_requests_total", method="GET", route="/v1/articles/{article_id}", status="404") == 2
    assert _metric(text, "qa_http_request_duration_seconds_count", method="POST", route="/v1/ask") == 2
    assert "missing-one" not in text
    ready = client.get("/readyz").json()
    assert _metric(text, "qa_index_chunks") == ready["chunks"]
    assert _metric(text, "qa_index_articles") == ready["articles"] == 1
    assert _metric(text, "qa_index_segments") == 1 and _metric(text, "qa_index_tombstones") == 0
    assert _metric(text, "qa_index_writes_total") == 0
    other = open_client().get("/metrics").text
    assert 'route="/v1/ask"' not in other


def test_metrics_count_question_vectors_from_the_cache_and_the_model(client: httpx.Client) -> None:
    for question in ("GCC", "GCC", "  GCC ", "Iran"):
        assert client.post("/v1/ask", json={"question": question}).status_code == 200
    text = client.get("/metrics").text
    assert _metric(text, "qa_query_cache_hits_total") == 2 and _metric(text, "qa_query_cache_misses_total") == 2
    assert _metric(text, "qa_query_model_calls_total") == _metric(text, "qa_query_embedded_total") == 2


def test_openapi_documents_one_error_shape(client: httpx.Client) -> None:
    schema = client.get("/openapi.json").json()
    assert set(schema["components"]["schemas"]["ErrorOut"]["properties"]) == {"error"}
    assert "HTTPValidationError" not in schema["components"]["schemas"]
    operations = [(path, method, operation) for path, item in schema["paths"].items() for method, operation in item.items()]
    assert {path for path, *_ in operations} >= {
        "/v1/ask", "/v1/ask/stream", "/v1/search", "/v1/articles", "/v1/articles/{article_id}", "/healthz", "/readyz", "/metrics",
    }
    for path, method, operation in operations:
        errors = {status: response for status, response in operation["responses"].items() if status[0] in "45"}
        assert "500" in errors, (method, path)
        if path.startswith("/v1"):
            assert {"401", "422", "429", "503"} <= set(errors) and (method != "post" or "413" in errors)
        for response in errors.values():
            assert response["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/ErrorOut"}
    assert "text/event-stream" in schema["paths"]["/v1/ask/stream"]["post"]["responses"]["200"]["content"]
    assert schema["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"


def test_startup_summary_names_what_is_on(fake_service: QAService) -> None:
    quiet = create_app(fake_service, ApiSettings())
    lines = "\n".join(startup_summary(quiet.state.api))
    assert "auth: off" in lines and "cors: off" in lines and "generative answers: off" in lines
    loud_settings = ApiSettings.model_validate({"api_keys": "k1,k2", "admin_api_keys": "k3", "cors_origins": "https://a.example"})
    loud = create_app(fake_service, loud_settings)
    lines = "\n".join(startup_summary(loud.state.api))
    assert "auth: on (2 keys, 1 admin keys; writes: admin keys only)" in lines and "https://a.example" in lines
    assert "k1" not in lines and "k3" not in lines


def test_chat_page_and_its_files(client: httpx.Client) -> None:
    page = client.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "script-src 'self'" in page.headers["content-security-policy"]
    for asset in re.findall(r'(?:src|href)="(/static/[^"]+)"', page.text):
        assert client.get(asset).status_code == 200, asset
    assert {"/static/app.js", "/static/app.css"} <= set(re.findall(r'"(/static/[^"]+)"', page.text))


@pytest.mark.parametrize("sink", ["innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function"])
def test_page_script_never_parses_server_text_as_html(sink: str) -> None:
    assert sink not in (STATIC_DIR / "app.js").read_text(encoding="utf-8")


class CountingEmbedder(GatedEmbedder):
    """The gated fake embedder, gate open at first, counting how many calls run at once."""

    def __init__(self) -> None:
        super().__init__()
        self.gate.set()
        self._lock = threading.Lock()
        self.running = 0
        self.most_at_once = 0

    def embed(self, texts: Sequence[str], show_progress: bool = False) -> np.ndarray:
        """Count this call in, wait at the gate and embed, count it out."""
        with self._lock:
            self.running += 1
            self.most_at_once = max(self.most_at_once, self.running)
        try:
            return super().embed(texts, show_progress)
        finally:
            with self._lock:
                self.running -= 1


@pytest.mark.parametrize("transport", ["http"])
def test_questions_beyond_the_answer_slots_wait_their_turn_and_a_full_queue_is_503(
    open_client: OpenClient, settings: Settings
) -> None:
    embedder = CountingEmbedder()
    client = open_client(QAService(settings, embedder=embedder), concurrent_answers=1, answer_queue_limit=3)
    embedder.gate.clear()
    with ThreadPoolExecutor(4) as pool:
        answers = [pool.submit(client.post, "/v1/ask", json={"question": f"What did Russia say? {n}"}) for n in range(4)]
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            text = client.get("/metrics").text
            if _metric(text, "qa_answers_waiting") == 3:
                break
            time.sleep(0.05)
        assert _metric(text, "qa_answers_in_progress") == 1
        assert _metric(text, "qa_answers_waiting") == 3
        refused = client.post("/v1/search", json={"question": "one more"})
        assert refused.status_code == 503 and refused.headers["retry-after"] == "1"
        assert refused.json()["error"]["code"] == "busy"
        embedder.gate.set()
        statuses = [answer.result(timeout=30).status_code for answer in answers]
    assert statuses == [200] * 4
    assert embedder.most_at_once == 1
    assert _metric(client.get("/metrics").text, "qa_answers_waiting") == 0


def test_a_question_whose_client_left_gives_up_its_turn() -> None:
    ran: list[str] = []

    async def scenario() -> list[int]:
        slots = AnswerSlots(1, 10)

        async def gone() -> bool:
            return True

        async def present() -> bool:
            return False

        statuses = []
        for client_gone in (gone, present):
            try:
                await slots.run(lambda: ran.append(client_gone.__name__), client_gone)
                statuses.append(200)
            except ApiError as error:
                statuses.append(error.status)
        return statuses

    assert anyio.run(scenario) == [503, 200]
    assert ran == ["present"]
