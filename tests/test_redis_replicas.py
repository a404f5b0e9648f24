"""Two `qa serve` replicas sharing conversations, rate limits and Slack de-duplication through a real redis-server on
127.0.0.1 (skipped, saying why, where Redis is not installed)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import httpx
import pytest

from api.app import create_app
from api.settings import ApiSettings
from index.embedder import HashingEmbedder
from qa.config import Settings
from qa.service import QAService
from tests.chat_support import BOT_USER_ID, fake_slack, mention, running_bot
from tests.conftest import GCC_QUESTION, SEEDS
from tests.redis_server import redis_server
from tests.web.servers import serve_in_thread

FOLLOW_UP = "and what did he say about diplomacy?"


@pytest.fixture(scope="module")
def redis_url() -> Iterator[str]:
    """One redis-server for this module's tests."""
    with redis_server() as url:
        yield url


@pytest.fixture(scope="module")
def seed_index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The seeds indexed once with the fake embedder."""
    folder = tmp_path_factory.mktemp("replicas") / "index"
    QAService(Settings(index_dir=folder, seeds_dir=SEEDS), embedder=HashingEmbedder()).ensure_index()
    return folder


def replica(seed_index: Path, tmp_path: Path, name: str, redis_url: str | None) -> QAService:
    """One replica's service: its own copy of the index (as on its own machine), Redis when given."""
    shutil.copytree(seed_index, tmp_path / name)
    settings = Settings(index_dir=tmp_path / name, seeds_dir=SEEDS, min_confidence=-1.0, redis_url=redis_url)
    return QAService(settings, embedder=HashingEmbedder())


def two_replicas(stack: ExitStack, seed_index: Path, tmp_path: Path, redis_url: str | None, **api: object) -> list[httpx.Client]:
    """Clients of two replicas served over HTTP on loopback."""
    clients = []
    for name in ("a", "b"):
        app = create_app(replica(seed_index, tmp_path, name, redis_url), ApiSettings(**{"rate_limit_per_minute": 0, **api}))
        base = stack.enter_context(serve_in_thread(app))
        clients.append(stack.enter_context(httpx.Client(base_url=base, timeout=30)))
    return clients


def ask(client: httpx.Client, question: str, conversation_id: str | None = None) -> dict[str, object]:
    """POST /v1/ask once the replica is ready."""
    body: dict[str, object] = {"question": question}
    if conversation_id:
        body["conversation_id"] = conversation_id
    response = client.post("/v1/ask", json=body)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def wait_ready(client: httpx.Client) -> None:
    """Poll /readyz."""
    import time

    deadline = time.monotonic() + 60
    while client.get("/readyz").status_code != 200:
        assert time.monotonic() < deadline
        time.sleep(0.05)


def test_a_follow_up_sent_to_the_other_replica_is_resolved(redis_url: str, seed_index: Path, tmp_path: Path) -> None:
    with ExitStack() as stack:
        first, second = two_replicas(stack, seed_index, tmp_path / "shared", redis_url)
        control_first, control_second = two_replicas(stack, seed_index, tmp_path / "alone", None)
        for client in (first, second, control_first, control_second):
            wait_ready(client)
        opened = ask(first, GCC_QUESTION)
        followed = ask(second, FOLLOW_UP, str(opened["conversation_id"]))
        alone = ask(control_second, FOLLOW_UP, str(ask(control_first, GCC_QUESTION)["conversation_id"]))
    assert followed["conversation_id"] == opened["conversation_id"]
    assert followed["resolved_question"] != FOLLOW_UP and "GCC" in str(followed["resolved_question"])
    assert alone["resolved_question"] == FOLLOW_UP  # without Redis the other replica has never seen the conversation


def test_the_rate_limit_holds_across_both_replicas(redis_url: str, seed_index: Path, tmp_path: Path) -> None:
    with ExitStack() as stack:
        first, second = two_replicas(stack, seed_index, tmp_path, redis_url, rate_limit_per_minute=3)
        for client in (first, second):
            wait_ready(client)
        statuses = [client.post("/v1/search", json={"question": GCC_QUESTION}).status_code for client in (first, second, first, second)]
        refused = second.post("/v1/search", json={"question": GCC_QUESTION})
    assert statuses == [200, 200, 200, 429] and refused.status_code == 429
    assert int(refused.headers["Retry-After"]) >= 1


def test_a_slack_retry_delivered_to_the_other_replica_is_not_answered_twice(
    redis_url: str, seed_index: Path, tmp_path: Path
) -> None:
    event = mention(f"<@{BOT_USER_ID}> {GCC_QUESTION}", "1772900000.000200")
    with fake_slack() as slack:
        first_service = replica(seed_index, tmp_path, "a", redis_url)
        second_service = replica(seed_index, tmp_path, "b", redis_url)
        with running_bot(first_service, shared_slack=slack) as first, running_bot(second_service, shared_slack=slack) as second:
            assert first.event(event, "Ev-replicas").status_code == 200
            retry = second.event(event, "Ev-replicas", extra={"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"})
            slack.wait_for("/api/chat.postMessage")
            first.settle()
            second.settle()
        posts = slack.requests("/api/chat.postMessage")
    assert retry.status_code == 200 and len(posts) == 1


def test_conversations_in_redis_keep_their_turns_and_periods_and_expire(redis_url: str) -> None:
    import time
    from datetime import date

    import redis

    from qa.chat import Turn
    from qa.redis_conversations import RedisConversationStore
    from qa.types import TimeWindow

    own_database = redis_url.rsplit("/", 1)[0] + "/1"  # the replica tests use database 0
    client = redis.Redis.from_url(own_database)
    client.flushdb()
    store, other = RedisConversationStore(client, ttl_seconds=1), RedisConversationStore(redis.Redis.from_url(own_database), 1)
    assert store.get_or_create(None).turns == [] and len(store) == 0  # nothing stored before a first turn
    first, second = store.get_or_create("both"), other.get_or_create("both")
    store.record(first, Turn("q1", "q1", "a1"))
    other.record(second, Turn("q2", "q2", "a2"))  # two replicas answering the same conversation at once
    assert [turn.question for turn in store.get_or_create("both").turns] == ["q1", "q2"]
    conversation = store.get_or_create("c-1")
    window = TimeWindow(date(2022, 5, 12), None, "since May 12, 2022")
    store.record(conversation, Turn("q", "q resolved", "an answer", window, "Putin"))
    assert other.get_or_create("c-1").turns == [Turn("q", "q resolved", "an answer", window, "Putin")]
    for number in range(12):
        store.record(conversation, Turn(f"q{number}", f"q{number}", "a"))
    assert len(other.get_or_create("c-1").turns) == 10 and len(store) >= 1
    time.sleep(2.1)
    assert other.get_or_create("c-1").turns == []  # idle past the ttl: forgotten
    store.forget("c-1")
    assert client.get("qa:conversation:c-1") is None


def test_an_unreachable_redis_is_a_503_that_names_qa_redis_url(seed_index: Path, tmp_path: Path) -> None:
    from bench.serving import free_port

    with ExitStack() as stack:
        unreachable = f"redis://127.0.0.1:{free_port()}/0"
        (limited, _) = two_replicas(stack, seed_index, tmp_path / "limited", unreachable, rate_limit_per_minute=5)
        (unlimited, _) = two_replicas(stack, seed_index, tmp_path / "unlimited", unreachable)
        wait_ready(limited)
        wait_ready(unlimited)
        refused = limited.post("/v1/search", json={"question": GCC_QUESTION})  # the rate limit needs Redis
        asked = unlimited.post("/v1/ask", json={"question": GCC_QUESTION, "conversation_id": "c-1"})  # the conversation does
    for response, store in ((refused, "rate-limit"), (asked, "conversation")):
        assert response.status_code == 503, response.text
        assert "QA_REDIS_URL" in response.json()["error"]["message"] and store in response.json()["error"]["message"]
