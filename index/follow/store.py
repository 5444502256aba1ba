"""Subscriptions, stories and the delivery log: data/follow.db (SQLite), or PostgreSQL tables.

The delivery log is keyed by (subscription, story): a row is written when an alert is planned
(queued, or folded into the digest) and moved to sent once posted, so a restart or another
process taking over the feed poller's lease sends what was queued, and nothing twice.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import FollowError
from .stories import Story

log = logging.getLogger(__name__)

DB_NAME = "follow.db"
KINDS = ("member", "channel")
# Followed topics per member or channel: more is a mistake, or someone filling the store.
MAX_TOPICS = 25
SCHEMA = """
CREATE TABLE IF NOT EXISTS follow_subscriptions (
    id {serial} PRIMARY KEY,
    kind TEXT NOT NULL,
    target {bigint} NOT NULL,
    topic TEXT NOT NULL,
    created_at TEXT NOT NULL,
    paused TEXT,
    told INTEGER NOT NULL DEFAULT 0,
    UNIQUE (kind, target, topic)
);
CREATE TABLE IF NOT EXISTS follow_stories (
    key TEXT PRIMARY KEY,
    vector {blob} NOT NULL,
    published TEXT,
    seen_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS follow_articles (
    article TEXT PRIMARY KEY,
    story TEXT NOT NULL,
    url TEXT,
    digest TEXT
);
CREATE INDEX IF NOT EXISTS follow_articles_url ON follow_articles (url);
CREATE INDEX IF NOT EXISTS follow_articles_digest ON follow_articles (digest);
CREATE TABLE IF NOT EXISTS follow_deliveries (
    subscription {bigint} NOT NULL,
    story TEXT NOT NULL,
    state TEXT NOT NULL,
    planned_at TEXT NOT NULL,
    payload TEXT NOT NULL,
    PRIMARY KEY (subscription, story)
);
CREATE INDEX IF NOT EXISTS follow_deliveries_state ON follow_deliveries (state);
CREATE TABLE IF NOT EXISTS follow_digests (
    kind TEXT NOT NULL,
    target {bigint} NOT NULL,
    at TEXT NOT NULL,
    tz TEXT NOT NULL,
    last_sent TEXT,
    PRIMARY KEY (kind, target)
)
"""
SQLITE = {"serial": "INTEGER", "bigint": "INTEGER", "blob": "BLOB"}
POSTGRES = {"serial": "BIGSERIAL", "bigint": "BIGINT", "blob": "BYTEA"}
# The advisory lock key under which the tables are created (beside the store's own keys).
SCHEMA_LOCK = 0x666F6C6C
# Alerts planned but not yet posted, and being posted (a crash leaves these to be sent again).
PENDING = ("queued", "sending")


@dataclass(frozen=True)
class Subscription:
    id: int
    kind: str  # "member" (alerts by DM) or "channel"
    target: int  # the member's or the channel's Discord id (needed to deliver; never logged)
    topic: str
    created_at: str
    paused: str | None = None  # why alerts stopped (forbidden, dm_closed), or None
    told: bool = False  # the pause was said once


@dataclass(frozen=True)
class Delivery:
    subscription: Subscription
    story: str
    state: str
    planned_at: str
    payload: dict


def open_for(index_store, data_dir: Path | str) -> FollowStore:
    """The follow tables beside the index: the database's (shared), else data_dir/follow.db."""
    if getattr(index_store, "shared", False) and hasattr(index_store, "connect"):
        return FollowStore.postgres(index_store)
    return FollowStore.local(data_dir)


def utc(when: dt.datetime) -> str:
    """Times are stored as UTC ISO text, which sorts as it should."""
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return when.astimezone(dt.UTC).isoformat(timespec="seconds")


class FollowStore:
    """The follow tables behind one connection; safe to share between threads (one lock)."""

    def __init__(self, connect, placeholder: str = "?", types: dict = SQLITE):
        self._connect, self._ph = connect, placeholder
        self._lock = threading.RLock()
        self._conn = connect()
        # PostgreSQL: rows being claimed by one sender are skipped by another, not waited on.
        self._skip_locked = "" if placeholder == "?" else " FOR UPDATE OF d SKIP LOCKED"
        with self._tx() as cur:
            if placeholder != "?":  # two processes creating the tables at once would collide
                cur.execute("SELECT pg_advisory_xact_lock(?)", (SCHEMA_LOCK,))
            for statement in SCHEMA.format(**types).split(";"):
                if statement.strip():
                    cur.execute(statement)

    @classmethod
    def local(cls, data_dir: Path | str) -> FollowStore:
        """data_dir/follow.db, made readable by its owner alone (it names Discord members)."""
        path = Path(data_dir) / DB_NAME
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists():
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
        os.chmod(path, 0o600)

        def connect():
            conn = sqlite3.connect(path, timeout=5.0, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA journal_mode=WAL")
            return conn

        return cls(connect)

    @classmethod
    def postgres(cls, store) -> FollowStore:
        """Tables in the index database's schema (a PgStore), shared by every process."""
        return cls(store.connect, "%s", POSTGRES)

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    @contextmanager
    def _tx(self) -> Iterator:
        """One transaction (the whole method's writes together), one thread at a time."""
        with self._lock:
            cur = self._conn.cursor()
            cur.execute("BEGIN IMMEDIATE" if self._ph == "?" else "BEGIN")
            try:
                yield _Cursor(cur, self._ph)
                cur.execute("COMMIT")
            except BaseException:
                cur.execute("ROLLBACK")
                raise

    # Subscriptions -------------------------------------------------------------------------

    def follow(
        self, kind: str, target: int, topic: str, now: dt.datetime
    ) -> tuple[Subscription, bool]:
        """Follow topic (True: new; False: already followed, and resumed if paused)."""
        if kind not in KINDS:
            raise FollowError(f"kind must be one of {', '.join(KINDS)}, not {kind!r}")
        with self._tx() as cur:
            old = self._find(cur, kind, target, topic)
            if old is not None:
                cur.execute(
                    "UPDATE follow_subscriptions SET paused=NULL, told=0 WHERE id=?", (old.id,)
                )
                return old, False
            cur.execute(
                "SELECT count(*) FROM follow_subscriptions WHERE kind=? AND target=?",
                (kind, target),
            )
            if cur.fetchone()[0] >= MAX_TOPICS:
                raise FollowError(f"at most {MAX_TOPICS} topics may be followed here")
            cur.execute(
                "INSERT INTO follow_subscriptions (kind, target, topic, created_at) "
                "VALUES (?,?,?,?)",
                (kind, target, topic, utc(now)),
            )
            return self._find(cur, kind, target, topic), True

    def unfollow(self, kind: str, target: int, topic: str) -> bool:
        with self._tx() as cur:
            sub = self._find(cur, kind, target, topic)
            if sub is None:
                return False
            cur.execute("DELETE FROM follow_deliveries WHERE subscription=?", (sub.id,))
            cur.execute("DELETE FROM follow_subscriptions WHERE id=?", (sub.id,))
            return True

    def subscriptions(
        self, kind: str | None = None, target: int | None = None
    ) -> list[Subscription]:
        sql, args = "SELECT * FROM follow_subscriptions", []
        if kind is not None:
            sql += " WHERE kind=? AND target=?"
            args = [kind, target]
        with self._tx() as cur:
            cur.execute(sql + " ORDER BY id", tuple(args))
            return [_sub(r) for r in cur.fetchall()]

    def pause(self, sub_id: int, reason: str) -> None:
        with self._tx() as cur:
            cur.execute(
                "UPDATE follow_subscriptions SET paused=? WHERE id=? AND paused IS NULL",
                (reason, sub_id),
            )

    def pause_target(self, kind: str, target: int, reason: str) -> list[Subscription]:
        """Pause every subscription of a member or channel; returns the ones not yet told."""
        with self._tx() as cur:
            cur.execute(
                "UPDATE follow_subscriptions SET paused=? "
                "WHERE kind=? AND target=? AND paused IS NULL",
                (reason, kind, target),
            )
            cur.execute(
                "SELECT * FROM follow_subscriptions WHERE kind=? AND target=? AND told=0 "
                "AND paused IS NOT NULL",
                (kind, target),
            )
            untold = [_sub(r) for r in cur.fetchall()]
            cur.execute(
                "UPDATE follow_subscriptions SET told=1 "
                "WHERE kind=? AND target=? AND paused IS NOT NULL",
                (kind, target),
            )
            return untold

    def _find(self, cur, kind: str, target: int, topic: str) -> Subscription | None:
        cur.execute(
            "SELECT * FROM follow_subscriptions WHERE kind=? AND target=? AND topic=?",
            (kind, target, topic),
        )
        row = cur.fetchone()
        return _sub(row) if row else None

    # Stories and articles ------------------------------------------------------------------

    def known_story(self, url: str | None, digest: str | None) -> str | None:
        """The story of an article seen before under this link or with this text."""
        with self._tx() as cur:
            for column, value in (("url", url), ("digest", digest)):
                if value:
                    cur.execute(f"SELECT story FROM follow_articles WHERE {column}=?", (value,))
                    row = cur.fetchone()
                    if row:
                        return row[0]
        return None

    def recent_stories(self, since: dt.datetime) -> list[Story]:
        with self._tx() as cur:
            cur.execute(
                "SELECT key, vector, published FROM follow_stories WHERE seen_at>=?", (utc(since),)
            )
            rows = cur.fetchall()
        out = []
        for key, blob, published in rows:
            day = dt.date.fromisoformat(published) if published else None
            out.append(Story(key, np.frombuffer(bytes(blob), dtype=np.float32), day))
        return out

    def remember(
        self, story: Story, articles: list[tuple[str, str | None, str | None]], now
    ) -> None:
        """A story (new or grown) and its articles' identities (file, url, digest)."""
        with self._tx() as cur:
            day = story.published.isoformat() if story.published else None
            # Upserts: another process may remember the same story at the same moment.
            cur.execute(
                "INSERT INTO follow_stories (key, vector, published, seen_at) VALUES (?,?,?,?) "
                "ON CONFLICT (key) DO UPDATE SET vector=excluded.vector, "
                "published=excluded.published, seen_at=excluded.seen_at",
                (story.key, np.asarray(story.vector, dtype=np.float32).tobytes(), day, utc(now)),
            )
            for article, url, digest in articles:
                cur.execute(
                    "INSERT INTO follow_articles (article, story, url, digest) VALUES (?,?,?,?) "
                    "ON CONFLICT (article) DO UPDATE SET story=excluded.story, url=excluded.url, "
                    "digest=excluded.digest",
                    (article, story.key, url, digest),
                )

    # The delivery log ----------------------------------------------------------------------

    def plan(self, sub_id: int, story: str, state: str, payload: dict, now: dt.datetime) -> bool:
        """Log an alert (queued) or a digest line for (subscription, story) once (else False)."""
        with self._tx() as cur:
            # Another process may log the same pair at the same moment: one insert wins.
            cur.execute(
                "INSERT INTO follow_deliveries (subscription, story, state, planned_at, payload) "
                "VALUES (?,?,?,?,?) ON CONFLICT (subscription, story) DO NOTHING",
                (sub_id, story, state, utc(now), json.dumps(payload, ensure_ascii=False)),
            )
            return cur.rowcount == 1

    def alerts_since(self, kind: str, target: int, since: dt.datetime) -> int:
        """Alerts (not digest lines) planned for a member or channel since then."""
        with self._tx() as cur:
            cur.execute(
                "SELECT count(*) FROM follow_deliveries d JOIN follow_subscriptions s "
                "ON s.id=d.subscription WHERE s.kind=? AND s.target=? AND d.planned_at>=? "
                "AND d.state IN ('queued','sending','sent','failed')",
                (kind, target, utc(since)),
            )
            return int(cur.fetchone()[0])

    def claim(self, limit: int = 10) -> list[Delivery]:
        """Queued alerts of active subscriptions, marked as being sent (oldest first)."""
        with self._tx() as cur:
            cur.execute(
                f"SELECT {_DELIVERY} FROM follow_deliveries d JOIN follow_subscriptions s "
                "ON s.id=d.subscription WHERE d.state IN ('queued','sending') AND s.paused IS NULL "
                "ORDER BY d.planned_at, d.subscription LIMIT ?" + self._skip_locked,
                (limit,),
            )
            out = [_delivery(r) for r in cur.fetchall()]
            for d in out:
                cur.execute(
                    "UPDATE follow_deliveries SET state='sending' WHERE subscription=? AND story=?",
                    (d.subscription.id, d.story),
                )
            return out

    def mark(self, sub_id: int, story: str, state: str) -> None:
        with self._tx() as cur:
            cur.execute(
                "UPDATE follow_deliveries SET state=? WHERE subscription=? AND story=?",
                (state, sub_id, story),
            )

    def deliveries(self, state: str | None = None) -> list[Delivery]:
        sql = f"SELECT {_DELIVERY} FROM {_JOINED}"
        with self._tx() as cur:
            if state:
                cur.execute(sql + " WHERE d.state=? ORDER BY d.planned_at", (state,))
            else:
                cur.execute(sql + " ORDER BY d.planned_at", ())
            return [_delivery(r) for r in cur.fetchall()]

    # Digests -------------------------------------------------------------------------------

    def set_digest(self, kind: str, target: int, at: str | None, tz: str) -> None:
        """A daily digest at HH:MM in tz (None: no digest)."""
        with self._tx() as cur:
            cur.execute("DELETE FROM follow_digests WHERE kind=? AND target=?", (kind, target))
            if at is not None:
                cur.execute(
                    "INSERT INTO follow_digests (kind, target, at, tz) VALUES (?,?,?,?)",
                    (kind, target, at, tz),
                )

    def digests(self) -> list[tuple[str, int, str, str, str | None]]:
        """(kind, target, at, tz, last_sent date) of each digest asked for."""
        with self._tx() as cur:
            cur.execute(
                "SELECT kind, target, at, tz, last_sent FROM follow_digests ORDER BY kind, target",
                (),
            )
            return [tuple(r) for r in cur.fetchall()]

    def digest_items(self, kind: str, target: int) -> list[Delivery]:
        with self._tx() as cur:
            cur.execute(
                f"SELECT {_DELIVERY} FROM follow_deliveries d JOIN follow_subscriptions s "
                "ON s.id=d.subscription WHERE s.kind=? AND s.target=? AND d.state='digest' "
                "ORDER BY d.planned_at",
                (kind, target),
            )
            return [_delivery(r) for r in cur.fetchall()]

    def digest_sent(self, kind: str, target: int, day: str, items: list[Delivery]) -> None:
        with self._tx() as cur:
            cur.execute(
                "UPDATE follow_digests SET last_sent=? WHERE kind=? AND target=?",
                (day, kind, target),
            )
            for d in items:
                cur.execute(
                    "UPDATE follow_deliveries SET state='digested' "
                    "WHERE subscription=? AND story=?",
                    (d.subscription.id, d.story),
                )


_JOINED = "follow_deliveries d JOIN follow_subscriptions s ON s.id=d.subscription"
_DELIVERY = (
    "s.id, s.kind, s.target, s.topic, s.created_at, s.paused, s.told, "
    "d.story, d.state, d.planned_at, d.payload"
)


class _Cursor:
    """A DB-API cursor taking ? placeholders whatever the driver's style."""

    def __init__(self, cur, placeholder: str):
        self.cur, self.ph = cur, placeholder

    def execute(self, sql: str, args: tuple = ()):
        if self.ph != "?":
            sql = sql.replace("?", self.ph)
        return self.cur.execute(sql, args)

    def fetchone(self):
        return self.cur.fetchone()

    def fetchall(self):
        return self.cur.fetchall()

    @property
    def rowcount(self) -> int:
        return self.cur.rowcount


def _sub(row) -> Subscription:
    return Subscription(int(row[0]), row[1], int(row[2]), row[3], row[4], row[5], bool(row[6]))


def _delivery(row) -> Delivery:
    return Delivery(_sub(row[:7]), row[7], row[8], row[9], json.loads(row[10]))
