"""RSS/Atom feeds → new and updated articles, remembering what was seen across restarts."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import feedparser

from ..errors import FetchError, PageError
from .articles import Added, Shelf, add_url, write_atomic
from .fetch import FEED_TYPES, FetchLimits, fetch

log = logging.getLogger(__name__)

MAX_ITEMS = 200  # per feed and poll: a runaway feed cannot flood the articles folder
MAX_REMEMBERED = 20_000  # items kept in the state file, oldest forgotten first


@dataclass
class PollReport:
    """One poll: what each new or updated item became, and what failed and why."""

    results: list[Added] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)  # (url, reason)
    feeds: int = 0
    not_modified: int = 0  # feeds answered 304
    skipped: int = 0  # items already seen with the same date

    @property
    def changed(self) -> list[Added]:
        return [r for r in self.results if r.changed]


def state_of(options, store=None):
    """Where the feed state lives: data/feeds.json, or the database (shared by every process)."""
    if options.store.backend != "postgres":
        return Path(options.data_dir) / "feeds.json"
    from ..storage.base import open_store

    return (store or open_store(options, options.index_dir)).feed_state


def poller_lease(store):
    """The one-poller lease of a shared store (storage/postgres/lease.py); None for a folder."""
    if getattr(store, "articles", None) is None:
        return None
    from ..storage.postgres.lease import Lease

    return Lease(store)


def poll(
    urls: list[str] | tuple[str, ...],
    articles_dir: Path | Shelf,
    state_path,
    limits: FetchLimits,
    dry_run: bool = False,
) -> PollReport:
    """Fetch each feed (conditionally) and add its new or updated items.

    state_path: the state file, or a store's feed state (load() and save(state)).
    """
    state = load_state(state_path)
    report = PollReport(feeds=len(urls))
    done: set[str] = set()  # the same item in two feeds is fetched once
    for feed_url in urls:
        _poll_feed(feed_url, state, report, done, articles_dir, limits, dry_run)
    if not dry_run:
        save_state(state_path, state)
    log.info(
        "Polled %d feeds: %d changed, %d failed, %d not modified",
        report.feeds,
        len(report.changed),
        len(report.failed),
        report.not_modified,
    )
    return report


def _poll_feed(feed_url, state, report, done, articles_dir, limits, dry_run) -> None:
    known = state["feeds"].get(feed_url, {})
    try:
        response = fetch(
            feed_url, limits, known.get("etag"), known.get("last_modified"), accept=FEED_TYPES
        )
    except FetchError as e:
        report.failed.append((feed_url, str(e)))
        return
    if response.not_modified:
        report.not_modified += 1
        return
    charset = f"; charset={response.charset}" if response.charset else ""
    parsed = feedparser.parse(
        response.body,
        response_headers={
            "content-location": response.url,
            "content-type": response.content_type + charset,
        },
    )
    if not parsed.entries and (parsed.bozo or not parsed.version):
        report.failed.append((feed_url, "not an RSS or Atom feed"))
        return
    for entry in parsed.entries[:MAX_ITEMS]:
        link = urljoin(response.url, entry.get("link") or "")
        if urlsplit(link).scheme not in ("http", "https"):
            continue
        # Each feed's date for the item is kept: two feeds dating one item differently must
        # not make every poll fetch it again.
        stamp = entry.get("updated") or entry.get("published") or ""
        seen = state["items"].get(link) or {}
        stamps = dict(seen.get("updated") or {}) if isinstance(seen.get("updated"), dict) else {}
        if link in done or stamps.get(feed_url) == stamp:
            report.skipped += link not in done
            stamps[feed_url] = stamp
            _remember(state, link, {**seen, "updated": stamps})
            continue
        done.add(link)
        stamps[feed_url] = stamp
        try:
            added = add_url(
                link, articles_dir, limits, dry_run, seen.get("etag"), seen.get("last_modified")
            )
        except (FetchError, PageError) as e:
            report.failed.append((link, str(e)))
            if not getattr(e, "transient", False):  # a refused page is not fetched again
                _remember(state, link, {"updated": stamps, "refused": str(e)})
            continue
        except OSError as e:  # disk full, permissions: tried again at the next poll
            report.failed.append((link, f"cannot write the article: {e.strerror or e}"))
            continue
        report.results.append(added)
        _remember(
            state,
            link,
            {
                "updated": stamps,
                "etag": added.etag,
                "last_modified": added.last_modified,
                "file": added.file or seen.get("file"),
            },
        )
    state["feeds"][feed_url] = {"etag": response.etag, "last_modified": response.last_modified}


def _remember(state: dict, link: str, item: dict) -> None:
    items = state["items"]
    items.pop(link, None)  # re-inserted last: the dict's order is oldest first
    items[link] = {k: v for k, v in item.items() if v}
    while len(items) > MAX_REMEMBERED:
        items.pop(next(iter(items)))


def load_state(path: Path) -> dict:
    """The remembered feeds and items; a missing or damaged file starts afresh (logged)."""
    empty = {"version": 1, "feeds": {}, "items": {}}
    try:
        data = path.load() if hasattr(path, "load") else json.loads(Path(path).read_text("utf-8"))
    except FileNotFoundError:
        return empty
    except (OSError, ValueError) as e:
        log.warning("Cannot read feed state %s (%s); starting afresh", path, e)
        return empty
    if not (
        isinstance(data, dict)
        and isinstance(data.get("feeds"), dict)
        and isinstance(data.get("items"), dict)
    ):
        log.warning("Feed state %s has an unknown shape; starting afresh", path)
        return empty
    return data


def save_state(path: Path, state: dict) -> None:
    if hasattr(path, "save"):  # the database's feed state
        path.save(state)
        return
    write_atomic(Path(path), json.dumps(state, ensure_ascii=False, indent=1))
