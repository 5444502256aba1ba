"""The shared coverage: article files kept in the database, so every process sees the same ones.

Each row is one article file as written (its Markdown, path and checksum) and the origin that
added it: an articles folder ("folder:<installation id>:<path>", see origin_of), or
/add, `newsbot add` and the feeds ("ingest"). `newsbot index` syncs a folder *into* these
rows: it adds and updates, and removes only rows its own folder added earlier (all absent ones
with prune), so one machine's folder never removes another machine's articles by their absence.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import secrets
import socket
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from ...corpus.files import write_atomic
from ...corpus.identity import text_identity
from ...corpus.loader import Article, Skipped, article_files, load_articles, parse_article
from ...errors import ArticleError, ArticlesDirError, Skip

if TYPE_CHECKING:
    from .connection import Database

log = logging.getLogger(__name__)

INGEST = "ingest"  # the origin of /add, `newsbot add` and feed items: no folder removes them


ORIGIN_FILE = "origin-id"  # in the data folder: this installation's id, made once
_ID_RE = re.compile(r"[0-9a-f]{32}")


def origin_of(folder: Path, home: Path) -> str:
    """An articles folder's origin: "folder:<this installation's id>:<the folder's real path>".

    The id is kept in the data folder (home), created once; the host name is not used:
    cloned machines and containers share it (and the path), and each would remove the
    other's articles by their absence. (A data folder copied with its id file is the same
    installation to the database: a copy that becomes another machine deletes the file.)
    """
    return f"folder:{installation_id(Path(home))}:{Path(folder).resolve()}"


def installation_id(home: Path) -> str:
    """The id in home/origin-id, made (once, whoever comes first) when it is not there."""
    path = home / ORIGIN_FILE
    try:
        text = path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        text = ""
    except (OSError, UnicodeDecodeError) as e:
        raise ArticlesDirError(f"cannot read this installation's id {path} ({e})") from None
    if _ID_RE.fullmatch(text):
        return text
    if text:
        raise ArticlesDirError(f"{path} is not a newsbot id; delete it to make a new one")
    return _create_id(path)


def _create_id(path: Path) -> str:
    """Write a new id: linked into place, so two processes at once agree on one."""
    new = secrets.token_hex(16)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".", suffix=".tmp")
        with os.fdopen(fd, "w", encoding="ascii") as f:
            f.write(new + "\n")
        try:
            os.link(tmp, path)  # fails if another process made one meanwhile: that one counts
        except FileExistsError:
            return installation_id(path.parent)
        finally:
            os.unlink(tmp)
    except OSError as e:
        raise ArticlesDirError(f"cannot keep this installation's id in {path} ({e})") from None
    log.info("This installation's id for the shared articles is in %s", path)
    return new


def legacy_origin(folder: Path) -> str:
    """What newsbot before the id file called a folder: its host name and real path."""
    return f"folder:{socket.gethostname()}:{Path(folder).resolve()}"


@dataclass
class SyncReport:
    """What `newsbot index` changed in the shared articles."""

    origin: str
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: int = 0
    skipped: list[Skipped] = field(default_factory=list)  # files not copied, with the reason


class PgArticles:
    """The articles table of a PgStore: read by builds, written by sync, /add and feeds."""

    def __init__(self, store: Database):
        self.store = store

    def count(self) -> int:
        return int(self.store.query("select count(*) from articles")[0][0])

    def load(self) -> tuple[list[Article], list[Skipped]]:
        """Every article parsed from its row (what a build indexes), and those that fail."""
        rows = self.store.query("select path, markdown from articles order by path", binary=False)
        articles, skipped = [], []
        for path, markdown in rows:
            try:
                articles.append(parse_article(path, markdown.encode("utf-8")))
            except ArticleError as e:
                skipped.append(Skipped(path, str(e), e.code, e.field))
        return articles, skipped

    def checksums(self) -> dict[str, tuple[str, str]]:
        """path → (checksum, origin) of every row."""
        rows = self.store.query("select path, checksum, origin from articles", binary=False)
        return {path: (checksum, origin) for path, checksum, origin in rows}

    def sync(self, folder: Path, max_bytes: int, home: Path, prune: bool = False) -> SyncReport:
        """Copy a folder's articles in; remove this folder's own rows that are gone from it.

        home: the data folder, which keeps this installation's id (origin_of).
        """
        folder = Path(folder)
        report = SyncReport(origin_of(folder, home))
        articles, report.skipped = load_articles(folder, max_bytes)
        # Rows this folder added before it had an id are its own (once: none remain after).
        self.store.query(
            "update articles set origin = %s where origin = %s",
            (report.origin, legacy_origin(folder)),
            binary=False,
        )
        present = {p.relative_to(folder).as_posix() for p in article_files(folder)}
        have = self.checksums()
        for a in articles:
            known = have.get(a.file)
            if known and known[0] == a.digest:
                report.unchanged += 1
                continue
            raw = (folder / a.file).read_bytes()
            if hashlib.sha256(raw).hexdigest() != a.digest:  # rewritten meanwhile: next time
                report.skipped.append(
                    Skipped(a.file, "changed while being read; run again", Skip.CHANGED_WHILE_READ)
                )
                continue
            self.put(a.file, raw.decode("utf-8"), report.origin, keep_origin=True)
            (report.updated if known else report.added).append(a.file)
        # A file still there but broken keeps its row: it is absent from `articles`, not `present`.
        gone = [p for p, (_, origin) in have.items() if p not in present]
        report.removed = sorted(p for p in gone if prune or have[p][1] == report.origin)
        if report.removed:
            self.store.query("delete from articles where path = any(%s)", (report.removed,))
        log.info(
            "Synced %s: %d added, %d updated, %d removed, %d unchanged",
            folder,
            len(report.added),
            len(report.updated),
            len(report.removed),
            report.unchanged,
        )
        return report

    def put(
        self, path: str, markdown: str, origin: str = INGEST, keep_origin: bool = False
    ) -> None:
        """Add or replace one article; an update keeps the row's origin when keep_origin."""
        checksum = hashlib.sha256(markdown.encode("utf-8")).hexdigest()
        url, digest = text_identity(markdown)
        self.store.query(
            "insert into articles (path, markdown, checksum, url, body_digest, origin)"
            " values (%s, %s, %s, %s, %s, %s) on conflict (path) do update set"
            " markdown = excluded.markdown, checksum = excluded.checksum, url = excluded.url,"
            " body_digest = excluded.body_digest, updated = now()"
            + ("" if keep_origin else ", origin = excluded.origin"),
            (path, markdown, checksum, url, digest, origin),
            binary=False,
        )

    # --- what index.ingest.articles.write needs of a destination ---------------------------

    def catalogue(self) -> tuple[dict[str, str], dict[str, str]]:
        """The articles by their front matter url and by a digest of their body."""
        rows = self.store.query("select path, url, body_digest from articles order by path")
        by_url: dict[str, str] = {}
        by_text: dict[str, str] = {}
        for path, url, digest in rows:
            if url:
                by_url.setdefault(url, path)
            if digest:
                by_text.setdefault(digest, path)
        return by_url, by_text

    def exists(self, path: str) -> bool:
        return bool(self.store.query("select 1 from articles where path = %s", (path,)))

    def export(self, folder: Path) -> list[str]:
        """Write every article back as a file under folder; returns their paths."""
        folder = Path(folder)
        root = folder.resolve()
        rows = self.store.query("select path, markdown from articles order by path", binary=False)
        written = []
        for path, markdown in rows:
            target = (folder / path).resolve()
            if not target.is_relative_to(root):  # a row is data: it never writes elsewhere
                log.warning("Not exporting %s: its path leaves the folder", path)
                continue
            write_atomic(target, markdown)
            written.append(path)
        return written


class PgFeedState:
    """The feeds' remembered ETags and item dates, one JSON document shared by every process."""

    def __init__(self, store: Database):
        self.store = store

    def load(self) -> dict:
        rows = self.store.query("select state::text from feed_state", binary=False)
        if not rows:
            return {"version": 1, "feeds": {}, "items": {}}
        return json.loads(rows[0][0])

    def save(self, state: dict) -> None:
        self.store.query(
            "insert into feed_state (one, state) values (true, %s::jsonb)"
            " on conflict (one) do update set state = excluded.state",
            (json.dumps(state, ensure_ascii=False),),
            binary=False,
        )
