"""Property-based tests of the loaders and the chunker: hostile files never crash loading, chunks are always exact."""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter

from api.schemas import ArticleId
from index.articles import load_paths, make_article
from index.chunking import ChunkingPolicy, chunk_article
from index.embedder import HashingEmbedder
from index.text import is_heading, paragraphs, sentences
from qa.types import Article, Chunk

COUNT = HashingEmbedder().count_tokens
GOOD = " date 2026-01-02 A Good Article\n\nThis one always loads. It has two sentences.\n"
_IDS = TypeAdapter(ArticleId)
_SUFFIXES = [".txt", ".md", ".html", ".htm", ".jsonl"]
_AWKWARD = [
    "\ufeff", "\r\n", "\r", "\n", "\n\n", "\x00", "\t", "\u2028", "\x85", " ", ". ", "? ", "Mr. ", "U.S. ", "!\"",
    " date 2026-01-02 Title\n", " date 2026-13-45 Bad date\n", "# Heading\n", "<div>", "</div>", "<p>", "<script>",
    "</script>", "<title>", "<h1>", "<!--", "-->", "&amp;", "<![CDATA[", "é", "漢字", "🙂", "\u200b",
]
_text = st.lists(st.one_of(st.text(max_size=12), st.sampled_from(_AWKWARD)), max_size=40).map("".join)
_invalid_utf8 = st.sampled_from([b"\xff", b"\xc3", b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"\x80\x80", b"\xfe\xff"])
_utf8 = _text.map(lambda text: text.encode("utf-8"))
_with_bom = _text.map(lambda text: b"\xef\xbb\xbf" + text.encode("utf-8"))
_broken = st.tuples(_utf8, _invalid_utf8, _utf8).map(b"".join)
_json_values = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), _text,
    st.sampled_from(["../../etc/passwd", "/etc/passwd", "\x00", "a" * 5000, "\ud800", "2026-01-02", "x/../../y"]),
)
_records = st.dictionaries(st.sampled_from(["id", "title", "text", "date", "url", "extra"]), _json_values, max_size=6)
_jsonl_lines = st.one_of(_records.map(json.dumps), _text, st.sampled_from(["[" * 100_000, '{"id": ' + "9" * 5000 + "}"]))
_jsonl = st.lists(_jsonl_lines, max_size=6).map(lambda lines: "\n".join(lines).encode("utf-8", "surrogatepass"))
_contents = st.one_of(_utf8, _with_bom, _broken, st.binary(max_size=300), _jsonl, st.just(b""))
_property = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _check_article(article: Article) -> None:
    """What every loaded article guarantees: a slug id, normalised text that encodes, something to index."""
    assert _IDS.validate_python(article.id) == article.id
    assert article.text.strip()
    assert not {"\r", "\x00"} & set(article.text)
    for value in (article.id, article.title, article.text, article.source, article.url or ""):
        value.encode("utf-8")


def _sentences(text: str) -> list[tuple[int, int]]:
    """The sentences a chunker must cover: those of non-heading paragraphs (all of them when every one is a heading)."""
    spans = [s for p in paragraphs(text) if not is_heading(p) for s in sentences(text, p.start, p.end)]
    return [(s.start, s.end) for s in (spans or list(sentences(text, 0, len(text))))]


def _check_chunks(article: Article, chunks: list[Chunk], policy: ChunkingPolicy) -> None:
    """Exact offsets, within the token limit, in order, and every sentence covered."""
    assert [chunk.ordinal for chunk in chunks] == list(range(len(chunks)))
    for chunk in chunks:
        assert article.text[chunk.start : chunk.end] == chunk.text and chunk.text.strip()
    assert max(COUNT([chunk.text for chunk in chunks]), default=0) <= policy.max_tokens
    for previous, current in zip(chunks, chunks[1:]):
        assert previous.start < current.start and previous.end <= current.end
    covered = bytearray(len(article.text))
    for chunk in chunks:
        covered[chunk.start : chunk.end] = b"\x01" * (chunk.end - chunk.start)
    for start, end in _sentences(article.text):
        missing = [i for i in range(start, end) if not covered[i] and not article.text[i].isspace()]
        assert not missing, (article.text[start:end], missing[:5])


@_property
@given(suffix=st.sampled_from(_SUFFIXES), content=_contents, policy_tokens=st.integers(8, 64))
@example(suffix=".jsonl", content=b"[" * 100_000, policy_tokens=8)
@example(suffix=".jsonl", content=b'{"id": ' + b"9" * 5000 + b', "text": "x"}', policy_tokens=8)
@example(suffix=".jsonl", content=b'{"id": "s", "title": "\\udfff", "text": "Lone \\ud800 surrogate."}', policy_tokens=8)
@example(suffix=".html", content=b"<div>" * 5000 + b"Deep.", policy_tokens=8)
@example(suffix=".txt", content=b"\xef\xbb\xbf\r\n\x00\r\r", policy_tokens=8)
def test_loading_reports_bad_files_and_loads_the_rest(suffix: str, content: bytes, policy_tokens: int) -> None:
    with tempfile.TemporaryDirectory() as directory:
        folder = Path(directory)
        (folder / f"hostile{suffix}").write_bytes(content)
        (folder / "good.txt").write_text(GOOD, encoding="utf-8")
        result = load_paths([folder])
    assert "good" in {article.id for article in result.articles}
    assert all("hostile" in error for error in result.errors), result.errors
    policy = ChunkingPolicy(max_tokens=policy_tokens, overlap_sentences=1)
    for article in result.articles:
        _check_article(article)
        _check_chunks(article, chunk_article(article, COUNT, policy), policy)


_words = st.sampled_from(["the", "Minister", "said", "GCC", "U.S.", "Mr.", "Dr.", "a", "1", "2026", "—", "«quoted»", "é"])
_breaks = st.sampled_from([" ", " ", " ", ". ", "! ", "? ", ".\" ", ", ", "\n", "\n\n", "\n \n", "\t", ": "])
_long_word = st.integers(1, 400).map(lambda n: "x" * n) | st.integers(1, 200).map(lambda n: "x," * n)
_prose = st.lists(st.one_of(_words, _breaks, _long_word, st.text(max_size=6)), min_size=1, max_size=120).map("".join)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=_prose | st.text(min_size=1), max_tokens=st.integers(8, 48), overlap=st.integers(0, 3))
@example(text="word " * 300 + "x" * 3000 + " end", max_tokens=8, overlap=1)
def test_chunks_are_exact_within_the_limit_in_order_and_cover_every_sentence(text: str, max_tokens: int, overlap: int) -> None:
    article = make_article("p", "P", text, "p.txt", None)
    policy = ChunkingPolicy(max_tokens=max_tokens, overlap_sentences=overlap)
    _check_chunks(article, chunk_article(article, COUNT, policy), policy)


def test_a_50_mb_line_is_chunked_exactly_in_seconds() -> None:
    """One 50 MB line with no sentence end and no newline: linear splitting, every chunk exact and within the limit."""
    words = "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi omicron pi rho sigma tau "
    text = (words * (50_000_000 // len(words) + 1))[:50_000_000].strip()
    article = Article(id="line", title="Line", text=text, source="line.txt")
    policy = ChunkingPolicy()
    started = time.perf_counter()
    chunks = chunk_article(article, COUNT, policy)
    seconds = time.perf_counter() - started
    assert seconds < 30, f"chunking 50 MB took {seconds:.1f} s"
    assert chunks[0].start == 0 and chunks[-1].end == len(text)
    assert max(COUNT([chunk.text for chunk in chunks])) <= policy.max_tokens
    assert sum(len(chunk.text) for chunk in chunks) >= len(text) * 0.98
    for previous, current in zip(chunks, chunks[1:]):
        assert current.start <= previous.end + 1 and previous.end <= current.end
        assert text[current.start : current.end] == current.text


def test_deeply_nested_html_loads_in_linear_time(tmp_path: Path) -> None:
    """5,000 and 30,000 nested <div>s (closed and unclosed): no RecursionError, no quadratic walk."""
    for depth, closing in ((5_000, True), (30_000, False)):
        page = tmp_path / f"deep-{depth}.html"
        page.write_text("<div>" * depth + "Deep text." + ("</div>" * depth if closing else ""), encoding="utf-8")
        started = time.perf_counter()
        result = load_paths([page])
        assert time.perf_counter() - started < 10, depth
        assert result.errors == [] and [article.text for article in result.articles] == ["Deep text."]


def test_a_byte_order_mark_is_not_text(tmp_path: Path) -> None:
    bodies = {".txt": "Plain words here.", ".md": "# Title\n\nSome words.", ".html": "<p>Some words.</p>",
              ".jsonl": json.dumps({"id": "j", "title": "J", "text": "Some words."})}
    for suffix, body in bodies.items():
        (tmp_path / f"bom-{suffix[1:]}{suffix}").write_bytes(b"\xef\xbb\xbf" + body.encode("utf-8"))
    result = load_paths([tmp_path])
    assert result.errors == [] and len(result.articles) == 4
    assert not any(a.text.startswith("\ufeff") or a.title.startswith("\ufeff") for a in result.articles)


def test_html_text_has_block_breaks_and_no_invisible_text(tmp_path: Path) -> None:
    page = tmp_path / "page.html"
    page.write_text(
        "<html><head><title>T</title><style>p{}</style></head><body><h1>Head</h1><p>One <b>bold</b> line.</p>"
        "<script>var secret = 1;</script><!-- a comment --><div>Two<br>Three</div><template>hidden</template></body>",
        encoding="utf-8",
    )
    [article] = load_paths([page]).articles
    assert article.title == "T"
    assert article.text == "Head\n\nOne bold line.\n\nTwo\n\nThree"
