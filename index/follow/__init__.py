"""Following a topic: new articles matched by meaning, merged into stories, delivered once."""

from .deliver import Limits, NewArticle, Outcome, on_new_articles
from .match import Match, judge, match_article, passages_of, topics
from .store import Delivery, FollowStore, Subscription

__all__ = [
    "Delivery",
    "FollowStore",
    "Limits",
    "Match",
    "NewArticle",
    "Outcome",
    "Subscription",
    "judge",
    "match_article",
    "on_new_articles",
    "passages_of",
    "topics",
]
