"""Markdown files with front matter → `Article`s; bad files are skipped and reported."""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from .errors import ArticleError, ArticlesDirError
from .text import clean, find_urls

log = logging.getLogger(__name__)

FRONT_MATTER_RE = re.compile(r"\A---[ \t]*\r?\n(.*?)\r?\n---[ \t]*(?:\r?\n|\Z)", re.S)
HEADING_RE = re.compile(r"^(#{1,6})[ \t]+(.+?)[ \t#]*$")
FENCE_RE = re.compile(r"^\s*(```|~~~)")
ALLOWED_KEYS = {"title", "url", "published", "outlet", "tags", "author", "lang"}


@dataclass(frozen=True)
class Section:
    """One heading's body; `heading` is the path of headings ("" before the first one)."""

    heading: str
    text: str
    links: tuple[str, ...]


@dataclass(frozen=True)
class Article:
    """A parsed article file."""

    file: str
    title: str
    url: str | None
    published: str | None
    outlet: str | None
    sections: tuple[Section, ...]
    digest: str

    @property
    def links(self) -> tuple[str, ...]:
        """Every link cited anywhere in the article, in order."""
        seen: dict[str, None] = {}
        for s in self.sections:
            seen.update(dict.fromkeys(s.links))
        return tuple(seen)


@dataclass(frozen=True)
class Skipped:
    """An article file left out of the index, and why."""

    file: str
    reason: str


def article_files(root: Path) -> list[Path]:
    """The Markdown files under root, sorted, that stay inside root (symlinks included)."""
    if not root.is_dir():
        raise ArticlesDirError(f"articles folder not found: {root}")
    # Hidden files and folders (editor swap files, .git) are not articles.
    files = (p for p in root.rglob("*.md") if p.is_file() or p.is_symlink())
    return sorted(p for p in files if not any(x.startswith(".") for x in p.relative_to(root).parts))


def load_articles(root: Path, max_bytes: int = 5_000_000) -> tuple[list[Article], list[Skipped]]:
    """Load every article under root; a file that cannot be used is skipped with its reason."""
    root = Path(root)
    articles, skipped = [], []
    for path in article_files(root):
        rel = path.relative_to(root).as_posix()
        try:
            articles.append(load_article(path, root, max_bytes))
        except ArticleError as e:
            log.warning("Skipping %s: %s", rel, e)
            skipped.append(Skipped(rel, str(e)))
    return articles, skipped


def load_article(path: Path, root: Path, max_bytes: int = 5_000_000) -> Article:
    """Parse one file; raises ArticleError with a reason a person can act on."""
    rel = path.relative_to(root).as_posix()
    real = path.resolve()
    if not real.is_relative_to(root.resolve()):
        raise ArticleError("link points outside the articles folder")
    try:
        if not real.is_file():
            raise ArticleError("not a regular file")
        size = real.stat().st_size
        if size > max_bytes:
            raise ArticleError(f"too large ({size / 1e6:.1f} MB; limit {max_bytes / 1e6:.1f} MB)")
        raw = real.read_bytes()
    except OSError as e:
        raise ArticleError(f"cannot read file ({e.strerror})") from None
    if b"\x00" in raw:
        raise ArticleError("binary file, not Markdown text")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise ArticleError(f"not valid UTF-8 (byte {e.start}); save the file as UTF-8") from None
    meta, body = _front_matter(text)
    title = _str_field(meta, "title", required=True)
    url = _str_field(meta, "url")
    if url is not None and not find_urls(url):
        raise ArticleError(f"front matter 'url' is not an http(s) link: {url!r}")
    sections = tuple(_sections(body))
    if not any(s.text for s in sections):
        raise ArticleError("no text after the front matter")
    return Article(
        file=rel,
        title=title,
        url=url,
        published=_published(meta),
        outlet=_outlet(meta),
        sections=sections,
        digest=hashlib.sha256(raw).hexdigest(),
    )


def _front_matter(text: str) -> tuple[dict, str]:
    m = FRONT_MATTER_RE.match(text)
    if not m:
        raise ArticleError("no front matter (the file must start with '---', 'title: ...', '---')")
    try:
        meta = yaml.safe_load(m.group(1))
    except yaml.YAMLError as e:
        where = getattr(e, "problem_mark", None)
        line = f" at line {where.line + 2}" if where else ""
        raise ArticleError(f"front matter is not valid YAML{line}") from None
    if not isinstance(meta, dict):
        raise ArticleError("front matter must be 'key: value' lines")
    unknown = sorted(str(k) for k in meta if k not in ALLOWED_KEYS)
    if unknown:
        log.info("Ignoring unknown front matter keys %s", unknown)
    return meta, text[m.end() :]


def _str_field(meta: dict, key: str, required: bool = False) -> str | None:
    value = meta.get(key)
    if value is None or value == "":
        if required:
            raise ArticleError(f"front matter has no '{key}'")
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        raise ArticleError(f"front matter '{key}' must be text, not {type(value).__name__}")
    return clean(value).strip()


def _published(meta: dict) -> str | None:
    value = meta.get("published")
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value.strip()[:10].replace("/", "-")).isoformat()
        except ValueError:
            pass
    raise ArticleError(f"front matter 'published' must be a date like 2025-03-19, not {value!r}")


def _outlet(meta: dict) -> str | None:
    value = meta.get("outlet")
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return "、".join(v.strip() for v in value if v.strip()) or None
    if value is not None and not isinstance(value, str):
        raise ArticleError("front matter 'outlet' must be text or a list of text")
    return _str_field(meta, "outlet")


def _sections(body: str):
    """Yield sections split at headings; '#' alone is a title, '##' and deeper form the path."""
    path: list[tuple[int, str]] = []
    lines: list[str] = []
    in_fence = False

    def flush():
        raw = "\n".join(lines)
        return Section(" > ".join(h for _, h in path), _plain(raw), tuple(find_urls(raw)))

    for line in body.splitlines():
        if FENCE_RE.match(line):
            in_fence = not in_fence
        m = None if in_fence else HEADING_RE.match(line)
        if not m:
            lines.append(line)
            continue
        yield flush()
        level, heading = len(m.group(1)), _plain(m.group(2)).strip()
        path = [(lv, h) for lv, h in path if lv < level]
        if level > 1:  # a level-1 heading repeats the title; sections start at '##'
            path.append((level, heading))
        lines = []
    yield flush()


_MD_LINK = re.compile(r"!?\[([^\]]*)\]\((?:[^()\s]|\([^()\s]*\))+(?:\s+\"[^\"]*\")?\)")
_AUTOLINK = re.compile(r"<(https?://[^>\s]+)>")
_BULLET = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s+", re.M)
_HTML_COMMENT = re.compile(r"<!--.*?-->", re.S)


def _plain(markdown: str) -> str:
    """Markdown → the text a reader sees: links keep their words, bullets lose their marks."""
    text = _HTML_COMMENT.sub("", clean(markdown))
    text = _MD_LINK.sub(lambda m: m.group(1), text)
    text = _AUTOLINK.sub(lambda m: m.group(1), text)
    text = _BULLET.sub("", text)
    text = re.sub(r"\n{3,}", "\n\n", text)
    return text.strip()
