"""Asking the coverage as it is: what a topic would have matched (a preview, `newsbot follow
--test`), why an article did or did not match (`--why`), and an alert as an answer to reply to."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np

from ..types import Answer
from .deliver import payload
from .match import Match, judge, match_article, passages_of, topics
from .stories import Story, published_of


@dataclass(frozen=True)
class Found:
    """One article a topic matches, and what an alert about it would say."""

    article: str
    published: str
    match: Match
    payload: dict


def recent(searcher, topic: str, days: int | None = None, limit: int = 3, now=None) -> list[Found]:
    """The newest articles (of the last days, if given) the topic matches, newest first."""
    index = searcher.index
    (followed,) = topics(index, searcher.embedder, [topic], searcher.options)
    today = (now or dt.datetime.now(dt.UTC)).date()
    out: list[Found] = []
    for t in searcher.topics(limit=searcher.topic_count()):
        day = published_of(index, t.article)
        if days is not None and (day is None or (today - day).days > days):
            continue
        (m,) = match_article(index, t.article, [followed], searcher.options, quote=True)
        if m.matched:
            story = Story(t.article, np.zeros(1, dtype=np.float32), day, [t.article])
            out.append(Found(t.article, t.published or "", m, payload(index, story, m)))
            if len(out) >= limit:
                break
    return out


def why(searcher, article: str, topic: str) -> Match:
    """The full judgement of one article (its file name, or its link) for a topic."""
    index = searcher.index
    file = _file_of(index, article)
    (followed,) = topics(index, searcher.embedder, [topic], searcher.options)
    return judge(index, followed, file, passages_of(index, file), searcher.options)


def _file_of(index, article: str) -> str:
    for s in index.sections:
        if s["article"] == article or article in (s.get("sources") or ()):
            return s["article"]
    return article


def as_answer(searcher, p: dict) -> Answer:
    """An alert as the answer a follow-up continues: its quotes, citing its articles."""
    index = searcher.index
    hits = []
    for a in p.get("articles", []):
        pids = passages_of(index, a["file"])
        if pids:
            hits.append(index.hit(pids[0], 1.0))
    quotes = tuple(p.get("quotes") or ())
    first = next((n for n, h in enumerate(hits, 1) if h.article == p.get("article")), 1)
    return Answer(
        p.get("topic", ""),
        " ".join(f"{q}[{first}]" for q in quotes),
        not hits,
        tuple(hits),
        tuple(first for _ in quotes),
        quotes,
    )
