"""Followed topics in PostgreSQL: two processes on one database, each alert sent exactly once,
including when the feed poller's lease passes from one to the other mid-round."""

from __future__ import annotations

import datetime as dt
import threading

import pytest

from index.follow import FollowStore, Limits, NewArticle, on_new_articles
from index.ingest import poller_lease
from index.options import StoreOptions
from index.storage.postgres.store import PgStore

from .conftest import SEED_ARTICLE

NOW = dt.datetime(2025, 4, 16, 12, tzinfo=dt.UTC)
OLD_TOO = Limits(max_age_hours=24 * 3650, member_per_hour=100, member_per_day=100)
ARTICLES = ("nara-deer.md", "shogi-titles.md", "fuji-climbing.md", SEED_ARTICLE.name)


class Process:
    """What one bot process holds: its own store connection, follow tables and lease."""

    def __init__(self, url: str):
        self.store = PgStore(StoreOptions("postgres", url))
        self.follow = FollowStore.postgres(self.store)
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
