"""Links as people write them (IRIs) → what goes on the wire, what is stored and what is shown."""

from __future__ import annotations

import re
from urllib.parse import SplitResult, parse_qsl, quote, urlencode, urlsplit, urlunsplit

import idna

from ..errors import FetchError

# RFC 3986 characters kept as they are in a path, query and fragment; the rest is %-encoded
# as UTF-8 (RFC 3987 3.1). "%" stays only where it already starts an escape (_STRAY_PERCENT).
_PATH_SAFE = "/:@!$&'()*+,;=-._~%"
_QUERY_SAFE = _PATH_SAFE + "?"
_STRAY_PERCENT = re.compile(r"%(?![0-9A-Fa-f]{2})")
# Labels of letters, digits and hyphens; "_" too, as browsers and real DNS names allow it.
_HOST = re.compile(r"[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?(\.[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?)*\.?")
_TRACKING = re.compile(r"utm_", re.I)
_UNSEEN = re.compile("[\x00-\x20\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def split(url: str) -> tuple[SplitResult, int | None]:
    """The URL's parts and port; FetchError when it is no URL at all."""
    try:
        parts = urlsplit(url)
        return parts, parts.port
    except ValueError:
        raise FetchError(f"not a valid URL: {visible(shown(url))[:200]}") from None


def request_target(url: str) -> tuple[str, str, int, str]:
    """Scheme, ASCII host, port and %-encoded path?query of an http(s) IRI; else FetchError."""
    parts, port = split(url)
    if parts.scheme not in ("http", "https"):
        kind = parts.scheme or "this"
        raise FetchError(f"only http and https links can be fetched, not {kind!r}")
    if not parts.hostname:
        raise FetchError(f"no host in {visible(shown(url))[:200]}")
    if port == 0:
        raise FetchError(f"no port 0 to connect to in {visible(shown(url))[:200]}")
    host = ascii_host(parts.hostname)
    path = _encode(parts.path or "/", _PATH_SAFE)
    if not path.startswith("/"):
        path = "/" + path
    query = f"?{_encode(parts.query, _QUERY_SAFE)}" if parts.query else ""
    return parts.scheme, host, port or (443 if parts.scheme == "https" else 80), path + query


def ascii_host(host: str) -> str:
    """A host name as DNS and TLS know it (IDNA, UTS 46); IP literals as they are."""
    if ":" in host:  # an IPv6 literal (urlsplit has taken its brackets off)
        return host
    try:
        name = host if host.isascii() else idna.encode(host, uts46=True).decode("ascii")
    except idna.IDNAError as e:
        raise FetchError(f"not a valid host name: {host[:100]!r} ({e})") from None
    name = name.lower()
    if not _HOST.fullmatch(name) or len(name) > 253:
        raise FetchError(f"not a valid host name: {host[:100]!r}")
    return name


def _encode(text: str, safe: str) -> str:
    text = _STRAY_PERCENT.sub("%25", text)
    return quote(text, safe=safe, encoding="utf-8", errors="strict")


def location(raw: str) -> str:
    """A redirect's Location as text: http.client reads header bytes as Latin-1, so raw
    UTF-8 (common on Japanese sites) is recovered; other bytes stay as they were read."""
    try:
        return raw.encode("latin-1").decode("utf-8")
    except UnicodeError:
        return raw


def stored(url: str) -> str:
    """The URL kept in an article: no user name or password, no utm_* tracking, no fragment."""
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return visible(shown(url))
    netloc = parts.netloc.rpartition("@")[2]
    query = parts.query
    if query and _TRACKING.search(query):
        pairs = parse_qsl(query, keep_blank_values=True)
        query = urlencode([(k, v) for k, v in pairs if not k.lower().startswith("utm_")])
    return visible(urlunsplit((parts.scheme, netloc, parts.path, query, "")))


def visible(url: str) -> str:
    """Spaces, controls and bidi overrides %-encoded: the link reads as what it leads to."""
    return _UNSEEN.sub(lambda m: quote(m.group(), safe=""), url)


def shown(url: str) -> str:
    """The URL as printed and logged: without its user name and password."""
    scheme, sep, rest = url.partition("://")
    end = re.search(r"[/?#]", rest)
    authority, tail = (rest[: end.start()], rest[end.start() :]) if end else (rest, "")
    if not sep or "@" not in authority:
        return url
    return f"{scheme}://{authority.rpartition('@')[2]}{tail}"
