"""Forgetting: by date (retention, --forget-before) or by person (/forget-me, --forget-user),
in usage.db and in every file moved aside, so nothing outlives what the settings promise."""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

from .files import DB_NAME, aside_files, moved_at, remove
from .store import BUSY_SECONDS, UsageStore, transaction, utc

log = logging.getLogger(__name__)


@dataclass
class Forgotten:
    """What a forget pass deleted, and the moved-aside files it could not search."""

    questions: int = 0
    votes: int = 0
    removed: list[str] = field(default_factory=list)  # moved-aside files deleted whole
    unreadable: list[str] = field(default_factory=list)  # moved-aside files left as they are

    def add(self, other: Forgotten) -> Forgotten:
        self.questions += other.questions
        self.votes += other.votes
        self.removed += other.removed
        self.unreadable += other.unreadable
        return self


def forget(
    data_dir: Path | str,
    *,
    before: dt.datetime | None = None,
    user_hash: str | None = None,
    busy_seconds: float = BUSY_SECONDS,
) -> Forgotten:
    """Delete questions asked before `before`, or one user's questions and votes, everywhere."""
    data_dir = Path(data_dir)
    done = Forgotten()
    if (data_dir / DB_NAME).exists():  # forgetting never creates a database
        store = UsageStore(data_dir, busy_seconds=busy_seconds)
        try:
            done.add(_forget_in_store(store, before, user_hash))
        finally:
            store.close()
    return done.add(forget_aside(data_dir, before=before, user_hash=user_hash))


def retain(data_dir: Path | str, days: int, now: dt.datetime | None = None, **kw) -> Forgotten:
    """The retention pass: what is older than `days` goes, wherever it is kept."""
    now = now or dt.datetime.now(dt.UTC)
    return forget(data_dir, before=now - dt.timedelta(days=days), **kw)


def _forget_in_store(store: UsageStore, before, user_hash) -> Forgotten:
    done = Forgotten()
    if before is not None:
        done.questions += store.forget_before(before)
    if user_hash is not None:
        asked, votes = store.forget_user(user_hash)
        done.questions += asked
        done.votes += votes
    return done


def forget_aside(
    data_dir: Path, *, before: dt.datetime | None = None, user_hash: str | None = None
) -> Forgotten:
    """The same in moved-aside files: a file moved before `before` holds only older rows and is
    deleted whole; in others the rows are deleted where SQLite can still read them."""
    done = Forgotten()
    for aside in aside_files(data_dir):
        moved = moved_at(aside)
        if before is not None and moved is not None and moved <= before:
            remove(aside)
            done.removed.append(aside.name)
            log.info("Deleted the moved-aside use data %s (older than kept)", aside.name)
            continue
        try:
            done.add(_forget_in_file(aside, before, user_hash))
        except sqlite3.DatabaseError as e:
            log.info("Cannot search the moved-aside use data %s: %s", aside.name, e)
            done.unreadable.append(aside.name)
    return done


def _forget_in_file(path: Path, before, user_hash) -> Forgotten:
    # A plain connection: a damaged file gets no migration, no integrity check, no move.
    conn = sqlite3.connect(path, timeout=1.0, isolation_level=None)
    try:
        conn.execute("PRAGMA foreign_keys=ON")
        conn.execute("PRAGMA secure_delete=ON")
        done = Forgotten()
        with transaction(conn):
            if before is not None:
                cur = conn.execute("DELETE FROM questions WHERE asked_at < ?", (utc(before),))
                done.questions += cur.rowcount
            if user_hash is not None:
                cur = conn.execute("DELETE FROM votes WHERE user_hash = ?", (user_hash,))
                done.votes += cur.rowcount
                cur = conn.execute("DELETE FROM questions WHERE user_hash = ?", (user_hash,))
                done.questions += cur.rowcount
        return done
    finally:
        with contextlib.suppress(sqlite3.Error):
            conn.close()
