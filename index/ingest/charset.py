"""Page bytes → text: the declared charset when it decodes cleanly, else the <meta> one, else a
Japanese guess; never text with U+FFFD replacements (PageError instead)."""

from __future__ import annotations

import codecs
import logging
import re

from ..errors import PageError

log = logging.getLogger(__name__)

_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.I)
_XML_ENCODING = re.compile(rb"""<\?xml[^>]*?encoding\s*=\s*["']([A-Za-z0-9_.:-]+)["']""")
# Japanese sites label their encodings loosely; these are the codecs that decode what they mean.
_CODECS = {
    "shift_jis": "cp932",
    "shift-jis": "cp932",
    "sjis": "cp932",
    "x-sjis": "cp932",
    "windows-31j": "cp932",
    "ms_kanji": "cp932",
    "euc-jp": "euc_jis_2004",
    "x-euc-jp": "euc_jis_2004",
    "eucjp": "euc_jis_2004",
    "iso-2022-jp": "iso2022_jp_ext",
}
# Tried in this order when what the page declares does not decode: what Japanese pages use.
_GUESSES = ("utf-8", "cp932", "euc_jis_2004")
# Codecs that are not byte encodings of text, though Python knows their names.
_NOT_CHARSETS = {"undefined", "idna", "punycode", "raw_unicode_escape", "unicode_escape"}
# Text that decodes without error but reads as mojibake: EUC-JP read as CP932 turns into
# half-width katakana and private-use characters, which real pages use sparingly.
_ODD = re.compile(r"[\uff61-\uff9f\ue000-\uf8ff\x80-\x9f]")
_ODD_SHARE = 0.05
_ASCII = re.compile(r"[\x00-\x7f]+")
# A stray byte or two in the declared charset is dropped; more than this share is refused.
_BROKEN_SHARE = 0.001


def decode(body: bytes, charset: str | None = None) -> str:
    """Bytes → text by the declared charset (header, BOM, <meta>), else UTF-8, CP932, EUC-JP.

    A few broken bytes in the declared charset are dropped (logged); a body no candidate
    decodes raises PageError: text with U+FFFD replacements is never returned.
    """
    if body.startswith(b"\xef\xbb\xbf"):
        body, charset = body[3:], "utf-8"
    declared = [text_codec(charset), text_codec(declared_in(body))]
    if charset and not declared[0]:
        log.info("Unknown charset %r; guessing", charset[:40])
    # Valid UTF-8 with non-ASCII bytes is UTF-8 whatever the label says: Shift_JIS or EUC-JP
    # text of any length is almost never valid UTF-8, while mislabelled UTF-8 is common.
    first = ("utf-8",) if not body.isascii() and _is_utf8(body) else ()
    tried = list(dict.fromkeys(c for c in (*first, *declared, *_GUESSES) if c))
    fallback = None
    for codec in tried:
        try:
            text = body.decode(codec)
        except UnicodeDecodeError:
            continue
        if plausible(text):
            if declared[0] and codec != declared[0]:
                log.warning("Page declared %s but is %s", charset, codec)
            return text
        fallback = fallback or text
    if fallback is not None:
        return fallback
    for codec in dict.fromkeys(c for c in declared if c):
        text = body.decode(codec, errors="replace")
        broken = text.count("\ufffd")
        if broken <= len(text) * _BROKEN_SHARE:
            log.warning("Page is not valid %s: %d broken characters dropped", codec, broken)
            return text.replace("\ufffd", "")
    raise PageError(f"the page's text cannot be decoded (tried {', '.join(tried)})")


def declared_in(body: bytes) -> str | None:
    """The charset a page names in <meta> or its XML declaration, if any."""
    head = body[:8192]
    m = _META_CHARSET.search(head) or _XML_ENCODING.search(head)
    return m.group(1).decode("ascii") if m else None


def plausible(text: str) -> bool:
    """False for text that decoded without error but is mostly mojibake."""
    if text.isascii():
        return True
    wide = len(_ASCII.sub("", text))
    return len(_ODD.findall(text)) <= _ODD_SHARE * wide


def text_codec(name: str | None) -> str | None:
    """The Python codec for a charset a page or feed declares; None when it names no text codec."""
    if not name:
        return None
    name = name.strip().lower()
    codec = _CODECS.get(name, name)
    try:
        info = codecs.lookup(codec)
    except (LookupError, ValueError):
        return None
    # `undefined`, `idna` and `punycode` are codecs, not charsets: decoding by them raises.
    if info.name.replace("-", "_") in _NOT_CHARSETS or not getattr(info, "_is_text_encoding", True):
        return None
    return "utf-8" if info.name == "utf-8" else codec


def _is_utf8(body: bytes) -> bool:
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True
