"""A page's JSON-LD article object, read with size and depth caps (no recursion limit reachable)."""

from __future__ import annotations

import json
import logging
import re
from collections import deque

log = logging.getLogger(__name__)

ARTICLE_TYPES = {
    "NewsArticle", "Article", "ReportageNewsArticle", "AnalysisNewsArticle", "BlogPosting",
    "Report", "OpinionNewsArticle", "BackgroundNewsArticle",
}  # fmt: skip
MAX_CHARS = 1_000_000  # a block larger than this is not a page's metadata
MAX_DEPTH = 64  # real JSON-LD nests a dozen levels; json.loads recurses once per level
MAX_ITEMS = 10_000  # objects and lists looked at per page
_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.S)
_BRACKET = re.compile(r"[\[\]{}]")


def json_ld(tree) -> dict:
    """The first article object in the page's JSON-LD (inside @graph or lists too)."""
    seen = 0
    for script in tree.iter("script"):
        if (script.get("type") or "").strip().lower() != "application/ld+json":
            continue
        data = _parse(script.text or "")
        stack = deque([data])
        while stack and seen < MAX_ITEMS:
            item = stack.popleft()
            seen += 1
            if isinstance(item, list):
                stack.extend(item)
            elif isinstance(item, dict):
                types = item.get("@type")
                types = types if isinstance(types, list) else [types]
                if ARTICLE_TYPES.intersection(t for t in types if isinstance(t, str)):
                    return item
                if "@graph" in item:
                    stack.append(item["@graph"])
    return {}


def _parse(text: str):
    """The block's data; None when it is broken, too large or nested too deep."""
    if len(text) > MAX_CHARS or _too_deep(text):
        log.debug("Ignoring JSON-LD too large or nested too deep")
        return None
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        log.debug("Ignoring broken JSON-LD")
        return None


def _too_deep(text: str) -> bool:
    """True when brackets outside strings nest deeper than MAX_DEPTH (a linear scan)."""
    depth = 0
    for m in _BRACKET.finditer(_STRING.sub('""', text)):
        depth += 1 if m.group() in "[{" else -1
        if depth > MAX_DEPTH:
            return True
    return False
