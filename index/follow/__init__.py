"""Following a topic: new articles matched by meaning, merged into stories, delivered once.

A public package (tests/test_architecture.py): the bot uses the names below.
"""

from ..lazy import exports

_LAZY = {
    "Delivery": "store",
    "FollowStore": "store",
    "Subscription": "store",
    "open_for": "store",
    "Limits": "deliver",
    "NewArticle": "deliver",
    "Outcome": "deliver",
    "on_new_articles": "deliver",
    "Match": "match",
    "judge": "match",
    "match_article": "match",
    "passages_of": "match",
    "topics": "match",
    "as_answer": "explain",
    "recent": "explain",
    "why": "explain",
    "figures": "evaluate",
    "judged": "evaluate",
    "load_pairs": "evaluate",
}

__all__ = sorted(_LAZY)

__getattr__, __dir__ = exports(__name__, _LAZY)
