// The chat page: asks POST /v1/ask, shows numbered citations, highlights a cited span in its article.
// Every piece of text from the server goes into the page as a text node (textContent), never as HTML.
"use strict";

const KEY_STORAGE = "qa-api-key";
const state = { conversationId: null, busy: false, activeCite: null };
const byId = (id) => document.getElementById(id);

function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined && text !== null) node.textContent = String(text);
  return node;
}

function setStatus(message, isError = false) {
  const status = byId("status");
  status.textContent = message;
  status.classList.toggle("error", isError);
}

async function callApi(path, options = {}) {
  const headers = { "content-type": "application/json" };
  const key = sessionStorage.getItem(KEY_STORAGE);
  if (key) headers.authorization = `Bearer ${key}`;
  const response = await fetch(path, { ...options, headers });
  const body = await response.json().catch(() => null);
  if (!response.ok) {
    const message = body && body.error ? body.error.message : `the server answered ${response.status}`;
    if (response.status === 401) byId("key-box").open = true;
    const failure = new Error(message);
    failure.status = response.status;
    throw failure;
  }
  return body;
}

function citationLabel(citation) {
  return `${citation.title || citation.article_id}${citation.date ? ` (${citation.date})` : ""}`;
}

function citeButton(citation) {
  const button = element("button", "cite", `[${citation.n}]`);
  button.type = "button";
  button.dataset.n = String(citation.n);
  button.setAttribute("aria-label", `Show source ${citation.n}: ${citationLabel(citation)}`);
  button.addEventListener("click", () => showCitation(citation, button));
  return button;
}

function answerParagraph(answer) {
  const paragraph = element("p", "answer-text");
  const byNumber = new Map(answer.citations.map((citation) => [citation.n, citation]));
  const parts = answer.answer.split(/\[(\d+)\]/);
  parts.forEach((part, index) => {
    const citation = index % 2 === 1 ? byNumber.get(Number(part)) : undefined;
    if (citation) paragraph.append(citeButton(citation));
    else paragraph.append(index % 2 === 1 ? `[${part}]` : part);
  });
  return paragraph;
}

function speakerLabel(speaker) {
  const known = speaker.affiliation && !speaker.name.toLowerCase().includes(speaker.affiliation.toLowerCase());
  return known ? `${speaker.name} (${speaker.affiliation})` : speaker.name;
}

function alsoPublished(outlets) {
  // "also published by: AP, BBC" for the other outlets that published the story; "" when there are none.
  return outlets && outlets.length ? `also published by: ${outlets.map((outlet) => outlet.source).join(", ")}` : "";
}

function outletNodes(outlets) {
  // The other outlets as text and links (only http(s) addresses become links), comma-separated.
  const nodes = [];
  (outlets || []).forEach((outlet, index) => {
    if (index) nodes.push(", ");
    const href = outlet.url && safeHttpUrl(outlet.url);
    nodes.push(href ? externalLink(outlet.source, href) : outlet.source);
  });
  return nodes;
}

function externalLink(text, href) {
  const link = element("a", "", text);
  link.href = href;
  link.rel = "noopener noreferrer";
  link.target = "_blank";
  return link;
}

function sourcesList(answer) {
  const list = element("ol", "sources");
  list.setAttribute("aria-label", "Sources");
  for (const citation of answer.citations) {
    const item = element("li");
    const button = element("button", "source-button");
    button.type = "button";
    button.dataset.n = String(citation.n);
    button.append(element("span", "source-title", `[${citation.n}] ${citation.title || citation.article_id}`));
    const where = citation.url || citation.source;
    const meta = [citation.date, where, alsoPublished(citation.outlets)];
    button.append(" ", element("span", "source-meta", meta.filter(Boolean).join(" · ")));
    button.addEventListener("click", () => showCitation(citation, button));
    const quote = element("blockquote", "quote", citation.quote);
    if (citation.speaker) quote.prepend(element("span", "speaker", `${speakerLabel(citation.speaker)}: `));
    item.append(button, quote);
    list.append(item);
  }
  return list;
}

function renderAnswer(answerNode, answer) {
  answerNode.className = answer.abstained ? "answer abstained" : "answer";
  answerNode.replaceChildren();
  if (answer.time_window) answerNode.append(element("p", "period", answer.time_window.label));
  if (answer.abstained) answerNode.append(element("span", "badge", "Not covered by the sources"));
  answerNode.append(answerParagraph(answer));
  if (answer.resolved_question && answer.resolved_question !== answer.question) {
    answerNode.append(element("p", "resolved", `Searched as: ${answer.resolved_question}`));
  }
  if (answer.citations.length) answerNode.append(sourcesList(answer));
}

function scrollToEnd() {
  const scroller = byId("log-scroll");
  scroller.scrollTop = scroller.scrollHeight;
}

function addTurn(question) {
  byId("empty-hint").hidden = true;
  const turn = element("li", "turn");
  const answerNode = element("div", "answer pending", "Looking through the articles…");
  turn.append(element("p", "question", question), answerNode);
  byId("log").append(turn);
  scrollToEnd();
  return answerNode;
}

async function ask(question) {
  if (state.busy) return;
  state.busy = true;
  byId("send").disabled = true;
  setStatus("");
  const answerNode = addTurn(question);
  const body = { question };
  if (state.conversationId) body.conversation_id = state.conversationId;
  try {
    const answer = await callApi("/v1/ask", { method: "POST", body: JSON.stringify(body) });
    state.conversationId = answer.conversation_id;
    renderAnswer(answerNode, answer);
    answerNode.parentElement.scrollIntoView({ block: "start" });
  } catch (failure) {
    answerNode.className = "answer failed";
    answerNode.textContent = `Could not answer: ${failure.message}`;
  } finally {
    state.busy = false;
    byId("send").disabled = false;
    byId("question").focus();
  }
}

function safeHttpUrl(url) {
  try {
    const parsed = new URL(url);
    return parsed.protocol === "http:" || parsed.protocol === "https:" ? parsed.href : null;
  } catch {
    return null;
  }
}

function articleMeta(article) {
  const meta = byId("viewer-meta");
  meta.replaceChildren(article.date ? `${article.date} · ` : "");
  const href = article.url && safeHttpUrl(article.url);
  meta.append(href ? externalLink(article.url, href) : article.source);
  if (article.outlets && article.outlets.length) meta.append(" · also published by: ", ...outletNodes(article.outlets));
}

function highlightedText(text, start, end) {
  // Offsets count code points (Python's str), so slice an array of code points, not UTF-16 units.
  const chars = Array.from(text);
  const mark = element("mark", "", chars.slice(start, end).join(""));
  mark.id = "highlight";
  const container = byId("viewer-text");
  container.replaceChildren(chars.slice(0, start).join(""), mark, chars.slice(end).join(""));
  return mark;
}

async function showCitation(citation, button) {
  if (state.activeCite) state.activeCite.classList.remove("active");
  state.activeCite = button;
  button.classList.add("active");
  try {
    const article = await callApi(`/v1/articles/${encodeURIComponent(citation.article_id)}`);
    byId("viewer-title").textContent = `[${citation.n}] ${article.title || article.id}`;
    articleMeta(article);
    const viewer = byId("viewer");
    viewer.hidden = false;
    const mark = highlightedText(article.text, citation.start, citation.end);
    mark.scrollIntoView({ block: "center" });
    byId("viewer-text").focus({ preventScroll: true });
  } catch (failure) {
    setStatus(`Could not open the article: ${failure.message}`, true);
  }
}

function closeViewer() {
  byId("viewer").hidden = true;
  if (state.activeCite) {
    state.activeCite.classList.remove("active");
    state.activeCite.focus();
    state.activeCite = null;
  }
}

function newConversation() {
  state.conversationId = null;
  byId("log").replaceChildren();
  byId("empty-hint").hidden = false;
  closeViewer();
  setStatus("New conversation started.");
  byId("question").focus();
}

function setUp() {
  const form = byId("ask-form");
  const input = byId("question");
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const question = input.value.trim();
    if (!question || state.busy) return;
    input.value = "";
    ask(question);
  });
  input.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      form.requestSubmit();
    }
  });
  byId("new-conversation").addEventListener("click", newConversation);
  byId("viewer-close").addEventListener("click", closeViewer);
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && !byId("viewer").hidden) closeViewer();
  });
  const keyInput = byId("api-key");
  keyInput.value = sessionStorage.getItem(KEY_STORAGE) || "";
  keyInput.addEventListener("change", () => {
    if (keyInput.value) sessionStorage.setItem(KEY_STORAGE, keyInput.value.trim());
    else sessionStorage.removeItem(KEY_STORAGE);
  });
  input.focus();
}

document.addEventListener("DOMContentLoaded", setUp);
