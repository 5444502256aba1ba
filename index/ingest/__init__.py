"""Ingest: pages and feeds fetched, their article text extracted and written as articles."""

from ..lazy import exports

# The public surface (bot/ imports only these); imported on first use, as in index/__init__.py:
# the settings loader and `newsbot info` need none of lxml, trafilatura or feedparser.
_LAZY = {
    "Added": "articles",
    "AddStatus": "articles",
    "add_url": "articles",
    "write": "articles",
    "destination": "articles",
    "PollReport": "feeds",
    "poll": "feeds",
    "state_path": "feed_state",
    "state_of": "feeds",
    "poller_lease": "feeds",
    "outlet_of": "outlets",
    "shown": "urls",
    "stored": "urls",
}

__all__ = sorted(_LAZY)


__getattr__, __dir__ = exports(__name__, _LAZY)
