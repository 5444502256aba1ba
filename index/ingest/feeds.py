"""RSS/Atom feeds → new and updated articles, remembering what was seen across restarts."""

from __future__ import annotations

import logging
import re
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import feedparser

from ..errors import FetchError, PageError
from .articles import Added, Shelf, fetch_page, write_page
from .charset import decode, text_codec
from .feed_state import load_state, remember, save_state
from .fetch import FEED_TYPES, FetchLimits, Response, fetch
from .urls import shown

log = logging.getLogger(__name__)

# Pages fetched per feed and poll: a runaway feed cannot flood the articles folder. The rest
# are fetched at the next polls (the feed is read again in full until none is left).
MAX_ITEMS = 200
# Item pages fetched at once: 200 dead items at a 10 s timeout take minutes, not half an hour.
# Only fetching and extraction run side by side; writes stay one at a time, in feed order.
WORKERS = 4
# An item failing for a reason that may pass (429, 5xx, a timeout, a 403 the first time) is
# tried again after BACKOFF seconds, doubled each time up to MAX_BACKOFF; after MAX_TRIES it
# is remembered as refused, as a 404 is at once.
BACKOFF = 15 * 60
MAX_BACKOFF = 24 * 3600
MAX_TRIES = 8
_XML_ENCODING = re.compile(r"""(<\?xml[^>]*?encoding\s*=\s*)["'][^"']*["']""")


@dataclass
class PollReport:
    """One poll: what each new or updated item became, and what failed and why."""

    results: list[Added] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)  # (url, reason)
    feeds: int = 0
    not_modified: int = 0  # feeds answered 304
    skipped: int = 0  # items already seen with the same date
    deferred: int = 0  # items over MAX_ITEMS or past the poll's deadline, left for the next poll
    waiting: int = 0  # items failing for now, tried again at a later poll
    late: int = 0  # feeds not polled: the poll's deadline had passed

    @property
    def changed(self) -> list[Added]:
        return [r for r in self.results if r.changed]


def state_of(options, store=None):
    """Where the feed state lives: the store's (data/feeds.json, or the database's, shared)."""
    from ..storage.factory import open_store

    return (store or open_store(options, options.index_dir)).feed_state


def poller_lease(store):
    """The store's one-poller lease (the database's; a folder's is always held)."""
    return store.lease()


@dataclass
class _Poll:
    """What one poll carries from feed to feed."""

    state: dict
    report: PollReport
    articles_dir: Path | Shelf  # a folder, or a shared store's articles
    limits: FetchLimits
    dry_run: bool
    clock: Callable[[], float]
    deadline: float | None
    pool: ThreadPoolExecutor
    reader: Callable[..., Added | tuple] = fetch_page
    done: set[str] = field(default_factory=set)  # the same item in two feeds is fetched once

    def expired(self) -> bool:
        return self.deadline is not None and self.clock() >= self.deadline


def poll(
    urls: list[str] | tuple[str, ...],
    articles_dir: Path | Shelf,
    state_path,
    limits: FetchLimits,
    dry_run: bool = False,
    deadline_seconds: float | None = None,
    clock: Callable[[], float] = time.time,
    reader: Callable[..., Added | tuple] = fetch_page,
) -> PollReport:
    """Fetch each feed (conditionally) and add its new or updated items.

    state_path: the state file, or a store's feed state (load() and save(state)).
    deadline_seconds: no feed or item is started after this; what is left waits for the next
    poll. clock: seconds (time.time), for the deadline and for when to retry failed items.
    reader: how one item is fetched and read (articles.fetch_page's signature); run a few at
    a time, in threads.
    No error of one feed or item ends the poll: each becomes a line in `report.failed`.
    """
    where = Path(articles_dir) if isinstance(articles_dir, str) else articles_dir
    deadline = None if deadline_seconds is None else clock() + deadline_seconds
    report = PollReport(feeds=len(urls))
    with ThreadPoolExecutor(WORKERS, thread_name_prefix="feed-item") as pool:
        state = load_state(state_path)
        run = _Poll(state, report, where, limits, dry_run, clock, deadline, pool, reader)
        try:
            for feed_url in urls:
                _poll_feed_safely(run, feed_url)
        finally:  # what was written is remembered even if a poll is cut short
            if not dry_run:
                save_state(state_path, run.state)
    log.info(
        "Polled %d feeds: %d changed, %d failed, %d not modified, %d left for the next poll",
        report.feeds,
        len(report.changed),
        len(report.failed),
        report.not_modified,
        report.deferred + report.waiting,
    )
    return report


def _poll_feed_safely(run: _Poll, feed_url: str) -> None:
    """One feed; past the deadline it waits for the next poll; no error of its stops the rest."""
    if run.expired():
        run.report.late += 1
        return
    try:
        _poll_feed(run, feed_url)
    except Exception as e:  # a bug must cost one feed, not the poll
        log.debug("Feed %s failed", shown(feed_url), exc_info=True)
        run.report.failed.append((shown(feed_url), _unexpected(e)))


def _poll_feed(run: _Poll, feed_url: str) -> None:
    known = run.state["feeds"].get(feed_url, {})
    try:
        response = fetch(
            feed_url, run.limits, known.get("etag"), known.get("last_modified"), accept=FEED_TYPES
        )
    except FetchError as e:
        run.report.failed.append((shown(feed_url), str(e)))
        return
    if response.not_modified:
        run.report.not_modified += 1
        return
    parsed = _parse(response)
    if parsed is None or (not parsed.entries and (parsed.bozo or not parsed.version)):
        run.report.failed.append((shown(feed_url), "not an RSS or Atom feed"))
        return
    waiting = run.report.waiting
    jobs, deferred = _plan(run, feed_url, response.url, parsed.entries)
    late, retrying = _run_jobs(run, feed_url, jobs)
    retrying = retrying or run.report.waiting > waiting
    run.report.deferred += deferred + late
    # Items left over or to retry: the feed is read again in full next time, not answered 304.
    fresh = {"etag": response.etag, "last_modified": response.last_modified}
    run.state["feeds"][feed_url] = {} if deferred or late or retrying else fresh


def _plan(run: _Poll, feed_url: str, base: str, entries) -> tuple[list[tuple[str, str]], int]:
    """The items to fetch now as (link, date), and how many are left for the next polls."""
    jobs, deferred = [], 0
    for entry in entries:
        href = entry.get("link")
        if not isinstance(href, str) or not href.strip():
            continue  # nothing to fetch
        try:
            link = urljoin(base, href.strip())
        except ValueError:  # e.g. a bracketed host that is no IPv6 address
            run.report.failed.append((shown(href.strip()[:200]), "not a valid link"))
            continue
        stamp = entry.get("updated") or entry.get("published") or ""
        if not isinstance(stamp, str):
            stamp = ""
        if not _due(run, feed_url, link, stamp):
            continue
        if len(jobs) >= MAX_ITEMS:
            deferred += 1
            continue
        run.done.add(link)
        jobs.append((link, stamp))
    return jobs, deferred


def _due(run: _Poll, feed_url: str, link: str, stamp: str) -> bool:
    """Whether the item is to be fetched now; the others are counted or remembered here."""
    # Each feed's date for the item is kept: two feeds dating one item differently must
    # not make every poll fetch it again.
    seen = run.state["items"].get(link) or {}
    stamps = dict(seen.get("updated") or {})
    if link in run.done or stamps.get(feed_url) == stamp:
        run.report.skipped += link not in run.done
        stamps[feed_url] = stamp
        remember(run.state, link, {**seen, "updated": stamps})
        return False
    if seen.get("retry_at", 0) > run.clock():  # failed lately: its turn comes later
        run.report.waiting += 1
        return False
    try:
        scheme = urlsplit(link).scheme
    except ValueError:  # e.g. a bracketed host that is no IPv6 address
        scheme = None
    if scheme not in ("http", "https"):  # said once, then remembered as refused
        kind = f"not {scheme or 'this'!r}" if scheme is not None else "not an invalid one"
        reason = f"only http and https links are fetched, {kind}"
        run.report.failed.append((shown(link), reason))
        stamps[feed_url] = stamp
        remember(run.state, link, {"updated": stamps, "refused": reason})
        return False
    return True


def _run_jobs(run: _Poll, feed_url: str, jobs: list[tuple[str, str]]) -> tuple[int, bool]:
    """Fetch the items a few at a time, write each in feed order; (items left, any to retry)."""
    todo, pending = iter(jobs), deque()
    left, retrying = len(jobs), False

    def start_next() -> None:
        nonlocal left
        if left and not run.expired():
            link, stamp = next(todo)
            left -= 1
            seen = run.state["items"].get(link) or {}
            etag, modified = seen.get("etag"), seen.get("last_modified")
            job = run.pool.submit(run.reader, link, run.limits, etag, modified)
            pending.append((link, stamp, job))

    for _ in range(WORKERS):
        start_next()
    while pending:
        link, stamp, job = pending.popleft()
        start_next()
        retrying |= _settle(run, feed_url, link, stamp, job)
    return left, retrying


def _settle(run: _Poll, feed_url: str, link: str, stamp: str, job: Future) -> bool:
    """Write one fetched item, or remember why it failed; True when it is to be tried again."""
    seen = run.state["items"].get(link) or {}
    stamps = dict(seen.get("updated") or {})
    try:
        page = job.result()
        if not isinstance(page, Added):
            page = write_page(page, run.articles_dir, run.dry_run, requested=link)
    except Exception as e:  # whatever it was, it is this item's alone
        return _failed(run, feed_url, link, stamp, e)
    stamps[feed_url] = stamp
    item = {"updated": stamps, "etag": page.etag, "last_modified": page.last_modified}
    run.report.results.append(page)
    remember(run.state, link, {**item, "file": page.file or seen.get("file")})
    return False


def _failed(run: _Poll, feed_url: str, link: str, stamp: str, error: Exception) -> bool:
    """Report a failed item and remember it: to retry later, or refused for good."""
    seen = run.state["items"].get(link) or {}
    stamps = dict(seen.get("updated") or {})
    reason, transient = _why(error, seen)
    run.report.failed.append((shown(link), reason))
    tries = seen.get("tries", 0) + 1
    if transient and tries < MAX_TRIES:
        wait = min(BACKOFF * 2 ** (tries - 1), MAX_BACKOFF)
        retry = {"failed": reason, "tries": tries, "retry_at": run.clock() + wait}
        # Its date for this feed is not recorded: the next poll after retry_at fetches it.
        remember(run.state, link, {"updated": stamps, "file": seen.get("file"), **retry})
        return True
    stamps[feed_url] = stamp  # not fetched again until the feed dates it anew
    refused = reason if not transient else f"{reason} (after {tries} tries)"
    remember(run.state, link, {"updated": stamps, "file": seen.get("file"), "refused": refused})
    return False


def _why(error: Exception, seen: dict) -> tuple[str, bool]:
    """A failure's reason in one line, and whether it may pass (worth trying again)."""
    if isinstance(error, FetchError):
        # A 403 may be a rate limit in disguise: tried again once, refused if it repeats.
        return str(error), error.transient or (error.status == 403 and not seen.get("tries"))
    if isinstance(error, PageError):
        return str(error), False
    if isinstance(error, OSError):  # disk full, permissions: the next poll tries again
        return f"cannot write the article: {error.strerror or error}", True
    log.debug("Unexpected error on a feed item", exc_info=error)
    return _unexpected(error), True


def _unexpected(error: BaseException) -> str:
    text = " ".join(str(error).split())[:300]
    return f"unexpected error: {type(error).__name__}" + (f": {text}" if text else "")


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
        log.warning("Feed %s: %s; reading it as guessed text", shown(response.url), e)
    try:
        text = _XML_ENCODING.sub(r'\1"utf-8"', decode(response.body, charset), count=1)
    except PageError:
        return None
    headers["content-type"] = response.content_type + "; charset=utf-8"
    try:
        return feedparser.parse(text.encode("utf-8"), response_headers=headers)
    except (UnicodeError, LookupError):
        return None
