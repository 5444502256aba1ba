"""Fetched pages → article files in the articles folder or the database: never duplicated."""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import hashlib
import logging
import os
import re
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from enum import StrEnum
from pathlib import Path
from typing import Protocol
from urllib.parse import urlsplit

from ..corpus import frontmatter
from ..corpus.files import write_atomic
from ..corpus.identity import body_digest as _digest
from ..corpus.identity import text_identity
from ..corpus.loader import article_files
from .extract import Extracted, extract
from .fetch import FetchLimits, Response, fetch
from .urls import stored

log = logging.getLogger(__name__)

# Feed polls and /add may write at the same time; one writer at a time keeps dedupe honest.
# Within a process this lock; across processes (two `newsbot feeds`) a file lock on the folder.
_WRITING = threading.Lock()
# Front matter url and body digest of each article file, by path, size and modification time:
# a feed poll adds many pages, and rereading every file for each one is quadratic.
SEEN: dict[Path, tuple[int, int, str | None, str | None]] = {}
SEEN_MAX = 100_000  # files remembered, the oldest forgotten first (a few MB)
_JUNK_SEGMENTS = {"index", "amp", "article", "articles", "news", "html", "www", "default"}


class Shelf(Protocol):
    """A shared store's articles (storage/postgres/articles.py), written instead of a folder."""

    def catalogue(self) -> tuple[dict[str, str], dict[str, str]]: ...

    def exists(self, path: str) -> bool: ...

    def put(self, path: str, markdown: str) -> None: ...


def destination(options, store=None) -> Path | Shelf:
    """Where new articles go: the store's articles (the folder, or the database's shared ones)."""
    from ..storage.factory import open_store

    return (store or open_store(options, options.index_dir)).articles


class AddStatus(StrEnum):
    """What happened to one URL's article (with Added.dry_run: what would happen)."""

    ADDED = "added"
    UPDATED = "updated"
    UNCHANGED = "unchanged"  # the same text is there under its url (or a 304)
    DUPLICATE = "duplicate"  # the same text is there under another url


@dataclass(frozen=True)
class Added:
    """What happened to one URL: a status, the file, and what was extracted."""

    url: str
    status: AddStatus
    file: str | None  # relative to the articles folder
    article: Extracted | None = None
    content: str | None = None  # the file's text (written, or what a dry run would write)
    etag: str | None = None
    last_modified: str | None = None
    dry_run: bool = False  # nothing was written: status says what would have been

    @property
    def changed(self) -> bool:
        return not self.dry_run and self.status in (AddStatus.ADDED, AddStatus.UPDATED)


def add_url(
    url: str,
    articles_dir: Path | Shelf,
    limits: FetchLimits,
    dry_run: bool = False,
    etag: str | None = None,
    last_modified: str | None = None,
    now: dt.datetime | None = None,
) -> Added:
    """Fetch url and write its article; raises FetchError or PageError with a reason."""
    page = fetch_page(url, limits, etag, last_modified)
    if isinstance(page, Added):
        return page
    return write_page(page, articles_dir, dry_run=dry_run, now=now, requested=url)


def fetch_page(
    url: str, limits: FetchLimits, etag: str | None = None, last_modified: str | None = None
) -> Added | tuple[Response, Extracted]:
    """The fetched page and its article (what a poll does a few at a time), or "unchanged"."""
    response = fetch(url, limits, etag=etag, last_modified=last_modified)
    if response.not_modified:
        etag = response.etag
        return Added(stored(url), AddStatus.UNCHANGED, None, etag=etag, last_modified=last_modified)
    return response, extract(response.text(), response.url)


def write_page(
    page: tuple[Response, Extracted],
    articles_dir: Path | Shelf,
    dry_run: bool = False,
    now: dt.datetime | None = None,
    requested: str | None = None,
) -> Added:
    """Write a fetched page's article (or say what would be written); its URL kept clean."""
    response, article = page
    # Stored and shown without a user name, password or utm_* tracking (the page's own
    # canonical link may carry them too).
    article = replace(article, url=stored(article.url))
    return write(
        article,
        articles_dir,
        dry_run=dry_run,
        now=now,
        url=stored(requested or response.url),
        etag=response.etag,
        last_modified=response.last_modified,
    )


def write(
    article: Extracted,
    articles_dir: Path | Shelf,
    dry_run: bool = False,
    now: dt.datetime | None = None,
    url: str | None = None,
    etag: str | None = None,
    last_modified: str | None = None,
) -> Added:
    """Write an extracted article, or update its file, unless the same text is already there."""
    now = now or dt.datetime.now(dt.UTC)
    url = url or article.url
    body = article.body
    # A folder (Path), or a shared store's articles (storage/postgres/articles.py); a folder is
    # held by its file lock (writing), the database's articles by this process's lock only.
    shelf = None if isinstance(articles_dir, (str, Path)) else articles_dir
    with _WRITING if shelf is not None else writing(Path(articles_dir), dry_run):
        by_url, by_text = shelf.catalogue() if shelf is not None else catalogue(Path(articles_dir))
        same_url = by_url.get(article.url)
        same_text = by_text.get(_digest(body))
        if same_text and same_text != same_url:
            return Added(url, AddStatus.DUPLICATE, same_text, article, None, etag, last_modified)
        if same_url and same_text == same_url:
            return Added(url, AddStatus.UNCHANGED, same_url, article, None, etag, last_modified)
        folder = None if shelf is not None else Path(articles_dir)
        exists = shelf.exists if shelf is not None else (lambda name: (folder / name).exists())
        name = same_url or _new_name(article, exists, now)
        content = render(article, now)
        status = AddStatus.UPDATED if same_url else AddStatus.ADDED
        if dry_run:
            return Added(url, status, name, article, content, etag, last_modified, dry_run=True)
        if shelf is not None:
            shelf.put(name, content)
        else:
            write_atomic(Path(articles_dir) / name, content)
            SEEN.pop(Path(articles_dir) / name, None)  # a rewrite can keep size and (coarse) mtime
    log.info("%s %s (%s)", status.capitalize(), name, article.url)
    return Added(url, status, name, article, content, etag, last_modified)


@contextlib.contextmanager
def writing(articles_dir: Path, dry_run: bool = False) -> Iterator[None]:
    """Hold the articles folder for "look for the url, then write": one writer at a time.

    The file lock is what keeps two processes (two `newsbot feeds`, or `add` beside the bot)
    from each finding a URL missing and each writing it; a dry run only reads.
    """
    with _WRITING:
        if dry_run:
            yield
            return
        articles_dir.mkdir(parents=True, exist_ok=True)
        # The folder itself is locked: no lock file is left among the articles.
        fd = os.open(articles_dir, os.O_RDONLY | os.O_DIRECTORY)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # releases the lock


def render(article: Extracted, now: dt.datetime) -> str:
    """The article file: YAML front matter (README "Articles"), then the Markdown body."""
    meta = {
        "title": article.title,
        "url": article.url,
        "published": article.published,
        "modified": article.modified,
        "outlet": article.outlet,
        "fetched": now.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    return frontmatter.join(meta, article.body)


def catalogue(articles_dir: Path) -> tuple[dict[str, str], dict[str, str]]:
    """The files already there by their front matter url and by a digest of their body."""
    by_url: dict[str, str] = {}
    by_text: dict[str, str] = {}
    if not articles_dir.is_dir():
        return by_url, by_text
    for path in article_files(articles_dir):
        rel = path.relative_to(articles_dir).as_posix()
        url, digest = _identity(path)
        if url:
            by_url.setdefault(url, rel)
        if digest:
            by_text.setdefault(digest, rel)
    return by_url, by_text


def _identity(path: Path) -> tuple[str | None, str | None]:
    """(front matter url, body digest) of one file, read again only when it changed."""
    try:
        st = path.stat()
    except OSError:
        return None, None
    cached = SEEN.get(path)
    if cached and cached[:2] == (st.st_size, st.st_mtime_ns):
        return cached[2], cached[3]
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        text = ""  # the loader reports unreadable files; they cannot be duplicates
    url, digest = text_identity(text)
    SEEN.pop(path, None)  # re-inserted last: the dict's order is oldest first
    SEEN[path] = (st.st_size, st.st_mtime_ns, url, digest)
    while len(SEEN) > SEEN_MAX:
        SEEN.pop(next(iter(SEEN)))
    return url, digest


def _new_name(article: Extracted, exists: Callable[[str], bool], now: dt.datetime) -> str:
    """<published date>-<site>-<slug>.md, numbered when another page has that name."""
    date = article.published or now.date().isoformat()
    stem = f"{date}-{slug(article.url)}"
    name, n = f"{stem}.md", 2
    while exists(name):
        name, n = f"{stem}-{n}.md", n + 1
    return name


def slug(url: str) -> str:
    """A short ASCII name from a URL: the site's name and the path's last meaningful part."""
    parts = urlsplit(url)
    labels = [
        x for x in (parts.hostname or "").split(".") if not re.fullmatch(r"www\d*|amp|news", x)
    ]
    site = max(labels[:-1] or labels or ["page"], key=len)
    if (parts.hostname or "").replace(".", "").isdigit():  # an IPv4 address names itself
        site = parts.hostname
    segments = [re.sub(r"\.(s?html?|php|aspx?)$", "", s) for s in parts.path.split("/") if s]
    segments = [s for s in segments if s and s.lower() not in _JUNK_SEGMENTS and s != "-"]
    tail = "-".join(segments[-2:]) if segments and len(segments[-1]) < 6 else "".join(segments[-1:])
    tail = tail or parts.query
    text = re.sub(r"[^a-z0-9]+", "-", f"{site}-{tail}".lower()).strip("-")[:60].strip("-")
    if text == re.sub(r"[^a-z0-9]+", "-", site.lower()).strip("-"):
        text += "-" + hashlib.sha1(url.encode("utf-8")).hexdigest()[:8]
    return text
