"""Subscriptions, stories and the delivery log: data/follow.db (SQLite), or PostgreSQL tables.

The delivery log is keyed by (subscription, story): a row is written when an alert is planned
(queued, or folded into the digest) and moved to sent once posted, so a restart or another
process taking over the feed poller's lease sends what was queued, and nothing twice.

Raw Discord ids are never stored: a member or channel is found by a keyed hash of its id
(HMAC-SHA256) and its id is kept sealed (AES-GCM, the kind as associated data) for delivery
alone. The key is data/follow.key (local), or the shared secret the caller passes (PostgreSQL).
A row the key cannot open (the key was changed) is paused with reason "key_changed".
"""

from __future__ import annotations

import dataclasses
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
from .keys import Sealer, load_key, shared_key
from .stories import Story

log = logging.getLogger(__name__)

DB_NAME = "follow.db"
KEY_CHANGED = "key_changed"  # the pause reason of a row sealed under another key
KINDS = ("member", "channel")
# Followed topics per member or channel: more is a mistake, or someone filling the store.
MAX_TOPICS = 25
SUBSCRIPTIONS = """
CREATE TABLE IF NOT EXISTS {name} (
    id {serial} PRIMARY KEY,
    kind TEXT NOT NULL,
    target_hash TEXT NOT NULL,
    target_sealed {blob} NOT NULL,
    topic TEXT NOT NULL,
    created_at TEXT NOT NULL,
    paused TEXT,
    told INTEGER NOT NULL DEFAULT 0,
    UNIQUE (kind, target_hash, topic)
)"""
DIGESTS = """
CREATE TABLE IF NOT EXISTS {name} (
    kind TEXT NOT NULL,
    target_hash TEXT NOT NULL,
    target_sealed {blob} NOT NULL,
    at TEXT NOT NULL,
    tz TEXT NOT NULL,
    last_sent TEXT,
    PRIMARY KEY (kind, target_hash)
)"""
SCHEMA = """
{subscriptions};
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
{digests}
"""


def _schema(types: dict) -> str:
    return SCHEMA.format(
        subscriptions=SUBSCRIPTIONS.format(name="follow_subscriptions", **types),
        digests=DIGESTS.format(name="follow_digests", **types),
        **types,
    )


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
    target: int | None  # the member's or channel's Discord id, unsealed (None: key changed)
    topic: str
    created_at: str
    paused: str | None = None  # why alerts stopped (forbidden, dm_closed, key_changed), or None
    told: bool = False  # the pause was said once
    who: str = ""  # the keyed hash of (kind, target): tells members apart without the id


@dataclass(frozen=True)
class Delivery:
    subscription: Subscription
    story: str
    state: str
    planned_at: str
    payload: dict


def open_for(
    index_store, data_dir: Path | str, secret: bytes | None = None, token: str | None = None
) -> FollowStore:
    """The follow tables beside the index: the database's (shared), else data_dir/follow.db.

    The database's tables are sealed with secret (NEWSBOT_FOLLOW_KEY), else a key derived from
    the bot's token; data_dir/follow.db with data_dir/follow.key.
    """
    if getattr(index_store, "shared", False) and hasattr(index_store, "connect"):
        return FollowStore.postgres(index_store, shared_key(secret, token))
    return FollowStore.local(data_dir)


def utc(when: dt.datetime) -> str:
    """Times are stored as UTC ISO text, which sorts as it should."""
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return when.astimezone(dt.UTC).isoformat(timespec="seconds")


class FollowStore:
    """The follow tables behind one connection; safe to share between threads (one lock)."""

    def __init__(self, connect, key: bytes, placeholder: str = "?", types: dict = SQLITE):
        self._connect, self._ph = connect, placeholder
        self._seal = Sealer(key)
        self._lock = threading.RLock()
        self._conn = connect()
        # PostgreSQL: rows being claimed by one sender are skipped by another, not waited on.
        self._skip_locked = "" if placeholder == "?" else " FOR UPDATE OF d SKIP LOCKED"
        with self._tx() as cur:
            if placeholder != "?":  # two processes creating the tables at once would collide
                cur.execute("SELECT pg_advisory_xact_lock(?)", (SCHEMA_LOCK,))
            for statement in _schema(types).split(";"):
                if statement.strip():
                    cur.execute(statement)
            migrated = self._migrate(cur, types)
        if migrated and placeholder == "?":  # the old pages (zeroed) leave the WAL too
            self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")

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
            conn.execute("PRAGMA secure_delete=ON")  # deleted rows are overwritten, not left
            return conn

        return cls(connect, load_key(path.parent))

    @classmethod
    def postgres(cls, store, key: bytes) -> FollowStore:
        """Tables in the index database's schema (a PgStore), shared by every process that
        holds the same key."""
        return cls(store.connect, key, "%s", POSTGRES)

    def _columns(self, cur, table: str) -> set[str]:
        if self._ph == "?":
            cur.execute(f"PRAGMA table_info({table})")
            return {r[1] for r in cur.fetchall()}
        cur.execute(
            "SELECT column_name FROM information_schema.columns "
            "WHERE table_schema=current_schema() AND table_name=?",
            (table,),
        )
        return {r[0] for r in cur.fetchall()}

    def _migrate(self, cur, types: dict) -> bool:
        """Tables of an older version held raw ids (column target): hash and seal each row and
        drop the plain column, in the transaction that opens the store."""
        migrated = False
        for table, template, keep in (
            (
                "follow_subscriptions",
                SUBSCRIPTIONS,
                "id, kind, ?, ?, topic, created_at, paused, told",
            ),
            ("follow_digests", DIGESTS, "kind, ?, ?, at, tz, last_sent"),
        ):
            if "target" not in self._columns(cur, table):
                continue
            migrated = True
            cur.execute(f"SELECT {keep.replace('?, ?', 'target')} FROM {table}")
            rows = cur.fetchall()
            if self._ph == "?":  # SQLite: a new table, the rows copied, the old one dropped
                cur.execute(template.format(name=table + "_new", **types))
                names = "target_hash, target_sealed".join(keep.split("?, ?"))
                marks = ",".join("?" * (len(rows[0]) + 1)) if rows else ""
                for row in rows:
                    kind, target = (row[1], row[2]) if table == "follow_subscriptions" else row[:2]
                    at = 2 if table == "follow_subscriptions" else 1
                    new = (*row[:at], self._seal.hash(kind, target), self._seal.seal(kind, target))
                    cur.execute(
                        f"INSERT INTO {table}_new ({names}) VALUES ({marks})", new + row[at + 1 :]
                    )
                cur.execute(f"DROP TABLE {table}")
                cur.execute(f"ALTER TABLE {table}_new RENAME TO {table}")
            else:  # PostgreSQL: new columns filled in, the plain one (and its keys) dropped
                cur.execute(
                    f"ALTER TABLE {table} ADD COLUMN target_hash TEXT, "
                    "ADD COLUMN target_sealed BYTEA"
                )
                for row in rows:  # each row its own nonce
                    subs = table == "follow_subscriptions"
                    kind, target = (row[1], row[2]) if subs else row[:2]
                    where, key = ("id=?", (row[0],)) if subs else ("kind=? AND target=?", row[:2])
                    sealed = (self._seal.hash(kind, target), self._seal.seal(kind, target))
                    cur.execute(
                        f"UPDATE {table} SET target_hash=?, target_sealed=? WHERE {where}",
                        sealed + tuple(key),
                    )
                cur.execute(f"ALTER TABLE {table} DROP COLUMN target")
                cur.execute(
                    f"ALTER TABLE {table} ALTER COLUMN target_hash SET NOT NULL, "
                    "ALTER COLUMN target_sealed SET NOT NULL"
                )
                unique = (
                    "UNIQUE (kind, target_hash, topic)"
                    if table == "follow_subscriptions"
                    else "PRIMARY KEY (kind, target_hash)"
                )
                cur.execute(f"ALTER TABLE {table} ADD {unique}")
            log.info("Follow table %s: %d row(s) now hold hashed and sealed ids", table, len(rows))
        return migrated

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
        who = self._seal.hash(kind, target)
        with self._tx() as cur:
            old = self._find(cur, kind, who, topic)
            if old is not None:
                cur.execute(
                    "UPDATE follow_subscriptions SET paused=NULL, told=0 WHERE id=?", (old.id,)
                )
                return old, False
            cur.execute(
                "SELECT count(*) FROM follow_subscriptions WHERE kind=? AND target_hash=?",
                (kind, who),
            )
            if cur.fetchone()[0] >= MAX_TOPICS:
                raise FollowError(f"at most {MAX_TOPICS} topics may be followed here")
            cur.execute(
                "INSERT INTO follow_subscriptions "
                "(kind, target_hash, target_sealed, topic, created_at) VALUES (?,?,?,?,?)",
                (kind, who, self._seal.seal(kind, target), topic, utc(now)),
            )
            return self._find(cur, kind, who, topic), True

    def unfollow(self, kind: str, target: int, topic: str) -> bool:
        with self._tx() as cur:
            sub = self._find(cur, kind, self._seal.hash(kind, target), topic)
            if sub is None:
                return False
            cur.execute("DELETE FROM follow_deliveries WHERE subscription=?", (sub.id,))
            cur.execute("DELETE FROM follow_subscriptions WHERE id=?", (sub.id,))
            return True

    def subscriptions(
        self, kind: str | None = None, target: int | None = None
    ) -> list[Subscription]:
        sql, args = f"SELECT {_SUB} FROM follow_subscriptions", []
        if kind is not None:
            sql += " WHERE kind=? AND target_hash=?"
            args = [kind, self._seal.hash(kind, target)]
        with self._tx() as cur:
            cur.execute(sql + " ORDER BY id", tuple(args))
            out = [self._sub(r) for r in cur.fetchall()]
            for i, sub in enumerate(out):
                if sub.target is None and sub.paused is None:  # sealed under another key
                    self._key_changed(cur, sub)
                    out[i] = dataclasses.replace(sub, paused=KEY_CHANGED)
            return out

    def pause(self, sub_id: int, reason: str) -> None:
        with self._tx() as cur:
            cur.execute(
                "UPDATE follow_subscriptions SET paused=? WHERE id=? AND paused IS NULL",
                (reason, sub_id),
            )

    def pause_target(self, kind: str, target: int, reason: str) -> list[Subscription]:
        """Pause every subscription of a member or channel; returns the ones not yet told."""
        with self._tx() as cur:
            return self._pause_hash(cur, kind, self._seal.hash(kind, target), reason)

    def _pause_hash(self, cur, kind: str, who: str, reason: str) -> list[Subscription]:
        cur.execute(
            "UPDATE follow_subscriptions SET paused=? "
            "WHERE kind=? AND target_hash=? AND paused IS NULL",
            (reason, kind, who),
        )
        cur.execute(
            f"SELECT {_SUB} FROM follow_subscriptions WHERE kind=? AND target_hash=? AND told=0 "
            "AND paused IS NOT NULL",
            (kind, who),
        )
        untold = [self._sub(r) for r in cur.fetchall()]
        cur.execute(
            "UPDATE follow_subscriptions SET told=1 "
            "WHERE kind=? AND target_hash=? AND paused IS NOT NULL",
            (kind, who),
        )
        return untold

    def _find(self, cur, kind: str, who: str, topic: str) -> Subscription | None:
        cur.execute(
            f"SELECT {_SUB} FROM follow_subscriptions WHERE kind=? AND target_hash=? AND topic=?",
            (kind, who, topic),
        )
        row = cur.fetchone()
        return self._sub(row) if row else None

    def _sub(self, row) -> Subscription:
        target = self._seal.unseal(row[1], row[3])
        return Subscription(
            int(row[0]), row[1], target, row[4], row[5], row[6], bool(row[7]), row[2]
        )

    def _delivery(self, row) -> Delivery:
        return Delivery(self._sub(row[:8]), row[8], row[9], row[10], json.loads(row[11]))

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
                "ON s.id=d.subscription WHERE s.kind=? AND s.target_hash=? AND d.planned_at>=? "
                "AND d.state IN ('queued','sending','sent','failed')",
                (kind, self._seal.hash(kind, target), utc(since)),
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
            out = []
            for d in (self._delivery(r) for r in cur.fetchall()):
                if d.subscription.target is None:  # sealed under another key: cannot deliver
                    self._key_changed(cur, d.subscription)
                    continue
                out.append(d)
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
            return [self._delivery(r) for r in cur.fetchall()]

    # Digests -------------------------------------------------------------------------------

    def set_digest(self, kind: str, target: int, at: str | None, tz: str) -> None:
        """A daily digest at HH:MM in tz (None: no digest)."""
        with self._tx() as cur:
            who = self._seal.hash(kind, target)
            cur.execute("DELETE FROM follow_digests WHERE kind=? AND target_hash=?", (kind, who))
            if at is not None:
                cur.execute(
                    "INSERT INTO follow_digests (kind, target_hash, target_sealed, at, tz) "
                    "VALUES (?,?,?,?,?)",
                    (kind, who, self._seal.seal(kind, target), at, tz),
                )

    def digests(self) -> list[tuple[str, int, str, str, str | None]]:
        """(kind, target, at, tz, last_sent date) of each digest asked for (a digest sealed
        under another key is left out, and its subscriptions paused)."""
        out = []
        with self._tx() as cur:
            cur.execute(
                "SELECT kind, target_hash, target_sealed, at, tz, last_sent FROM follow_digests "
                "ORDER BY kind, target_hash",
                (),
            )
            for kind, who, sealed, at, tz, last in cur.fetchall():
                target = self._seal.unseal(kind, sealed)
                if target is None:
                    self._pause_hash(cur, kind, who, KEY_CHANGED)
                    log.warning("A follow digest was sealed under another key; its alerts paused")
                    continue
                out.append((kind, target, at, tz, last))
        return out

    def _key_changed(self, cur, sub: Subscription) -> None:
        cur.execute(
            "UPDATE follow_subscriptions SET paused=? WHERE id=? AND paused IS NULL",
            (KEY_CHANGED, sub.id),
        )
        log.warning(
            "A followed %s's id was sealed under another key (the follow key or the token "
            "changed); its alerts are paused (%s)",
            sub.kind,
            KEY_CHANGED,
        )

    def digest_items(self, kind: str, target: int) -> list[Delivery]:
        with self._tx() as cur:
            cur.execute(
                f"SELECT {_DELIVERY} FROM follow_deliveries d JOIN follow_subscriptions s "
                "ON s.id=d.subscription WHERE s.kind=? AND s.target_hash=? AND d.state='digest' "
                "ORDER BY d.planned_at",
                (kind, self._seal.hash(kind, target)),
            )
            return [self._delivery(r) for r in cur.fetchall()]

    def digest_sent(self, kind: str, target: int, day: str, items: list[Delivery]) -> None:
        with self._tx() as cur:
            cur.execute(
                "UPDATE follow_digests SET last_sent=? WHERE kind=? AND target_hash=?",
                (day, kind, self._seal.hash(kind, target)),
            )
            for d in items:
                cur.execute(
                    "UPDATE follow_deliveries SET state='digested' "
                    "WHERE subscription=? AND story=?",
                    (d.subscription.id, d.story),
                )


_JOINED = "follow_deliveries d JOIN follow_subscriptions s ON s.id=d.subscription"
_SUB = "id, kind, target_hash, target_sealed, topic, created_at, paused, told"
_DELIVERY = (
    "s.id, s.kind, s.target_hash, s.target_sealed, s.topic, s.created_at, s.paused, s.told, "
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
