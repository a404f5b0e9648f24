"""The chat page in headless Chromium against a real `qa serve` (real model): ask, cite, highlight, follow up."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import GCC_QUESTION, REPO, SEED_ID

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
SCREENSHOT = REPO / "docs" / "chat-page.png"
FOLLOW_UP = "what did they agree on?"
XSS_ARTICLE = {
    "id": "zorvik-lanterns",
    "title": "<img src=x onerror=\"window.__xss='title'\"> Zorvik lantern festival",
    "text": "🎆🏮 Zorvik harbour news.\n\nOrganisers said <img src=x onerror=\"window.__xss = 'img'\"> that nine thousand "
    "paper lanterns were lit at dusk along the Zorvik harbour wall. <script>window.__xss = 'script'</script>",
    "date": "2026-03-09",
    "outlets": [
        {"source": "<img src=x onerror=\"window.__xss='outlet'\"> Wire", "url": "https://wire.example/zorvik"},
        {"source": "Harbour Herald"},
    ],
}
XSS_OUTLETS = "also published by: <img src=x onerror=\"window.__xss='outlet'\"> Wire, Harbour Herald"
XSS_QUESTION = "how many paper lanterns were lit along the Zorvik harbour wall?"


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Debian's Chromium driven by Playwright; the tests skip when either is missing."""
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing: apt-get install -y chromium chromium-driver")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install playwright)")
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Any, live_server: tuple[str, Path]) -> Iterator[Any]:
    """A fresh page on the chat page; any request that is not to the test server is aborted."""
    base_url, _ = live_server
    context = browser.new_context(viewport={"width": 1280, "height": 900}, base_url=base_url)
    context.route("**/*", lambda route: route.continue_() if route.request.url.startswith(base_url) else route.abort())
    opened = context.new_page()
    errors: list[str] = []
    opened.on("pageerror", lambda error: errors.append(str(error)))
    opened.goto("/")
    yield opened
    context.close()
    assert errors == []


def _ask(page: Any, question: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Type a question and press Enter; the request body sent and the answer received."""
    with page.expect_response("**/v1/ask") as response_info:
        page.fill("#question", question)
        page.press("#question", "Enter")
    response = response_info.value
    page.locator(".answer.pending").wait_for(state="detached")
    return json.loads(response.request.post_data), response.json()


def _open_citation(page: Any, turn: int, number: int) -> Any:
    """Click citation [number] in the answer of a turn; the highlighted span."""
    button = page.locator(".turn").nth(turn).locator(f".answer-text button.cite[data-n='{number}']").first
    assert button.text_content() == f"[{number}]"
    with page.expect_response("**/v1/articles/**"):
        button.click()
    mark = page.locator("#viewer-text mark")
    mark.wait_for(state="visible")
    return mark


def test_ask_cite_highlight_and_follow_up(page: Any, live_server: tuple[str, Path]) -> None:
    sent, answer = _ask(page, GCC_QUESTION)
    assert "conversation_id" not in sent
    assert not answer["abstained"]
    first = answer["citations"][0]
    assert first["n"] == 1 and first["article_id"] == SEED_ID
    assert any("Gulf Cooperation Council (GCC)" in citation["quote"] for citation in answer["citations"])
    shown = page.locator(".turn").nth(0).locator(".answer-text").text_content()
    assert "Gulf Cooperation Council" in shown and "[1]" in shown
    assert page.locator(".turn").nth(0).locator(".badge").count() == 0
    speakers = page.locator(".turn").nth(0).locator(".quote .speaker").all_text_contents()
    assert speakers and all(label.endswith(": ") for label in speakers)
    assert "Putin (Russia): " in speakers, speakers

    mark = _open_citation(page, 0, 1)
    assert mark.text_content() == first["quote"]
    article = httpx.get(f"{live_server[0]}/v1/articles/{SEED_ID}").json()
    assert page.locator("#viewer-text").text_content() == article["text"]
    assert page.locator("#viewer-title").text_content() == "[1] Telephonic Condolences to Iran"

    sent, follow_up = _ask(page, FOLLOW_UP)
    assert sent["conversation_id"] == answer["conversation_id"] == follow_up["conversation_id"]
    assert follow_up["resolved_question"] != FOLLOW_UP and not follow_up["abstained"]
    assert page.locator(".turn").count() == 2
    mark = _open_citation(page, 1, 1)
    assert mark.text_content() == follow_up["citations"][0]["quote"]
    page.screenshot(path=str(SCREENSHOT))

    page.click("#new-conversation")
    assert page.locator(".turn").count() == 0 and page.locator("#viewer").is_hidden()
    sent, _ = _ask(page, GCC_QUESTION)
    assert "conversation_id" not in sent


def test_the_period_a_question_names_is_shown(page: Any) -> None:
    _, answer = _ask(page, "what did Russia say about the GCC on March 6, 2026?")
    assert answer["time_window"]["label"] == "Searched articles from 6 March 2026"
    assert page.locator(".turn").nth(0).locator(".period").text_content() == "Searched articles from 6 March 2026"
    shown = page.locator(".turn").nth(0).locator(".answer-text").text_content()
    assert shown.startswith("No article from 6 March 2026 answers this; the closest found are from 7 March 2026.")


def test_abstention_is_shown_and_the_page_fits_a_phone(page: Any) -> None:
    page.set_viewport_size({"width": 390, "height": 844})
    _, answer = _ask(page, "Who won the 1998 World Cup final in football?")
    assert answer["abstained"] and answer["citations"] == []
    assert page.locator(".answer.abstained .badge").text_content() == "Not covered by the sources"
    assert page.evaluate("document.documentElement.scrollWidth") <= 390


def test_article_text_never_runs_as_code(page: Any, live_server: tuple[str, Path]) -> None:
    written = httpx.post(f"{live_server[0]}/v1/articles", json={"articles": [XSS_ARTICLE]})
    assert written.status_code == 200
    try:
        _, answer = _ask(page, XSS_QUESTION)
        first = answer["citations"][0]
        assert first["article_id"] == "zorvik-lanterns" and "<script>" in answer["answer"]
        mark = _open_citation(page, 0, 1)
        assert mark.text_content() == first["quote"]
        assert "<script>window.__xss = 'script'</script>" in page.locator("#viewer-text").text_content()
        assert page.locator("#viewer-title").text_content().startswith("[1] <img src=x")
        assert page.locator(".source-meta").first.text_content().endswith(XSS_OUTLETS)
        assert page.locator("#viewer-meta").text_content().endswith(XSS_OUTLETS)
        outlet_link = page.locator("#viewer-meta a[href='https://wire.example/zorvik']")
        assert outlet_link.text_content() == "<img src=x onerror=\"window.__xss='outlet'\"> Wire"
        assert page.locator("main img, main script").count() == 0
        page.wait_for_timeout(200)
        assert page.evaluate("typeof window.__xss") == "undefined"
    finally:
        httpx.delete(f"{live_server[0]}/v1/articles/zorvik-lanterns")
