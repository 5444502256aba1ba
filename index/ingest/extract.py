"""A fetched news page → its article: metadata, and the body as Markdown sections (trafilatura)."""

from __future__ import annotations

import copy
import functools
import ipaddress
import logging
import re
from dataclasses import dataclass
from urllib.parse import quote, urljoin, urlsplit

import lxml.html
import trafilatura
from htmldate import find_date
from tld import get_fld
from trafilatura.metadata import extract_metadata
from trafilatura.settings import use_config

from ..corpus.text import squash
from ..errors import PageError
from .outlets import outlet_for_host
from .page_budget import DEADLINE_SECONDS, Budget
from .page_furniture import (
    DATE_LINE,
    Sizes,
    chars,
    reading_copy,
    unwrap_layout_tables,
    without_furniture,
)
from .page_headline import headline
from .page_jsonld import json_ld

log = logging.getLogger(__name__)

MIN_TEXT_CHARS = 120  # shorter bodies are teasers, shells or error pages, not articles
# A furniture-free reading this short may have lost the article with a block wrongly taken for
# furniture: trafilatura's reading of the whole page is taken if longer. (Checking every reading
# under half the page's text lost more than it won: on Yahoo pages the whole page's reading also
# holds other articles' teasers.)
FALLBACK_CHARS = 250
TEASER_CHARS = 1500  # a paywalled page's public part is shorter; a metered page's full text longer
# trafilatura gives up on a main text under 250 characters and falls back to a flat one; a short
# Japanese article is that long (the fallback loses its paragraphs and headings).
_TRAFILATURA = use_config()
_TRAFILATURA.set("DEFAULT", "MIN_EXTRACTED_SIZE", str(MIN_TEXT_CHARS))
# Said by paywalled pages where the public text stops.
PAYWALL = re.compile(
    r"有料会員(?:限定|登録|になると|の方)|会員限定(?:記事|です)|続きは(?:有料|会員|ログイン)"
    r"|残り\d+文字|続きを読むには|この記事の続きを|購読(?:者限定|手続き)"
    r"|subscribers? only|subscribe to (?:read|continue)",
    re.I,
)
NOT_FOUND = re.compile(
    r"ページが見つかりません|ページは見つかりませんでした|お探しのページ|ページは存在しません"
    r"|削除された可能性|公開期間が終了|page not found|404 not found|^404$",
    re.I,
)
_XML_DECLARATION = re.compile(r"^\ufeff?\s*<\?xml[^>]*\?>")
_HEADING = re.compile(r"^(#{1,6})\s+(.*)$")
# [words](target); trafilatura writes a target with spaces or brackets as <target>.
_MD_LINK = re.compile(r"(!?)\[([^\[\]]*)\]\((<[^\n]*?>(?=\))|[^()\s]*(?:\([^()\s]*\))?[^()\s]*)\)")
_DATE = re.compile(r"(\d{4})[-/年.](\d{1,2})[-/月.](\d{1,2})")
# The last lines of old pages: copyright notices, back links, "to the top of the page".
_TAIL = re.compile(
    r"無断(?:で)?(?:転載|複製|転用|使用)|allrightsreserved|^(?:copyright|\(c\)|©)"
    r"|戻る[>＞》»]*$|^[<＜《«←]|(?:トップ|先頭|上)へ(?:戻る)?$",
    re.I,
)
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")  # not \t, \n: whitespace, joined
# trafilatura's Markdown escapes ("Choreographer\_Jeong"): the body keeps the characters as written.
_CODE_SPAN = re.compile(r"(?<!\\)`+([^`]+?)`+")  # inline code: its words, without backticks
_MD_ESCAPE = re.compile(r"\\([\\`*_{}\[\]()#+\-.!|<>~])")


@dataclass(frozen=True)
class Extracted:
    """What a page says about itself, and its article text as Markdown."""

    title: str
    url: str  # canonical
    published: str | None
    modified: str | None
    outlet: str
    body: str  # lede, then "## heading" sections

    @property
    def sections(self) -> int:
        """Sections the loader will see: the lede (if any) and each heading's body."""
        blocks = re.split(r"^#{2,6} .*$", self.body, flags=re.M)
        return sum(1 for b in blocks if b.strip())

    def plain(self) -> str:
        """The body as a reader sees it: no heading marks, links as their words."""
        text = _MD_LINK.sub(lambda m: m.group(2), self.body)
        return re.sub(r"^#{1,6}\s+", "", text, flags=re.M)


@functools.cache
def _keep_logging() -> None:
    """Stop dateparser (htmldate reads dates with it) from configuring the process's logging.

    The first time it logs in a process whose root logger has no handler yet (a library user,
    the tests), it calls dictConfig with disable_existing_loggers: every logger made before it
    (index.*, discord.*) is silenced for good. Its setup becomes a no-op, once.
    """
    import dateparser.utils

    dateparser.utils.setup_logging = lambda: None


def extract(html: str, url: str, deadline: float = DEADLINE_SECONDS) -> Extracted:
    """The article on a page fetched from url; PageError says why a page has none.

    deadline is the CPU time (seconds) the page may take; a page over it is refused.
    """
    try:
        return _extract(html, url, Budget(deadline))
    except PageError:
        raise
    except Exception as e:  # noqa: BLE001 - any page must end in an article or a reason
        # One odd page must not stop an add or a feed poll: it is refused, and the cause kept.
        log.debug("Extraction failed on %s", url, exc_info=True)
        raise PageError(f"the page could not be read ({type(e).__name__})") from None


def _extract(html: str, url: str, budget: Budget) -> Extracted:
    """extract() without its boundary: any error may escape."""
    _keep_logging()
    # lxml refuses text that still declares its byte encoding (XHTML's <?xml ... ?>).
    html = _XML_DECLARATION.sub("", html, count=1)
    try:
        tree = lxml.html.fromstring(html)
    except (lxml.etree.ParserError, ValueError):
        raise PageError("not an HTML page") from None
    unwrap_layout_tables(tree)
    meta, ld, sizes = _meta(tree), json_ld(tree), Sizes(tree, budget)
    title = _first(meta.get("og:title"), ld.get("headline"), _title(tree))
    host = urlsplit(url).hostname or ""
    names = [n for n in (meta.get("og:site_name"), _publisher(ld), outlet_for_host(host)) if n]
    if _not_found(title, tree):
        raise PageError("the page says it was not found (a 404 page)")
    doc = _main_text(tree, sizes, url, budget)
    budget.check()
    text = getattr(doc, "text", None) or ""
    title = title or _first(_metadata(tree, url).title)
    title, site_name = headline(title, names, tree, sizes, budget)
    budget.check()
    body = _markdown(text, title, url)
    plain = Extracted("", url, None, None, "", body).plain()
    if _paywalled(plain, ld):
        raise PageError("paywalled: only a teaser is public")
    if len("".join(plain.split())) < MIN_TEXT_CHARS:
        if _needs_script(tree):
            raise PageError("no article text (the page needs JavaScript)")
        raise PageError("no article text on the page")
    if not title:
        raise PageError("the page has no title")
    return Extracted(
        title=_first(title) or title,
        url=_canonical(tree, meta, ld, url),
        published=_date(
            ld.get("datePublished"),
            meta.get("article:published_time"),
            meta.get("og:article:published_time"),
            meta.get("pubdate"),
            meta.get("date"),
            _time_tag(tree),
            # htmldate's deep search guesses from any number; this reads the page's own.
            lambda: find_date(copy.deepcopy(tree), extensive_search=False, original_date=True),
            _date_after_title(tree),
            _date_after_headline(tree, title),
        ),
        modified=_date(ld.get("dateModified"), meta.get("article:modified_time")),
        outlet=_first(*names, site_name, host),
        body=body,
    )


def _main_text(tree, sizes: Sizes, url: str, budget: Budget):
    """trafilatura's reading of the page without its furniture, as Markdown."""
    bare = without_furniture(tree, sizes, budget)
    doc = _trafilatura(bare, url)
    got = chars(getattr(doc, "text", None))
    if got < FALLBACK_CHARS:
        budget.check()
        whole = _trafilatura(reading_copy(tree), url)
        # Too short to keep: a block taken for furniture may have held the article.
        if chars(getattr(whole, "text", None)) > got:
            return whole
    return doc


def _trafilatura(tree, url: str):
    return trafilatura.bare_extraction(
        tree,
        url=url,
        with_metadata=False,  # read from the page itself; trafilatura's only when it has none
        include_comments=False,
        include_links=True,
        include_formatting=True,
        include_images=False,
        deduplicate=False,
        config=_TRAFILATURA,
    )


def _metadata(tree, url: str):
    """trafilatura's reading of the page's metadata: asked only when the page names no title."""
    return extract_metadata(copy.deepcopy(tree), url)


def _paywalled(plain: str, ld: dict) -> bool:
    """True when what is public is a teaser: short, and the page says or flags that more is paid.

    Metered sites flag the article as not free yet send all of it: a full text is kept.
    """
    teaser = len("".join(plain.split())) < TEASER_CHARS
    said = PAYWALL.search(plain)
    if said and (teaser or said.start() >= len(plain) - 300):
        return True
    # A "paywall" class alone is no sign: free blogs carry the scripts of paywall plugins.
    return teaser and ld.get("isAccessibleForFree") in (False, "False", "false")


def _date_after_title(tree) -> str | None:
    """A date written as text just below the headline (old sites have no machine-readable one)."""
    h1 = tree.find(".//h1")
    if h1 is None:
        return None
    text, seen = [], 0
    for el in h1.itersiblings():
        # Comments and processing instructions have a tail but no text_content().
        part = (el.text_content() if isinstance(el.tag, str) else "") + (el.tail or "")
        text.append(part)
        seen += len(part)
        if seen > 300:
            break
    return _date("".join(text)[:300], (h1.tail or "")[:300])


def _date_after_headline(tree, headline: str) -> str | None:
    """A date in the page's text just after the headline, wherever the headline sits."""
    text = " ".join(tree.text_content().split())
    at = text.rfind(headline)  # the last: <title> may hold it first
    return _date(text[at + len(headline) : at + len(headline) + 120]) if at >= 0 else None


def _first(*values) -> str | None:
    """The first value with text, on one line and without control characters."""
    for v in values:
        if isinstance(v, str):
            v = " ".join(_CONTROL.sub("", v).split())
            if v:
                return v
    return None


def _meta(tree) -> dict[str, str]:
    """<meta property|name=... content=...> by lower-cased key; the first one wins."""
    out: dict[str, str] = {}
    for el in tree.iter("meta"):
        key = (el.get("property") or el.get("name") or el.get("itemprop") or "").strip().lower()
        if key and el.get("content") and key not in out:
            out[key] = el.get("content")
    return out


def _title(tree) -> str | None:
    h1 = tree.find(".//h1")
    if h1 is not None and h1.text_content().strip():
        return h1.text_content()
    t = tree.find(".//title")
    return t.text_content() if t is not None else None


def _publisher(ld: dict) -> str | None:
    publisher = ld.get("publisher")
    if isinstance(publisher, list) and publisher:
        publisher = publisher[0]
    if isinstance(publisher, dict):
        return publisher.get("name") if isinstance(publisher.get("name"), str) else None
    return publisher if isinstance(publisher, str) else None


def _canonical(tree, meta: dict, ld: dict, url: str) -> str:
    """<link rel=canonical>, og:url or JSON-LD url when on the same site; else the fetched URL."""
    links = [el.get("href") for el in tree.iter("link") if "canonical" in (el.get("rel") or "")]
    main = ld.get("mainEntityOfPage")
    main = main.get("@id") if isinstance(main, dict) else main
    for candidate in (*links, meta.get("og:url"), ld.get("url"), main):
        if not isinstance(candidate, str) or not candidate.strip():
            continue
        absolute = urljoin(url, candidate.strip())
        parts = urlsplit(absolute)
        # Another site's canonical would let a page overwrite that site's article here.
        if parts.scheme in ("http", "https") and _site(parts.hostname) == _site(
            urlsplit(url).hostname
        ):
            return absolute.split("#")[0]
    return url.split("#")[0]


def _site(host: str | None) -> str:
    """The registrable domain of a host under the Public Suffix List, private suffixes too
    (victim.github.io, not github.io); an IP address or an unlisted name stands for itself."""
    host = (host or "").lower().rstrip(".")
    try:
        return ipaddress.ip_address(host).compressed
    except ValueError:
        pass
    # The list is tld's bundled copy: nothing is downloaded.
    return get_fld(host, fix_protocol=True, fail_silently=True) or host


def _time_tag(tree) -> str | None:
    for el in tree.iter("time"):
        if el.get("datetime"):
            return el.get("datetime")
    return None


def _date(*values) -> str | None:
    """The first value that holds a date, as YYYY-MM-DD (the date as the page writes it)."""
    for v in values:
        v = v() if callable(v) else v  # an expensive reading, made only when the ones before fail
        m = _DATE.search(v) if isinstance(v, str) else None
        if m:
            y, mo, d = (int(x) for x in m.groups())
            if 1990 <= y <= 2100 and 1 <= mo <= 12 and 1 <= d <= 31:
                return f"{y:04d}-{mo:02d}-{d:02d}"
    return None


def _not_found(title: str | None, tree) -> bool:
    heads = [title or ""] + [h.text_content() for h in tree.iter("h1", "title")]
    return any(NOT_FOUND.search(" ".join(h.split())) for h in heads if h)


def _needs_script(tree) -> bool:
    scripts = sum(1 for _ in tree.iter("script"))
    noscript = " ".join(el.text_content() for el in tree.iter("noscript"))
    return scripts > 0 and ("javascript" in noscript.lower() or scripts >= 3)


def _markdown(text: str, title: str | None, url: str) -> str:
    """trafilatura's Markdown → this project's: '##' sections, absolute links, no emphasis."""
    lines, fenced = [], False
    for n, line in enumerate(text.splitlines()):
        if line.startswith("```"):
            fenced = not fenced
        if fenced or line.startswith("```"):
            lines.append(line.rstrip())  # code: "# a comment" is not a heading, "\_" is written
            continue
        m = _HEADING.match(line)
        if m:
            heading = m.group(2).strip().strip("*").strip()
            same = title and squash(heading).lower() == squash(title).lower()
            if (n == 0 and len(m.group(1)) == 1) or same:
                continue  # the title repeated as the body's first heading
            line = "#" * max(2, len(m.group(1))) + " " + heading
        else:
            line = _CODE_SPAN.sub(r"\1", line.replace("**", "").replace("__", ""))
        lines.append(_MD_ESCAPE.sub(r"\1", _MD_LINK.sub(lambda m: _link(m, url), line)).rstrip())
    body = "\n".join(_trim(lines, title))
    return re.sub(r"\n{3,}", "\n\n", body).strip() + "\n"


def _trim(lines: list[str], title: str | None) -> list[str]:
    """Without what old table layouts leave around the article: the site's header and tagline
    above the headline, the date line below it, back links and the copyright at the end."""
    plain = [squash(_MD_LINK.sub(lambda m: m.group(2), x)).lower().lstrip("#") for x in lines]
    head = [n for n, x in enumerate(plain[:8]) if title and x == squash(title).lower()]
    start = head[0] + 1 if head else 0
    while start < len(lines) and (
        not plain[start] or DATE_LINE.match(plain[start].strip("【】［］[]（）()"))
    ):
        start += 1
    end = len(lines)
    while end > start and (not plain[end - 1] or _TAIL.search(plain[end - 1])):
        end -= 1
    return lines[start:end]


def _link(m: re.Match, base: str) -> str:
    """Absolute http(s) links stay as sources; images, anchors and scripts keep only words."""
    bang, words, target = m.groups()
    if bang:
        return ""
    if target.startswith("<"):
        target = target[1:-1]
    # Spaces and non-ASCII in an href (lxml hands them over as written) are percent-encoded.
    absolute = quote(urljoin(base, target.strip()), safe="%/:=&?~#+!$,;'@()*[]")
    if urlsplit(absolute).scheme not in ("http", "https") or target.startswith("#"):
        return words
    return f"[{words}]({absolute})"
