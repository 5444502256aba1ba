"""Markdown files with front matter → `Article`s; bad files are skipped and reported."""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path

from ..errors import ArticleError, ArticlesDirError, Skip
from ..types import Skipped
from . import frontmatter
from .text import clean, find_urls

log = logging.getLogger(__name__)

# Trailing " #" marks are stripped in code: a lazy group before them backtracks
# quadratically on a long line of spaces and hashes.
HEADING_RE = re.compile(r"^(#{1,6})[ \t]+(\S.*)$")
FENCE_RE = re.compile(r"^\s*(```|~~~)")
ALLOWED_KEYS = {"title", "url", "published", "outlet", "tags", "author", "lang"}
ALLOWED_KEYS |= {"modified", "fetched"}  # written by `newsbot add` (index/ingest/articles.py)
# Article files, any case (.md, .MD, .markdown); plain text is reported, not guessed at.
SUFFIXES = (".md", ".markdown")
TEXT_SUFFIXES = (".txt", ".text")


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


def article_files(root: Path) -> list[Path]:
    """The Markdown files under root, sorted (links to files included, see load_articles)."""
    return _scan(Path(root))[0]


def _scan(root: Path) -> tuple[list[Path], list[Skipped]]:
    """Markdown files under root, and the folders that are not walked (links, unreadable)."""
    if not root.is_dir():
        raise ArticlesDirError(f"articles folder not found: {root}")
    files: list[Path] = []
    skipped: list[Skipped] = []

    def unreadable(e: OSError) -> None:
        rel = Path(e.filename).relative_to(root).as_posix() if e.filename else "."
        skipped.append(
            Skipped(rel + "/", f"cannot read folder ({e.strerror})", Skip.UNREADABLE_FOLDER)
        )

    # os.walk does not follow links to folders: a linked folder could lead anywhere on the
    # disk (or loop), so it is reported instead. Hidden files and folders (.git, editor swap
    # files) are not articles.
    for here, dirs, names in os.walk(root, onerror=unreadable):
        folder = Path(here)
        for d in [d for d in dirs if not d.startswith(".") and (folder / d).is_symlink()]:
            skipped.append(
                Skipped(
                    (folder / d).relative_to(root).as_posix() + "/", *_link_reason(folder / d, root)
                )
            )
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and not (folder / d).is_symlink())
        for n in sorted(n for n in names if not n.startswith(".")):
            suffix = Path(n).suffix.lower()
            if suffix in SUFFIXES:
                files.append(folder / n)
            elif suffix in TEXT_SUFFIXES:
                rel = (folder / n).relative_to(root).as_posix()
                skipped.append(
                    Skipped(rel, "plain text, not Markdown; rename it to .md", Skip.PLAIN_TEXT)
                )
    return sorted(files), skipped


def _link_reason(link: Path, root: Path) -> tuple[str, Skip]:
    try:
        inside = link.resolve().is_relative_to(root.resolve())
    except (OSError, RuntimeError):  # a loop of links
        inside = False
    if not inside:
        return "link points outside the articles folder", Skip.LINK_OUTSIDE
    return (
        "link to a folder (not followed; its articles are indexed under their own path)",
        Skip.LINK_TO_FOLDER,
    )


def load_articles(root: Path, max_bytes: int = 5_000_000) -> tuple[list[Article], list[Skipped]]:
    """Load every article under root; a file that cannot be used is skipped with its reason."""
    root = Path(root)
    files, skipped = _scan(root)
    articles = []
    # Per file at INFO: the build's report lists them, and a bot answering questions over a
    # messy folder must not repeat every one of them (the build logs one warning).
    for folder in skipped:
        log.info("Skipping %s: %s", folder.file, folder.reason)
    twins = _twins(files, root)
    for path in files:
        rel = path.relative_to(root).as_posix()
        try:
            if path in twins:
                raise ArticleError(
                    f"link to {twins[path]}, which is indexed under its own name",
                    code=Skip.LINK_TWIN,
                )
            articles.append(load_article(path, root, max_bytes))
        except ArticleError as e:
            log.info("Skipping %s: %s", rel, e)
            skipped.append(Skipped(rel, str(e), e.code, e.field))
        except Exception as e:  # a bug must cost one article, never the whole build
            log.exception("Skipping %s: unexpected error", rel)
            skipped.append(Skipped(rel, f"cannot be parsed ({type(e).__name__})", Skip.UNPARSABLE))
    return articles, skipped


def _twins(files: list[Path], root: Path) -> dict[Path, str]:
    """Links to a file that is indexed already (itself, or through an earlier link) → its name."""
    # Indexing both would put the same passages twice in every top 5.
    owner: dict[Path, str] = {}
    twins: dict[Path, str] = {}
    inside = root.resolve()
    for path in sorted(files, key=lambda p: (p.is_symlink(), p)):  # real files claim first
        try:
            real = path.resolve(strict=True)
        except (OSError, RuntimeError):  # broken or looping: load_article says which
            continue
        if not real.is_relative_to(inside):  # refused by load_article, never read
            continue
        if real in owner:
            twins[path] = owner[real]
        else:
            owner[real] = path.relative_to(root).as_posix()
    return twins


def load_article(path: Path, root: Path, max_bytes: int = 5_000_000) -> Article:
    """Parse one file; raises ArticleError with a reason a person can act on."""
    rel = path.relative_to(root).as_posix()
    try:
        real = path.resolve()
    except (OSError, RuntimeError):  # RuntimeError: a loop of links
        raise ArticleError("broken link (it loops)", code=Skip.BROKEN_LINK) from None
    # Checked before anything is opened: a link must never make the bot read outside root.
    if not real.is_relative_to(root.resolve()):
        raise ArticleError("link points outside the articles folder", code=Skip.LINK_OUTSIDE)
    try:
        if not real.exists():
            raise ArticleError("broken link (its target does not exist)", code=Skip.BROKEN_LINK)
        if not real.is_file():
            raise ArticleError("not a regular file", code=Skip.NOT_REGULAR)
        size = real.stat().st_size
        if size <= max_bytes:
            # Read no more than the limit: the file may grow between stat and read.
            with open(real, "rb") as f:
                raw = f.read(max_bytes + 1)
            size = max(size, len(raw))
        if size > max_bytes:
            raise ArticleError(
                f"too large ({size / 1e6:.1f} MB; limit {max_bytes / 1e6:.1f} MB)",
                code=Skip.TOO_LARGE,
            )
    except OSError as e:
        raise ArticleError(f"cannot read file ({e.strerror})", code=Skip.UNREADABLE_FILE) from None
    return parse_article(rel, raw)


def parse_article(rel: str, raw: bytes) -> Article:
    """Parse one article's bytes (a file's, or a database row's); raises ArticleError."""
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise ArticleError("UTF-16 text; save the file as UTF-8", code=Skip.NOT_UTF8)
    if b"\x00" in raw:
        raise ArticleError("binary file, not Markdown text", code=Skip.BINARY)
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise ArticleError(
            f"not valid UTF-8 (byte {e.start}); save the file as UTF-8", code=Skip.NOT_UTF8
        ) from None
    meta, body = _front_matter(text)
    title = _str_field(meta, "title", required=True)
    url = _str_field(meta, "url")
    if url is not None and not find_urls(url):
        raise ArticleError(
            f"front matter 'url' is not an http(s) link: {_show(url)}",
            code=Skip.BAD_FIELD,
            field="url",
        )
    sections = tuple(_sections(body))
    if not any(s.text for s in sections):
        raise ArticleError("no text after the front matter", code=Skip.NO_BODY)
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
    meta, body = frontmatter.split(text)
    unknown = sorted(str(k) for k in meta if k not in ALLOWED_KEYS)
    if unknown:
        log.info("Ignoring unknown front matter keys %s", unknown)
    return meta, body


def _str_field(meta: dict, key: str, required: bool = False) -> str | None:
    value = meta.get(key)
    if value is None or value == "":
        if required:
            raise ArticleError(f"front matter has no '{key}'", code=Skip.MISSING_FIELD, field=key)
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        raise ArticleError(
            f"front matter '{key}' must be text, not {type(value).__name__}",
            code=Skip.BAD_FIELD,
            field=key,
        )
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
    raise ArticleError(
        f"front matter 'published' must be a date like 2025-03-19, not {_show(value)}",
        code=Skip.BAD_FIELD,
        field="published",
    )


def _heading_text(text: str) -> str:
    """A heading without its optional closing hashes ("## 見出し ##" → "見出し")."""
    text = text.rstrip(" \t")
    bare = text.rstrip("#")
    if bare != text and (not bare or bare[-1] in " \t"):
        text = bare.rstrip(" \t")
    return text


def _show(value) -> str:
    """A value for an error message: short, and never the repr of a (possibly huge) structure."""
    if isinstance(value, (str, int, float)):
        text = repr(value)
        return text if len(text) <= 60 else text[:57] + "..."
    return f"a {type(value).__name__}"


def _outlet(meta: dict) -> str | None:
    value = meta.get("outlet")
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return "、".join(v.strip() for v in value if v.strip()) or None
    if value is not None and not isinstance(value, str):
        raise ArticleError(
            "front matter 'outlet' must be text or a list of text",
            code=Skip.BAD_FIELD,
            field="outlet",
        )
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
        level, heading = len(m.group(1)), _plain(_heading_text(m.group(2))).strip()
        path = [(lv, h) for lv, h in path if lv < level]
        if level > 1:  # a level-1 heading repeats the title; sections start at '##'
            path.append((level, heading))
        lines = []
    yield flush()


# Link text stops at "[" as well as "]": otherwise a long run of "[" backtracks quadratically.
_MD_LINK = re.compile(r"!?\[([^\[\]]*)\]\((?:[^()\s]|\([^()\s]*\))+(?:\s+\"[^\"]*\")?\)")
_AUTOLINK = re.compile(r"<(https?://[^<>\s]+)>")
# Spaces and tabs only: with \s the pattern spans newlines and is quadratic on blank lines.
_BULLET = re.compile(r"^[ \t]*(?:[-*+]|\d+[.)])[ \t]+", re.M)


# Page furniture copied along with an article: dates and "read more / source" lines say nothing
# of the story (their links still become the section's sources), and list marks and emoji at
# the start of a line are decoration.
_FURNITURE = re.compile(
    r"^[ \t]*(?:(?:公開日|更新日|配信日|最終更新)[ \t]*[:：]"
    # A source or photo credit is furniture when it is a link or a short label, not a note.
    r"|(?:出典|画像元|写真)[ \t]*[:：](?=.*https?://|.{0,30}$)"
    r"|さらに読む|続きを読む|関連記事[ \t]*[:：⇒>]).*$",
    re.M,
)
_MARKS = re.compile(r"^[ \t]*(?:[・●○■□◆◇▶►▸☆★※→⇒✓✔✅☑💡📌📝🔍👉]\ufe0f?[ \t]*)+", re.M)
# Bump when the text of passages or its sentences change for the same file: the index is then
# rebuilt (4: a sentence no longer ends inside a quotation, text.sentence_spans; 5: a line
# without kana or kanji is split by sentencex, which knows "Sen." and "p.m.").
TEXT_VERSION = 5


def _plain(markdown: str) -> str:
    """Markdown → the text a reader sees: links keep their words, bullets lose their marks."""
    text = _strip_comments(clean(markdown))
    text = _MD_LINK.sub(lambda m: m.group(1), text)
    text = _AUTOLINK.sub(lambda m: m.group(1), text)
    text = _BULLET.sub("", text)
    text = _FURNITURE.sub("", text)
    text = _MARKS.sub("", text)
    text = re.sub(r"\n{3,}", "\n\n", text)
    return text.strip()


def _strip_comments(text: str) -> str:
    """Drop <!-- ... --> comments; an unclosed one is kept as text (linear, unlike a regex)."""
    out, pos = [], 0
    while (start := text.find("<!--", pos)) >= 0:
        end = text.find("-->", start + 4)
        if end < 0:
            break
        out.append(text[pos:start])
        pos = end + 3
    out.append(text[pos:])
    return "".join(out)
