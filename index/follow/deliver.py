"""A poll's new articles turned into planned alerts: matched, merged into stories, capped, logged.

`on_new_articles` is the one call the feed poller makes; the bot then posts what is queued
(FollowStore.claim) and folds the rest into the daily digest.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

from ..retrieval.filters import outlets_of
from ..retrieval.ranker import Index
from .match import Match, Topic, first_section, judge, match_article, passages_of, topics
from .store import FollowStore, Subscription
from .stories import WINDOW_DAYS, Story, group, identity, published_of

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Limits:
    """How much one member or channel is sent ([follow] in the settings)."""

    channel_per_hour: int = 5
    channel_per_day: int = 20
    member_per_hour: int = 3
    member_per_day: int = 10
    max_age_hours: float = 24.0  # older articles go to no alert (nor digest)


@dataclass(frozen=True)
class NewArticle:
    """One article a poll (or /add) wrote: its file name in the index, and its text."""

    file: str
    markdown: str = ""


@dataclass
class Outcome:
    """What one call planned (for logs and tests)."""

    alerts: int = 0
    digest: int = 0
    known: list[str] = field(default_factory=list)  # seen before: edited, or a new link
    stale: list[str] = field(default_factory=list)  # published too long ago
    stories: int = 0


def on_new_articles(
    searcher,
    store: FollowStore,
    articles: Sequence[NewArticle],
    now: dt.datetime,
    limits: Limits = Limits(),
) -> Outcome:
    """Match new (indexed) articles against every subscription and log one delivery per story."""
    out = Outcome()
    index = searcher.index
    fresh: list[NewArticle] = []
    for a in articles:
        url, digest = identity(a.markdown) if a.markdown else (None, None)
        story = store.known_story(url, digest)
        if story is not None:  # an edit, or the same text under a new GUID or link
            out.known.append(a.file)
            continue
        if _stale(index, a.file, now, limits):
            out.stale.append(a.file)
        fresh.append(a)
    if not fresh:
        return out
    recent = store.recent_stories(now - dt.timedelta(days=WINDOW_DAYS))
    stories = group(index, [a.file for a in fresh], recent)
    ids = {a.file: identity(a.markdown) if a.markdown else (None, None) for a in fresh}
    for story in stories:
        store.remember(story, [(f, *ids.get(f, (None, None))) for f in story.articles], now)
    subs = [s for s in store.subscriptions() if s.paused is None]
    out.stories = len(stories)
    if not subs:
        return out
    followed = topics(index, searcher.embedder, sorted({s.topic for s in subs}), searcher.options)
    for story in stories:
        live = [f for f in story.articles if f in ids and f not in out.stale]
        matches = [m for f in live for m in match_article(index, f, followed, searcher.options)]
        by_topic: dict[str, Match] = {}
        for m in matches:
            if m.matched and m.topic not in by_topic:
                by_topic[m.topic] = _quoted(searcher, followed, m)
        _plan_story(index, store, story, subs, by_topic, now, limits, out)
    return out


def _quoted(searcher, followed: list[Topic], m: Match) -> Match:
    """The match judged again with its quotes: only the ones that become alerts pay for them."""
    topic = next(t for t in followed if t.text == m.topic)
    index = searcher.index
    return judge(index, topic, m.article, passages_of(index, m.article), searcher.options)


def _plan_story(index, store, story, subs, by_topic, now, limits, out) -> None:
    for sub in subs:
        m = by_topic.get(sub.topic)
        if m is None or sub.created_at > _utc(now):
            continue
        state = "queued" if _under_caps(store, sub, now, limits) else "digest"
        if store.plan(sub.id, story.key, state, payload(index, story, m), now):
            if state == "queued":
                out.alerts += 1
            else:
                out.digest += 1


def _under_caps(store: FollowStore, sub: Subscription, now: dt.datetime, limits: Limits) -> bool:
    hour, day = (
        (limits.member_per_hour, limits.member_per_day)
        if sub.kind == "member"
        else (limits.channel_per_hour, limits.channel_per_day)
    )
    if store.alerts_since(sub.kind, sub.target, now - dt.timedelta(hours=1)) >= hour:
        return False
    return store.alerts_since(sub.kind, sub.target, now - dt.timedelta(days=1)) < day


def _stale(index: Index, article: str, now: dt.datetime, limits: Limits) -> bool:
    """Published before the alert window (a date alone counts as its whole day)."""
    day = published_of(index, article)
    if day is None:
        return False
    end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC)
    return end < now - dt.timedelta(hours=limits.max_age_hours)


def payload(index: Index, story: Story, m: Match) -> dict:
    """What an alert says: the story's articles (title, outlet, date, link) and the quotes."""
    articles = []
    for f in story.articles:
        s = first_section(index, f)
        if s is None:
            continue
        articles.append(
            {
                "file": f,
                "title": s["title"],
                "outlets": outlets_of(s),
                "published": s.get("published") or "",
                "url": (s.get("sources") or [""])[0],
            }
        )
    first = next((a for a in articles if a["file"] == m.article), articles[0] if articles else {})
    return {
        "topic": m.topic,
        "article": m.article,
        "quotes": list(m.quotes),
        "url": first.get("url", ""),
        "articles": articles,
    }


def _utc(now: dt.datetime) -> str:
    from .store import utc

    return utc(now)
