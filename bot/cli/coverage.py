"""`newsbot add` and `newsbot feeds`: pages and feed items written, then one reindex."""

from __future__ import annotations

import logging

from index.errors import (
    BuildInProgressError,
    NewsbotError,
)

from ..settings import Settings
from .output import (
    failure,
    format_added,
    format_report,
    one_line,
    printable,
)

log = logging.getLogger(__name__)


def cmd_add(args, settings: Settings) -> int:
    from index import Coverage
    from index.ingest import shown

    failed = 0
    changed = []
    coverage = Coverage.open(settings.index)  # the folder, or the database's shared articles
    for url in args.urls:
        try:
            added = coverage.add(url, settings.fetch, dry_run=args.dry_run)
        except Exception as e:  # one URL's failure, whatever it is; the others still count
            if not isinstance(e, (NewsbotError, OSError)):  # a bug: its traceback with -v
                log.debug("Adding %s failed", shown(url), exc_info=True)
            print(f"failed: {printable(shown(url))}: {printable(failure(e))}", flush=True)
            failed += 1
            continue
        print(format_added(added), flush=True)
        if args.dry_run and added.content:
            print(printable(added.content), flush=True)
        if added.changed:
            changed.append(added)
    if changed:
        _reindex(args, settings, len(changed))
    return 1 if failed else 0


def _reindex(args, settings: Settings, written: int) -> None:
    """Index what was just written; behind a reindex already running, once it ends."""
    searcher = args.open_searcher(settings.index)
    try:
        # What was written went to its destination (the folder, or the shared database).
        report = searcher.reindex(sync=False)
    except BuildInProgressError:
        # The files are saved; leaving them unindexed until someone notices would lose them.
        print(
            f"{written} articles saved; another reindex is running: waiting for it to end, "
            "then indexing them",
            flush=True,
        )
        report = searcher.reindex(wait=True, sync=False)
    print(format_report(report))


def cmd_feeds(args, settings: Settings) -> int:
    from index import Coverage
    from index.ingest import shown

    if not settings.feeds.urls:
        raise NewsbotError("no feeds to poll; list them in [feeds] urls = [...] in the settings")
    report = Coverage.open(settings.index).poll_feeds(
        settings.feeds.urls,
        settings.fetch,
        deadline_seconds=settings.feeds.poll_deadline_seconds,
        raise_errors=True,  # a database that is down says so: not "another process polls"
    )
    if report is None:
        raise NewsbotError(
            "another process polls the feeds (a running bot holds the poller's lease); "
            "it polls every [feeds] interval_minutes"
        )
    for added in report.changed:
        print(format_added(added), flush=True)
    for url, reason in report.failed:
        print(f"failed: {printable(url)}: {printable(one_line(reason))}", flush=True)
    left = report.deferred + report.waiting
    later = f", {left} left for the next poll" if left else ""
    if report.late:
        later += f", {report.late} feeds not polled (the poll's deadline passed)"
    print(
        f"{report.feeds} feeds ({report.not_modified} not modified): "
        f"{len(report.changed)} new or updated, {len(report.failed)} failed, "
        f"{report.skipped} already seen{later}"
    )
    if report.changed:
        _reindex(args, settings, len(report.changed))
    # A feed that cannot be read is an error; a refused item is reported, not fatal.
    feeds = {shown(url) for url in settings.feeds.urls}
    return 1 if any(url in feeds for url, _ in report.failed) else 0
