"""The headline without the site's name around it, and the site's name from an old page's header;
each page element's text is read at most once, and only when it is short enough to matter."""

from __future__ import annotations

import re

from ..corpus.text import squash
from .page_budget import Budget
from .page_furniture import Sizes

_TITLE_SEPARATOR = re.compile(r"[\s\-–—|｜:：/／»]+")


def headline(
    title: str | None, names: list[str], tree, sizes: Sizes, budget: Budget
) -> tuple[str | None, str | None]:
    """The headline without the site's (or section's) name around it; and the site's name
    when the page says it only in its header and <title> (old pages have no metadata)."""
    if not title:
        return None, None
    for name in names:
        stripped = strip_name(title, name)
        if stripped:
            return stripped, None
    found = _headline_element(tree, title, sizes, budget)
    if found is not None:
        title = " ".join(found.text_content().split())
    tag = tree.find(".//title")
    whole = " ".join(tag.text_content().split()) if tag is not None else ""
    at = whole.find(title)
    rest = f"{whole[:at]} {whole[at + len(title) :]}" if at >= 0 else ""
    words = [w for w in _TITLE_SEPARATOR.split(rest) if len(w) >= 2]
    if not words:
        return title, None
    named = _page_names(tree, {squash(w).lower() for w in words}, sizes, budget)
    return title, next((w for w in words if w in named or squash(w).lower() in named), None)


def strip_name(title: str, name: str) -> str | None:
    """The title without the site's name after or before it: 「見出し｜名」, 「【名】見出し」."""
    n = re.escape(" ".join(name.split()))
    for pattern in (
        rf"^(.+?)\s*(?:[-–—|｜:：/／»]\s*{n}|[(（【\[]{n}[)）】\]])$",
        rf"^(?:[【\[]{n}[】\]]|{n}\s*[-–—|｜:：/／»])\s*(.+)$",
    ):
        m = re.match(pattern, title)
        if m and m.group(1).strip():
            return m.group(1).strip()
    return None


def _headline_element(tree, title: str, sizes: Sizes, budget: Budget):
    """The page element whose text is the <title> less words before or after it: the headline."""
    whole = squash(title).lower()
    best, best_len = None, 0
    h1 = tree.find(".//h1")
    candidates = [h1] if h1 is not None else tree.iter("b", "strong", "font", "td", "div", "span")
    for n, el in enumerate(candidates):
        if n % 2000 == 0:
            budget.check()
        # NFKC may join a kana and its mark: an element up to twice the title's length may match.
        if not 0 < sizes.text.get(el, 0) <= 2 * len(whole):
            continue
        text = squash(el.text_content()).lower()
        # At least half the title: a logo or section name in bold is not the headline.
        if best_len < len(text) < len(whole) and 2 * len(text) >= len(whole):
            if whole.endswith(text) or whole.startswith(text):
                best, best_len = el, len(text)
    return best


def _page_names(tree, words: set[str], sizes: Sizes, budget: Budget) -> set[str]:
    """Which words are a logo's alt text (as written) or a text of its own outside links."""
    longest = max(len(w) for w in words)
    linked = {d for a in tree.iter("a") for d in a.iter()}
    found = set()
    for n, el in enumerate(sizes.nodes):
        if n % 2000 == 0:
            budget.check()
        if not isinstance(el.tag, str) or el.tag in ("title", "a") or el in linked:
            continue
        if el.tag == "img":
            found.add((el.get("alt") or "").strip())
        elif 0 < sizes.text[el] <= 2 * longest:
            text = squash(el.text_content()).lower()
            if text in words:
                found.add(text)
    return found
