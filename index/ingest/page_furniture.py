"""A page without its furniture (navigation, ads, share buttons, related lists, comments), in time
linear in the page: text sizes are counted once, bottom up, and every rule reads those counts."""

from __future__ import annotations

import copy
import functools
import re

from .page_budget import Budget

# Class and id words of page furniture. A class or id token is furniture when it is one of these
# or begins or ends with one ("share-buttons", "site-footer", "jp-relatedposts"); a word in the
# middle ("elementor-widget-container", "content-with-sidebar-wrp") names a layout, not furniture.
FURNITURE = {
    "ad", "ads", "advert", "advertisement", "banner", "sponsor", "sponsored", "pr", "share",
    "sns", "social", "related", "relatedposts", "kanren", "recommend", "ranking", "popular",
    "comment", "comments", "reaction", "reactions", "breadcrumb", "nav", "gnav", "menu",
    "sidebar", "widget", "footer", "pagination", "sharedaddy", "respond", "newsletter",
    "byline", "date", "timestamp", "dateline",
}  # fmt: skip
# Words that page builders also give to blocks of article text ("widget-span", "hs_cos_wrapper
# _widget"): an element named only so is furniture when it is short or mostly links.
WEAK = {
    "widget",
    "sidebar",
    "pagination",
    "popular",
    "banner",
    "byline",
    "date",
    "timestamp",
    "dateline",
}
SHORT = 200  # non-space characters: a date line, a byline, an ad or a widget's few links
# A token with one of these parts (and no furniture word first or last) names the article.
CONTENT = {"article", "content", "body", "main", "entry", "story", "text", "post"}
FURNITURE_TAGS = (
    "script", "style", "noscript", "iframe", "form", "button", "nav", "aside", "footer", "ins",
    "amp-ad", "amp-embed", "amp-sidebar", "amp-social-share", "amp-analytics", "svg",
)  # fmt: skip
# Inline formatting: trafilatura would write it as Markdown emphasis or raw <u> tags.
INLINE = ("b", "strong", "i", "em", "u", "s", "strike", "del", "mark", "small", "big", "tt")
_NO_TEXT = {"script", "style", "noscript", "template", "svg"}
_KEEP = ("body", "html", "main", "article", "h1")
_CONTAINERS = {"div", "td", "ul", "ol", "dl", "font", "section", "p", "table", "li", "span"}
# Ads and copyright lines: whole words ("Prof.", "Additionally", "Provided by" are not ads).
AD_OR_COPYRIGHT = re.compile(
    r"^\s*(?:広告|スポンサーリンク|©|\(c\)|(?:PR|AD|advertisement|sponsored|copyright)(?![a-z]))",
    re.I,
)
# A line that is only a date ("2025年4月2日 10:00 配信"): the date is read from metadata.
DATE_LINE = re.compile(
    r"^(?:\d{4}[年/.-]\d{1,2}[月/.-]\d{1,2}日?)(?:[(（][月火水木金土日][)）])?"
    r"(?:\d{1,2}[:時]\d{2}分?)?(?:配信|更新|公開|掲載|発行)?$"
)
MOST = 0.5  # an element holding this share of the page's text is the article's, never furniture


class Sizes:
    """Non-space characters of text under each element, of it inside links, links and <h1>s."""

    def __init__(self, tree, budget: Budget) -> None:
        self.nodes = list(tree.iter())  # holds the proxies, so the dicts' keys stay the same
        self.text: dict = {}
        self.linked: dict = {}
        self.links: dict = {}
        self.headed: set = set()  # elements holding an <h1> or an <article>
        for n, el in enumerate(reversed(self.nodes)):
            if n % 5000 == 0:
                budget.check()
            self._count(el)

    def _count(self, el) -> None:
        tag = el.tag if isinstance(el.tag, str) else ""
        size = chars(el.text) if tag and tag not in _NO_TEXT else 0
        linked = links = 0
        for child in el:
            size += self.text[child] + chars(child.tail)
            linked += self.linked[child]
            links += self.links[child]
            if child in self.headed or child.tag in ("h1", "article"):
                self.headed.add(el)
        if tag == "a":
            linked, links = size, links + 1
        self.text[el], self.linked[el], self.links[el] = size, linked, links


def without_furniture(tree, sizes: Sizes, budget: Budget):
    """A copy of the page without navigation, ads, share buttons, related lists and comments.

    trafilatura alone keeps link lists in table layouts and ad or comment blocks that are not
    marked up as such; these are named by their class or id, or are mostly links. sizes are
    the page's own; the copy's elements are found by their place in document order.
    """
    doomed = _doomed(tree, sizes, budget)
    clone = copy.deepcopy(tree)
    nodes = list(clone.iter())
    for n in doomed:
        if nodes[n].getparent() is not None:
            nodes[n].drop_tree()
    return _without_inline(clone)


def _doomed(tree, sizes: Sizes, budget: Budget) -> list[int]:
    """Places (in document order) of the furniture elements."""
    whole = max(sizes.text.get(tree, 0), 1)
    # Highlighted code names its tokens "comment", "date"...: it is never furniture.
    code = {d for block in tree.iter("pre", "code") for d in block.iter() if d is not block}
    doomed = []
    for n, el in enumerate(sizes.nodes):
        if n % 2000 == 0:
            budget.check()
        if not isinstance(el.tag, str) or el.tag in _KEEP or el in code:
            continue
        if el.tag in _NO_TEXT:
            doomed.append(n)
        elif sizes.text[el] >= MOST * whole or el in sizes.headed:
            continue  # the article's own container (an ASP.NET <form>, a layout "sidebar")
        elif el.tag in FURNITURE_TAGS:
            doomed.append(n)
        else:
            named = _named_furniture(el)
            if named == "furniture" or (named == "weak" and _short_or_links(el, sizes)):
                doomed.append(n)
            elif el.tag in _CONTAINERS and _mostly_links_or_ad(el, sizes):
                doomed.append(n)
    return doomed


def reading_copy(tree):
    """A copy of the whole page for trafilatura, without inline formatting."""
    return _without_inline(copy.deepcopy(tree))


def _without_inline(tree):
    for el in list(tree.iter(*INLINE)):
        if el.getparent() is not None:
            el.drop_tag()
    return tree


def _named_furniture(el) -> str:
    """ "furniture" or "weak" when a class or id token names furniture and none the article."""
    tokens = f"{el.get('class') or ''} {el.get('id') or ''}".lower().split()
    kinds = {_token_kind(t) for t in tokens[:50]}
    if "content" in kinds:
        return ""
    return "furniture" if "furniture" in kinds else "weak" if "weak" in kinds else ""


@functools.lru_cache(maxsize=4096)
def _token_kind(token: str) -> str:
    parts = [p for p in re.split(r"[-_]+", token[:200]) if p]
    if not parts:
        return ""
    words = {token, parts[0], parts[-1]} & FURNITURE
    if words:
        return "weak" if words <= WEAK else "furniture"
    return "content" if CONTENT.intersection(parts) else ""


def unwrap_layout_tables(tree) -> None:
    """Tables that lay out a page (they hold headings, paragraphs, tables or <br><br> text)
    become plain blocks; a data table stays a table."""
    for table in list(tree.iter("table")):
        inner = [el for el in table.iter("p", "h1", "h2", "h3", "table") if el is not table]
        if not inner and not any(_paragraph_break(br) for br in table.iter("br")):
            continue
        for el in [table, *table.iter("tbody", "thead", "tfoot", "tr", "td", "th")]:
            el.tag = "div"
            for attr in ("colspan", "rowspan"):
                el.attrib.pop(attr, None)


def _paragraph_break(br) -> bool:
    """<br><br>: how old pages end a paragraph."""
    after = br.getnext()
    return after is not None and after.tag == "br" and not (br.tail or "").strip()


def _short_or_links(el, sizes: Sizes) -> bool:
    size = sizes.text[el]
    return size < SHORT or sizes.linked[el] >= 0.5 * size


def _mostly_links_or_ad(el, sizes: Sizes) -> bool:
    size = sizes.text[el]
    if not size:
        return False
    if size < 80:  # short: its text is read only now, so this stays linear
        text = " ".join(el.text_content().split())
        if AD_OR_COPYRIGHT.match(text) or DATE_LINE.match("".join(text.split())):
            return True
    return sizes.links[el] >= 3 and sizes.linked[el] / size >= 0.6


def chars(text: str | None) -> int:
    """Non-space characters: what a page's share of text is counted in."""
    return len("".join(text.split())) if text else 0
