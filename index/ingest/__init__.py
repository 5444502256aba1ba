"""Ingest: pages and feeds fetched, their article text extracted and written as articles."""

import importlib

# The public surface (bot/ imports only these); imported on first use, as in index/__init__.py:
# the settings loader and `newsbot info` need none of lxml, trafilatura or feedparser.
_LAZY = {
    "Added": "articles",
    "add_url": "articles",
    "write": "articles",
    "destination": "articles",
    "PollReport": "feeds",
    "poll": "feeds",
    "state_path": "feeds",
    "state_of": "feeds",
    "poller_lease": "feeds",
    "outlet_of": "outlets",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str):
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
