"""Followed topics in PostgreSQL: two processes on one database, each alert sent exactly once,
including when the feed poller's lease passes from one to the other mid-round."""

from __future__ import annotations

import datetime as dt
import threading

import pytest

from index.follow import KEY_CHANGED, FollowStore, Limits, NewArticle, on_new_articles
from index.ingest import poller_lease
from index.options import StoreOptions
from index.storage.postgres.store import PgStore

from .conftest import SEED_ARTICLE, raw_ids_found

NOW = dt.datetime(2025, 4, 16, 12, tzinfo=dt.UTC)
OLD_TOO = Limits(max_age_hours=24 * 3650, member_per_hour=100, member_per_day=100)
KEY = bytes(range(32))  # NEWSBOT_FOLLOW_KEY, shared by every process
MEMBER, CHANNEL = 123456789012345678, 987654321098765432
ARTICLES = ("nara-deer.md", "shogi-titles.md", "fuji-climbing.md", SEED_ARTICLE.name)


class Process:
    """What one bot process holds: its own store connection, follow tables and lease."""

    def __init__(self, url: str, key: bytes = KEY):
        self.store = PgStore(StoreOptions("postgres", url))
        self.follow = FollowStore.postgres(self.store, key)
        self.lease = poller_lease(self.store)

    def send(self, posted: list, limit: int = 10, crash_after: int | None = None) -> int:
        """One sender round (the cog's, without Discord): only while holding the lease."""
        if not self.lease.acquire():
            return 0
        sent = 0
        for d in self.follow.claim(limit):
            if crash_after is not None and sent == crash_after:
                return sent  # dies here: claimed, not posted, not marked
            posted.append((d.subscription.topic, d.story))
            self.follow.mark(d.subscription.id, d.story, "sent")
            sent += 1
        return sent

    def die(self) -> None:
        self.lease.release()  # its session ends: the server frees the lock
        self.follow.close()


@pytest.fixture
def two(pg_url):
    a, b = Process(pg_url), Process(pg_url)
    yield a, b
    for p in (a, b):
        p.lease.release()


def new(corpus_dir) -> list[NewArticle]:
    return [NewArticle(n, (corpus_dir / n).read_text(encoding="utf-8")) for n in ARTICLES]


def test_two_processes_send_each_alert_once_across_a_takeover(two, searcher, corpus_dir):
    a, b = two
    for topic in ("奈良の鹿", "将棋", "富士山", "停戦"):
        a.follow.follow("member", 1, topic, NOW - dt.timedelta(hours=1))
    # Both plan the same articles at once (a poll racing a takeover): one log row per story.
    barrier = threading.Barrier(2)
    outs = []

    def plan(p):
        barrier.wait()
        outs.append(on_new_articles(searcher, p.follow, new(corpus_dir), NOW, OLD_TOO))

    threads = [threading.Thread(target=plan, args=(p,)) for p in (a, b)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(outs) == 2  # neither failed
    planned = b.follow.deliveries()
    assert len(planned) == 4 and {d.subscription.topic for d in planned} == {
        "奈良の鹿", "将棋", "富士山", "停戦"
    }  # fmt: skip
    posted: list = []
    assert a.send(posted, limit=3, crash_after=1) == 1  # A posts one, dies holding two claimed
    assert b.send(posted) == 0  # A still holds the lease: B sends nothing
    a.die()
    assert b.send(posted) == 3  # B takes over and sends the rest, the claimed two included
    assert b.send(posted) == 0
    assert sorted(posted) == sorted({(d.subscription.topic, d.story) for d in planned})
    assert {d.state for d in b.follow.deliveries()} == {"sent"}
    # A restarted process polls the same articles again: nothing new is planned or sent.
    again = Process(b.store.options.url)
    again.lease.acquire()
    on_new_articles(searcher, again.follow, new(corpus_dir), NOW, OLD_TOO)
    assert again.send(posted) == 0 and len(posted) == 4
    again.die()


def dump(url: str) -> dict[str, list[tuple]]:
    """Every row of every follow table."""
    import psycopg

    with psycopg.connect(url) as conn:
        conn.execute(f"set search_path = {StoreOptions('postgres', url).schema}")
        names = [
            r[0]
            for r in conn.execute(
                "SELECT table_name FROM information_schema.tables "
                "WHERE table_schema=current_schema() AND table_name LIKE 'follow%'"
            )
        ]
        return {n: conn.execute(f'SELECT * FROM "{n}"').fetchall() for n in names}


def test_no_raw_discord_id_is_stored_in_the_database(pg_url, searcher, corpus_dir):
    p = Process(pg_url)
    p.follow.follow("member", MEMBER, "将棋", NOW - dt.timedelta(hours=1))
    p.follow.follow("channel", CHANNEL, "将棋", NOW - dt.timedelta(hours=1))
    p.follow.set_digest("member", MEMBER, "21:00", "Asia/Tokyo")
    on_new_articles(searcher, p.follow, new(corpus_dir), NOW, OLD_TOO)
    tables = dump(pg_url)
    assert len(tables["follow_subscriptions"]) == 2 and tables["follow_digests"]
    assert raw_ids_found(tables, (MEMBER, CHANNEL)) == []
    # Another process with the same key finds and delivers them; one with another key cannot.
    other = Process(pg_url)
    assert sorted(d.subscription.target for d in other.follow.claim()) == [MEMBER, CHANNEL]
    assert other.follow.unfollow("channel", CHANNEL, "将棋")
    stranger = Process(pg_url, key=bytes(32))
    assert stranger.follow.digests() == []
    assert [s.paused for s in stranger.follow.subscriptions()] == [KEY_CHANGED]
    for q in (p, other, stranger):
        q.die()


def test_old_tables_with_plain_ids_are_migrated_on_open(pg_url):
    import psycopg

    schema = StoreOptions("postgres", pg_url).schema
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
        conn.execute(f"set search_path = {schema}")
        conn.execute(
            "CREATE TABLE follow_subscriptions (id BIGSERIAL PRIMARY KEY, kind TEXT NOT NULL, "
            "target BIGINT NOT NULL, topic TEXT NOT NULL, created_at TEXT NOT NULL, "
            "paused TEXT, told INTEGER NOT NULL DEFAULT 0, UNIQUE (kind, target, topic))"
        )
        conn.execute(
            "CREATE TABLE follow_digests (kind TEXT NOT NULL, target BIGINT NOT NULL, "
            "at TEXT NOT NULL, tz TEXT NOT NULL, last_sent TEXT, PRIMARY KEY (kind, target))"
        )
        conn.execute(
            "INSERT INTO follow_subscriptions (kind, target, topic, created_at) VALUES "
            "('member', %s, '将棋', '2025-04-16T10:00:00+00:00'), "
            "('channel', %s, '富士山', '2025-04-16T10:00:00+00:00')",
            (MEMBER, CHANNEL),
        )
        conn.execute(
            "INSERT INTO follow_digests VALUES ('member', %s, '21:00', 'Asia/Tokyo', NULL)",
            (MEMBER,),
        )
    p = Process(pg_url)
    assert sorted(s.target for s in p.follow.subscriptions()) == [MEMBER, CHANNEL]
    assert p.follow.digests() == [("member", MEMBER, "21:00", "Asia/Tokyo", None)]
    assert raw_ids_found(dump(pg_url), (MEMBER, CHANNEL)) == []
    assert not p.follow.follow("member", MEMBER, "将棋", NOW)[1]  # unique on the hash
    sub, created = p.follow.follow("member", MEMBER, "囲碁", NOW)  # the serial goes on
    assert created and sub.id == 3
    p.die()
    again = Process(pg_url)  # opened again: nothing left to migrate
    assert len(again.follow.subscriptions()) == 3
    again.die()
