"""One story, one alert: new articles about the same event (several outlets, one window) grouped,
and an article seen before (edited, or under a new link) known by its identity."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from ..ingest.articles import text_identity
from ..retrieval.ranker import Index
from .match import first_section, passages_of

# Two articles report one event when their article vectors (the mean of their passages') are
# at least this close and they were published within WINDOW_DAYS of each other. Measured on
# tests/data/follow/stories (3 + 2 outlets' versions of two events beside the same subjects'
# other events) and the test articles: benchmarks/follow_eval.py prints both sides' cosines.
SAME_STORY = 0.925
WINDOW_DAYS = 2


@dataclass
class Story:
    """Articles reporting one event; its key is its first article's identity."""

    key: str
    vector: np.ndarray
    published: dt.date | None
    articles: list[str] = field(default_factory=list)


def identity(markdown: str) -> tuple[str | None, str | None]:
    """(url, body digest) of an article file's text: the index's own notion of sameness."""
    return text_identity(markdown)


def story_key(url: str | None, digest: str | None, article: str) -> str:
    """A stable key for a new story (no raw link stored twice: a short hash)."""
    seed = url or digest or article
    return hashlib.sha256(seed.encode("utf-8")).hexdigest()[:20]


def article_vector(index: Index, article: str) -> np.ndarray | None:
    """The unit mean of an article's passage vectors (None when the index lacks it)."""
    pids = passages_of(index, article)
    if not pids:
        return None
    v = np.asarray(index.vectors[np.asarray(pids)], dtype=np.float32).mean(axis=0)
    n = float(np.linalg.norm(v))
    return v / n if n else v


def published_of(index: Index, article: str) -> dt.date | None:
    s = first_section(index, article)
    try:
        return dt.date.fromisoformat(str((s or {}).get("published") or "")[:10])
    except ValueError:
        return None


def same_event(a: Story, vector: np.ndarray, published: dt.date | None, cosine: float) -> bool:
    """Whether an article (its vector and date) reports a story's event."""
    if a.published and published and abs((a.published - published).days) > WINDOW_DAYS:
        return False
    return float(a.vector @ vector) >= cosine


def group(
    index: Index,
    articles: Sequence[str],
    recent: Sequence[Story] = (),
    cosine: float = SAME_STORY,
) -> list[Story]:
    """Each new article put in the closest recent (or newly begun) story of its event."""
    stories = list(recent)
    touched: list[Story] = []
    for article in articles:
        vector = article_vector(index, article)
        if vector is None:
            continue
        published = published_of(index, article)
        fits = [s for s in stories if same_event(s, vector, published, cosine)]
        if fits:
            story = max(fits, key=lambda s: float(s.vector @ vector))
        else:
            story = Story(story_key(None, None, article), vector, published)
            stories.append(story)
        story.articles.append(article)
        if story not in touched:
            touched.append(story)
    return touched
