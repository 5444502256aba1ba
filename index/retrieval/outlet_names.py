"""Which outlet a typed name means: any case or width, a prefix, the site's domain or its romaji."""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from urllib.parse import urlsplit

from ..corpus.text import is_word_char
from ..errors import OutletError
from ..ingest.outlets import KNOWN_OUTLETS

# Domain labels that name no outlet: "news" is in several sites' hosts, the rest are suffixes.
_GENERIC = frozenset({"www", "www3", "news", "co", "or", "ne", "ac", "go", "jp", "com", "net"})
_GENERIC |= {"org", "app"}
# Below this length a typed name is matched only whole: "n" would be a prefix of half the list.
_MIN_PART = 2


def fold(name: str) -> str:
    """NFKC, lower case, letters and digits only: "ＴＢＳ news-dig" and "TBSNEWSDIG" are one."""
    return "".join(c for c in unicodedata.normalize("NFKC", name).lower() if is_word_char(c))


def keys(outlet: str) -> tuple[str, ...]:
    """What an outlet may be typed as: its name, and each domain of its site with that domain's
    own labels (mainichi.jp → "mainichijp", "mainichi"; newsdig.tbs.co.jp → "newsdig", "tbs")."""
    out = [fold(outlet)]
    for domain, name in KNOWN_OUTLETS.items():
        if fold(name) == out[0]:
            out.append(fold(domain))
            out += [fold(label) for label in domain.split(".") if label not in _GENERIC]
    return tuple(dict.fromkeys(k for k in out if k))


def matches(typed: str, outlets: Sequence[str]) -> list[str]:
    """The outlets typed may mean, in the given order: those it names whole, else those it
    begins, else those it is part of (every outlet when nothing was typed)."""
    host = _host(typed)
    wanted = fold(host or typed)
    if not wanted:
        return list(outlets)
    table = [(o, keys(o)) for o in outlets]
    if host:  # a link or a host: its site or the nearest parent domain the table knows
        labels = host.split(".")
        for start in range(len(labels) - 1):
            parent = fold(".".join(labels[start:]))
            found = [o for o, ks in table if parent in ks]
            if found:
                return found
    stages = [
        lambda k: k == wanted,
        lambda k: k.startswith(wanted),
        lambda k: len(wanted) >= _MIN_PART and wanted in k,
    ]
    for test in stages:
        found = [o for o, ks in table if any(test(k) for k in ks)]
        if found:
            return found
    return []


def resolve(typed: str, outlets: Sequence[str]) -> str:
    """The one outlet typed means; OutletError with the choices when it means several or none."""
    found = matches(typed, outlets)
    if len(found) == 1:
        return found[0]
    exact = [o for o in found if fold(o) == fold(typed)]
    if len(exact) == 1:  # "NHK" when "NHK" and "NHK NEWS WEB" are both indexed
        return exact[0]
    if found:
        raise OutletError(typed, tuple(found), ambiguous=True)
    raise OutletError(typed, tuple(outlets), ambiguous=False)


def _host(typed: str) -> str:
    """The host of a typed link or domain ("" for a plain name), without "www."."""
    text = unicodedata.normalize("NFKC", typed).strip().lower()
    if "://" in text:
        text = urlsplit(text).hostname or ""
    elif "." in text and text.isascii() and " " not in text:
        text = text.split("/")[0]
    else:
        return ""
    return text.removeprefix("www.").rstrip(".")
