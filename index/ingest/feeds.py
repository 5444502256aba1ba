"""RSS/Atom feeds → new and updated articles, remembering what was seen across restarts."""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import feedparser

from ..errors import FetchError, PageError
from .articles import Added, Shelf, add_url, write_atomic
from .fetch import FEED_TYPES, FetchLimits, Response, decode, fetch, text_codec

log = logging.getLogger(__name__)

# Pages fetched per feed and poll: a runaway feed cannot flood the articles folder. The rest
# are fetched at the next polls (the feed is read again in full until none is left).
MAX_ITEMS = 200
MAX_REMEMBERED = 20_000  # items kept in the state file, oldest forgotten first
STATE_FILE = "feeds.json"
_XML_ENCODING = re.compile(r"""(<\?xml[^>]*?encoding\s*=\s*)["'][^"']*["']""")
# What the state file may hold for a feed and for an item; anything else is dropped on load.
_FEED_KEYS = {"etag": str, "last_modified": str}
_ITEM_KEYS = {"updated": dict, "etag": str, "last_modified": str, "file": str, "refused": str}


def state_path(data_dir: Path) -> Path:
    """Where the polls remember feeds and items: <data_dir>/feeds.json."""
    return Path(data_dir) / STATE_FILE


@dataclass
class PollReport:
    """One poll: what each new or updated item became, and what failed and why."""

    results: list[Added] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)  # (url, reason)
    feeds: int = 0
    not_modified: int = 0  # feeds answered 304
    skipped: int = 0  # items already seen with the same date
    deferred: int = 0  # items over MAX_ITEMS in a feed, left for the next poll

    @property
    def changed(self) -> list[Added]:
        return [r for r in self.results if r.changed]


def state_of(options, store=None):
    """Where the feed state lives: data/feeds.json, or the database (shared by every process)."""
    if options.store.backend != "postgres":
        return Path(options.data_dir) / "feeds.json"
    from ..storage.factory import open_store

    return (store or open_store(options, options.index_dir)).feed_state


def poller_lease(store):
    """The one-poller lease of a shared store (storage/postgres/lease.py); None for a folder."""
    if getattr(store, "articles", None) is None:
        return None
    from ..storage.postgres.lease import Lease

    return Lease(store)


@dataclass
class _Poll:
    """What one poll carries from feed to feed."""

    state: dict
    report: PollReport
    articles_dir: Path | Shelf  # a folder, or a shared store's articles
    limits: FetchLimits
    dry_run: bool
    done: set[str] = field(default_factory=set)  # the same item in two feeds is fetched once


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
    where = Path(articles_dir) if isinstance(articles_dir, str) else articles_dir
    run = _Poll(load_state(state_path), PollReport(feeds=len(urls)), where, limits, dry_run)
    try:
        for feed_url in urls:
            _poll_feed(run, feed_url)
    finally:  # what was written is remembered even if a poll is cut short
        if not dry_run:
            save_state(state_path, run.state)
    report = run.report
    log.info(
        "Polled %d feeds: %d changed, %d failed, %d not modified, %d left for the next poll",
        report.feeds,
        len(report.changed),
        len(report.failed),
        report.not_modified,
        report.deferred,
    )
    return report


def _poll_feed(run: _Poll, feed_url: str) -> None:
    known = run.state["feeds"].get(feed_url, {})
    try:
        response = fetch(
            feed_url, run.limits, known.get("etag"), known.get("last_modified"), accept=FEED_TYPES
        )
    except FetchError as e:
        run.report.failed.append((feed_url, str(e)))
        return
    if response.not_modified:
        run.report.not_modified += 1
        return
    parsed = _parse(response)
    if parsed is None or (not parsed.entries and (parsed.bozo or not parsed.version)):
        run.report.failed.append((feed_url, "not an RSS or Atom feed"))
        return
    fetched = deferred = 0
    for entry in parsed.entries:
        href = entry.get("link")
        if not isinstance(href, str) or not href.strip():
            continue  # nothing to fetch
        link = urljoin(response.url, href.strip())
        stamp = entry.get("updated") or entry.get("published") or ""
        if not isinstance(stamp, str):
            stamp = ""
        if fetched >= MAX_ITEMS and _is_new(run, feed_url, link, stamp):
            deferred += 1
            continue
        fetched += _poll_item(run, feed_url, link, stamp)
    run.report.deferred += deferred
    # Items left over: the feed is read again in full next time, not answered 304.
    fresh = {"etag": response.etag, "last_modified": response.last_modified}
    run.state["feeds"][feed_url] = {} if deferred else fresh


def _is_new(run: _Poll, feed_url: str, link: str, stamp: str) -> bool:
    seen = run.state["items"].get(link) or {}
    return link not in run.done and (seen.get("updated") or {}).get(feed_url) != stamp


def _poll_item(run: _Poll, feed_url: str, link: str, stamp: str) -> bool:
    """Add one item unless seen with this date; True when its page was fetched."""
    # Each feed's date for the item is kept: two feeds dating one item differently must
    # not make every poll fetch it again.
    seen = run.state["items"].get(link) or {}
    stamps = dict(seen.get("updated") or {})
    if link in run.done or stamps.get(feed_url) == stamp:
        run.report.skipped += link not in run.done
        stamps[feed_url] = stamp
        _remember(run.state, link, {**seen, "updated": stamps})
        return False
    run.done.add(link)
    stamps[feed_url] = stamp
    scheme = urlsplit(link).scheme
    if scheme not in ("http", "https"):  # said once, then remembered as refused
        reason = f"only http and https links are fetched, not {scheme or 'this'!r}"
        run.report.failed.append((link, reason))
        _remember(run.state, link, {"updated": stamps, "refused": reason})
        return False
    try:
        added = add_url(
            link,
            run.articles_dir,
            run.limits,
            run.dry_run,
            seen.get("etag"),
            seen.get("last_modified"),
        )
    except (FetchError, PageError) as e:
        run.report.failed.append((link, str(e)))
        if not getattr(e, "transient", False):  # a refused page is not fetched again
            _remember(run.state, link, {"updated": stamps, "refused": str(e)})
        return True
    except OSError as e:  # disk full, permissions: tried again at the next poll
        run.report.failed.append((link, f"cannot write the article: {e.strerror or e}"))
        return True
    item = {"updated": stamps, "etag": added.etag, "last_modified": added.last_modified}
    run.report.results.append(added)
    _remember(run.state, link, {**item, "file": added.file or seen.get("file")})
    return True


def _parse(response: Response):
    """feedparser's reading of a feed; None when it cannot read it at all."""
    # A charset that names no text encoding ("undefined", "idna") makes feedparser raise.
    charset = response.charset if text_codec(response.charset) else None
    headers = {
        "content-location": response.url,
        "content-type": response.content_type + (f"; charset={charset}" if charset else ""),
    }
    try:
        return feedparser.parse(response.body, response_headers=headers)
    except (UnicodeError, LookupError) as e:
        log.warning("Feed %s: %s; reading it as guessed text", response.url, e)
    text = _XML_ENCODING.sub(r'\1"utf-8"', decode(response.body, charset), count=1)
    headers["content-type"] = response.content_type + "; charset=utf-8"
    try:
        return feedparser.parse(text.encode("utf-8"), response_headers=headers)
    except (UnicodeError, LookupError):
        return None


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
    feeds, bad_feeds = _entries(data["feeds"], _FEED_KEYS)
    items, bad_items = _entries(data["items"], _ITEM_KEYS)
    if bad_feeds or bad_items:
        log.warning(
            "Feed state %s: repaired %d feeds and %d items of the wrong shape",
            path,
            bad_feeds,
            bad_items,
        )
    return {"version": 1, "feeds": feeds, "items": items}


def _entries(table: dict, keys: dict[str, type]) -> tuple[dict[str, dict], int]:
    """The entries that are objects, each keeping only the fields of the right type; and how
    many were dropped or trimmed."""
    out, repaired = {}, 0
    for name, entry in table.items():
        if not isinstance(entry, dict):
            repaired += 1
            continue
        kept = {k: v for k, v in entry.items() if k in keys and isinstance(v, keys[k])}
        if "updated" in kept:
            kept["updated"] = {str(f): s for f, s in kept["updated"].items() if isinstance(s, str)}
        repaired += kept != entry
        out[name] = kept
    return out, repaired


def save_state(path: Path, state: dict) -> None:
    if hasattr(path, "save"):  # the database's feed state
        path.save(state)
        return
    write_atomic(Path(path), json.dumps(state, ensure_ascii=False, indent=1))
