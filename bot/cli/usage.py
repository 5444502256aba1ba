"""`newsbot report` and `newsbot usage`, and the CLI's own questions kept as use data."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import secrets
import sqlite3
import sys
from pathlib import Path

from index.errors import (
    NewsbotError,
    UsageStoreError,
)

from ..settings import Settings
from .output import (
    format_usage,
    one_line,
    printable,
)

log = logging.getLogger(__name__)


# Seconds the CLI waits for the bot's lock on usage.db before giving up (the bot holds it briefly).
CLI_BUSY_SECONDS = 2.0


def log_questions(settings: Settings, answers, seconds: float) -> None:
    """[usage] log_cli: keep the CLI's questions too; a failure is a warning, never the answer's."""
    from index.usage import question_record

    now = dt.datetime.now(dt.UTC)
    each = seconds * 1000 / max(1, len(answers))  # one batch: its time shared out
    records = [
        question_record(
            a,
            answer_id=secrets.token_hex(12),
            place="cli",
            asked_at=now,
            latency_ms=each,
            is_dm=False,
            keep_text=settings.usage.keep_text,
        )
        for a in answers
    ]
    try:
        store = open_store(settings)
        try:
            store.write(records)
        finally:
            store.close()
    except (sqlite3.Error, UsageStoreError, OSError) as e:
        why = printable(one_line(e))
        print(f"newsbot: warning: questions not recorded: {why}", file=sys.stderr)


def open_store(settings: Settings):
    """The CLI's usage.db, with retention applied on every open (here and in moved-aside files)."""
    from index.usage import UsageStore, forget_aside

    store = UsageStore(settings.index.data_dir, busy_seconds=CLI_BUSY_SECONDS)
    try:
        cutoff = dt.datetime.now(dt.UTC) - dt.timedelta(days=settings.usage.retention_days)
        store.forget_before(cutoff)
        forget_aside(store.data_dir, before=cutoff)
    except BaseException:
        store.close()
        raise
    return store


def retain_usage(settings: Settings) -> None:
    """Retention before a report or a forget, even with [usage] enabled = false."""
    from index.usage import retain

    with usage_errors():
        retain(
            settings.index.data_dir, settings.usage.retention_days, busy_seconds=CLI_BUSY_SECONDS
        )


@contextlib.contextmanager
def usage_errors():
    """SQLite's errors as one line and exit 2 (a locked file is not an internal error)."""
    try:
        yield
    except sqlite3.Error as e:
        raise UsageStoreError(f"usage database: {e}") from None


def cmd_report(args, settings: Settings) -> int:
    import zoneinfo

    from index.usage import build_report, render_chart

    zone = settings.usage.timezone
    today = dt.datetime.now(zoneinfo.ZoneInfo(zone)).date()
    since = args.since or today - dt.timedelta(days=29)
    if since > today:
        raise NewsbotError(f"--since {since} is in the future (today is {today}, {zone})")
    retain_usage(settings)
    scope = server_scope(settings, args.server)
    encoder = LazyEncoder(settings, args.open_searcher)
    with usage_errors():
        report = build_report(
            settings.index.data_dir, since, today, scope=scope, timezone=zone, encode=encoder
        )
        if args.csv:
            write_csv(args.csv, settings, since, today, scope)
    if args.png:
        args.png.write_bytes(render_chart(report))
    if args.json:
        print(json.dumps(report.to_dict(), ensure_ascii=False))
    else:
        print(format_usage(report))
    return 0


def server_scope(settings: Settings, server: int | None):
    """--server ID: that server's questions only (its id hashed with the same key)."""
    from index.usage import Scope, keyed_hash, load_key

    if server is None:
        return Scope()
    return Scope(guild_hash=keyed_hash(load_key(settings.index.data_dir), "guild", server))


def write_csv(path: Path, settings: Settings, since, until, scope) -> None:
    """The rows the report covers (hashes, never ids) as CSV."""
    import csv

    from index.usage import rows_for_csv

    columns, rows = rows_for_csv(
        settings.index.data_dir, since, until, scope=scope, timezone=settings.usage.timezone
    )
    with open(path, "w", encoding="utf-8", newline="") as f:
        out = csv.writer(f)
        out.writerow(columns)
        out.writerows(rows)


class LazyEncoder:
    """The bot's encoder, loaded only if the report has questions to group by meaning."""

    def __init__(self, settings: Settings, open_searcher):
        self.settings, self.open_searcher = settings, open_searcher
        self.embedder = None

    def __call__(self, texts):
        if self.embedder is None:
            self.embedder = self.open_searcher(self.settings.index).embedder
        return self.embedder.encode_queries(texts)


def cmd_usage(args, settings: Settings) -> int:
    from index.usage import forget, keyed_hash, load_key

    if args.forget_before is None and args.forget_user is None:
        raise NewsbotError("give --forget-before DATE or --forget-user DISCORD_ID")
    retain_usage(settings)
    data_dir = settings.index.data_dir
    when = user = None
    if args.forget_before is not None:
        when = dt.datetime.combine(args.forget_before, dt.time(), dt.UTC)
    if args.forget_user is not None:
        user = keyed_hash(load_key(data_dir), "user", args.forget_user)
    with usage_errors():
        done = forget(data_dir, before=when, user_hash=user, busy_seconds=CLI_BUSY_SECONDS)
    what = f"asked before {args.forget_before}" if when else "of that user"
    print(f"forgot {done.questions} questions {what} and {done.votes} votes")
    if done.removed:
        print(f"deleted {len(done.removed)} moved-aside files: {', '.join(done.removed)}")
    if done.unreadable:
        print(
            f"newsbot: warning: {len(done.unreadable)} moved-aside files could not be searched "
            f"(delete them to be sure): {', '.join(done.unreadable)}",
            file=sys.stderr,
        )
    return 0
