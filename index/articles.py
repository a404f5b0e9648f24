"""Load articles from seed-format text, Markdown, HTML and JSONL files."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path

from bs4 import BeautifulSoup, CData, NavigableString, PageElement, Tag

from qa.errors import ArticleError
from qa.types import Article, Outlet

SUPPORTED_SUFFIXES = frozenset({".txt", ".md", ".markdown", ".html", ".htm", ".jsonl"})
_SEED_HEADER = re.compile(r"^\s*date\s+(\d{4}-\d{2}-\d{2})\s+(.+?)\s*$")
_ID_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_ID_MAX_CHARS = 200  # the longest id POST /v1/articles accepts (api.schemas.ArticleId)
_SURROGATE = re.compile("[\ud800-\udfff]")
_INVISIBLE_TAGS = ("script", "style", "noscript", "template", "head", "svg", "iframe", "object")
_BLOCK_TAGS = (
    "p", "div", "section", "article", "header", "footer", "main", "aside", "nav", "li", "ul", "ol",
    "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "pre", "table", "tr", "td", "th", "figure",
    "figcaption", "dd", "dt", "dl", "hr", "br",
)


@dataclass
class LoadResult:
    """Articles that loaded, one message per file or line that did not, and one per file skipped on purpose."""

    articles: list[Article] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


def load_paths(paths: Iterable[Path]) -> LoadResult:
    """Load every supported file under the given files and folders; collect errors instead of stopping."""
    result = LoadResult()
    seen: dict[str, str] = {}
    for root in paths:
        if not root.exists():
            result.errors.append(f"{root}: no such file or folder")
            continue
        inside = root.resolve()
        for path, article_id in files_with_ids(root):
            if not path.resolve().is_relative_to(inside):  # a link (or under one) to a file outside the folder
                result.skipped.append(
                    f"{path}: skipped, a link to {path.resolve()} outside {root}; pass that file or folder to index it"
                )
                continue
            try:
                loaded = list(load_file(path, article_id, display_source(root, path)))
            except ArticleError as error:
                result.errors.append(str(error))
                continue
            for item in loaded:
                if isinstance(item, str):
                    result.errors.append(item)
                elif item.id in seen:
                    result.errors.append(f"{item.source}: article id {item.id!r} is already used by {seen[item.id]}")
                else:
                    seen[item.id] = item.source
                    result.articles.append(item)
    return result


def display_source(root: Path, path: Path) -> str:
    """A file's source as shown in citations: relative to the indexed folder's name, the same from any directory."""
    if root.is_file():
        return path.name
    return (Path(root.resolve().name) / path.relative_to(root)).as_posix()


def load_file(path: Path, article_id: str | None = None, source: str | None = None) -> Iterator[Article | str]:
    """Load one file: articles, or error messages for JSONL lines that could not be parsed."""
    shown = source or str(path)
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise ArticleError(f"{path}: unsupported file type {suffix!r}; use one of {sorted(SUPPORTED_SUFFIXES)}")
    if suffix == ".jsonl":
        yield from _load_jsonl(path, shown)
        return
    raw = _read_text(path)
    identifier = article_id or _slug(path.stem)
    if suffix in (".html", ".htm"):
        yield parse_html(raw, identifier, shown)
    else:
        yield parse_text(raw, identifier, shown, markdown=suffix != ".txt")


def parse_text(raw: str, article_id: str, source: str, markdown: bool = False) -> Article:
    """Parse the seed format (` date YYYY-MM-DD title` first line) or plain text / Markdown."""
    text = normalise(raw)
    first_line, _, rest = text.partition("\n")
    header = _SEED_HEADER.match(first_line)
    published: date | None = None
    if header:
        published = _parse_date(header.group(1), source)
        title, text = header.group(2), rest.strip()
    else:
        title = _title_from_first_line(first_line, markdown) or Path(source).stem
    if not text.strip():
        raise ArticleError(f"{source}: the article has no text")
    return make_article(article_id, title, text, source, published)


def parse_html(raw: str, article_id: str, source: str) -> Article:
    """Parse HTML: visible text only, the title from <title> or the first <h1>."""
    soup = BeautifulSoup(normalise(raw), "html.parser")
    title_tag = soup.find("title") or soup.find("h1")
    title = " ".join(title_tag.get_text(" ").split()) if title_tag else ""
    lines = (" ".join(line.split()) for line in _visible_text(soup).split("\n"))
    text = re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()
    if not text:
        raise ArticleError(f"{source}: the HTML page has no visible text")
    return make_article(article_id, title or Path(source).stem, text, source, None)


def _visible_text(soup: BeautifulSoup) -> str:
    """The document's text outside invisible tags, blank lines around block tags: one pass, no recursion."""
    parts: list[str] = []
    stack: list[PageElement | None] = [soup]
    while stack:
        node = stack.pop()
        if node is None:
            parts.append("\n\n")
        elif isinstance(node, Tag):
            if node.name in _INVISIBLE_TAGS:
                continue
            if node.name in _BLOCK_TAGS:
                parts.append("\n\n")
                stack.append(None)
            stack.extend(reversed(node.contents))
        elif type(node) in (NavigableString, CData):
            parts.append(str(node))
    return "".join(parts)


def make_article(
    article_id: str,
    title: str,
    text: str,
    source: str,
    published: date | None,
    url: str | None = None,
    outlets: Sequence[Outlet] = (),
) -> Article:
    """Build an article with its content hash; lone surrogates (JSON "\\ud800", odd file names) become U+FFFD."""
    title, text, source = _valid_unicode(title), _valid_unicode(text), _valid_unicode(source)
    article = Article(
        id=article_id, title=title.strip(), text=text, source=source, date=published, url=_valid_url(url),
        outlets=tuple(Outlet(_valid_unicode(outlet.source), _valid_url(outlet.url), outlet.date) for outlet in outlets),
    )
    return replace(article, content_hash=content_hash(article))


def _valid_unicode(value: str) -> str:
    """Text that encodes as UTF-8: each lone surrogate replaced by U+FFFD, one code point for one, so offsets hold."""
    return _SURROGATE.sub("\ufffd", value)


def _valid_url(url: str | None) -> str | None:
    """An optional url as valid Unicode."""
    return _valid_unicode(url) if url is not None else None


def content_hash(article: Article) -> str:
    """A hash of everything that is stored about an article; the outlets count only when there are some, so the
    hash of an article without them is what it was before articles had outlets."""
    fields: list[object] = [article.title, article.text, article.source, article.url, _iso(article.date)]
    if article.outlets:
        fields.append([[outlet.source, outlet.url, _iso(outlet.date)] for outlet in article.outlets])
    return hashlib.sha256(json.dumps(fields).encode()).hexdigest()


def _iso(day: date | None) -> str | None:
    """A date as YYYY-MM-DD, or None."""
    return day.isoformat() if day else None


def normalise(raw: str) -> str:
    """Drop a BOM and NUL bytes and use \\n line ends, so offsets are stable across platforms."""
    return raw.lstrip("\ufeff").replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "")


def _load_jsonl(path: Path, source: str) -> Iterator[Article | str]:
    """One article a line: id, title, text, optional date, url and outlets."""
    with path.open("rb") as handle:
        for number, line_bytes in enumerate(handle, start=1):
            if not line_bytes.strip():
                continue
            where = f"{path}:{number}"
            try:
                record = json.loads(line_bytes.decode("utf-8-sig" if number == 1 else "utf-8"))
                yield _article_from_record(record, where, source)
            except (ValueError, RecursionError) as error:  # bad UTF-8 or JSON, an over-long integer, deep nesting
                yield f"{where}: not a JSON object ({str(error)[:200]})"
            except ArticleError as error:
                yield str(error)


def _article_from_record(record: object, where: str, source: str) -> Article:
    """Validate one JSONL record."""
    if not isinstance(record, dict):
        raise ArticleError(f"{where}: expected a JSON object with id, title and text")
    article_id, text = record.get("id"), record.get("text")
    if not isinstance(article_id, str | int) or not str(article_id).strip():
        raise ArticleError(f"{where}: missing 'id'")
    if not isinstance(text, str) or not normalise(text).strip():
        raise ArticleError(f"{where}: missing or empty 'text'")
    title = record.get("title") or ""
    url = record.get("url") or None
    if not isinstance(title, str) or not (url is None or isinstance(url, str)):
        raise ArticleError(f"{where}: 'title' and 'url' must be strings")
    raw_date = record.get("date")
    published = _parse_date(raw_date, where) if raw_date else None
    outlets = _outlets_from_record(record.get("outlets"), where)
    return make_article(_slug(str(article_id)), title, normalise(text).strip(), source, published, url, outlets)


def _outlets_from_record(value: object, where: str) -> tuple[Outlet, ...]:
    """Validate a record's optional `outlets`: a list of {"source", optional "url", optional "date"} objects."""
    if value is None:
        return ()
    if not isinstance(value, list):
        raise ArticleError(f"{where}: 'outlets' must be a list of objects with 'source' and optional 'url' and 'date'")
    return tuple(_outlet_from_record(item, f"{where}: outlet {number}") for number, item in enumerate(value, start=1))


def _outlet_from_record(item: object, where: str) -> Outlet:
    """Validate one outlet of a record."""
    if not isinstance(item, dict):
        raise ArticleError(f"{where}: expected an object with 'source' and optional 'url' and 'date'")
    source, url, raw_date = item.get("source"), item.get("url") or None, item.get("date")
    if not isinstance(source, str) or not source.strip():
        raise ArticleError(f"{where}: missing 'source'")
    if not (url is None or isinstance(url, str)):
        raise ArticleError(f"{where}: 'url' must be a string")
    return Outlet(source.strip(), url, _parse_date(raw_date, where) if raw_date else None)


def files_with_ids(root: Path) -> Iterator[tuple[Path, str | None]]:
    """Supported files under root, each with an id derived from its path relative to root."""
    if root.is_file():
        yield root, None
        return
    for path in sorted(root.rglob("*")):
        if path.is_file() and path.suffix.lower() in SUPPORTED_SUFFIXES and not path.name.startswith("."):
            relative = path.relative_to(root).with_suffix("")
            yield path, _slug(relative.as_posix())


def _read_text(path: Path) -> str:
    """Read a file as UTF-8, with an error that names it."""
    try:
        return path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as error:
        raise ArticleError(f"{path}: not valid UTF-8 at byte {error.start}; re-save it as UTF-8") from error
    except OSError as error:
        raise ArticleError(f"{path}: cannot be read ({error.strerror})") from error


def _parse_date(value: object, where: str) -> date:
    """Parse an ISO date, with an error that names where it came from."""
    try:
        return date.fromisoformat(str(value)[:10])
    except ValueError as error:
        raise ArticleError(f"{where}: date {value!r} is not YYYY-MM-DD") from error


def _title_from_first_line(line: str, markdown: bool) -> str:
    """Use a short first line (a Markdown heading) as the title."""
    stripped = line.strip()
    if markdown and stripped.startswith("#"):
        return stripped.lstrip("#").strip()
    return stripped if 0 < len(stripped.split()) <= 15 else ""


def _slug(value: str) -> str:
    """A URL- and path-safe id of at most _ID_MAX_CHARS (longer ones end in a hash of the whole value)."""
    slug = _ID_UNSAFE.sub("-", value.replace("/", "--")).strip("-.") or "article"
    if len(slug) <= _ID_MAX_CHARS:
        return slug
    digest = hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()[:16]
    return f"{slug[: _ID_MAX_CHARS - len(digest) - 1].rstrip('-.')}-{digest}"
