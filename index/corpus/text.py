"""Text helpers shared by the pipeline steps: normalization, sentences, links, n-grams."""

from __future__ import annotations

import bisect
import re
import unicodedata

import sentencex

# A link is ASCII only: in the seed coverage URLs are glued to the Japanese text after them.
URL_RE = re.compile(r"https?://[!-~]+")
# Markdown link/autolink punctuation that may trail a bare URL match.
_URL_TRAIL = ")>]}.,;:!?'\""
# In Japanese a sentence ends at 。！？!? (plus closing brackets/quotes) or a period before a space.
_SENTENCE_END = re.compile(r"[。！？!?]+[」』）)\"']*|\.(?=\s)")
# Balanced quotations and parentheses on one line; a stray bracket protects nothing.
_QUOTED = re.compile(
    r"「[^「」\n]{1,300}」|『[^『』\n]{1,300}』|（[^（）\n]{1,300}）|\([^()\n]{1,300}\)"
)
_PARTICLE = frozenset("とっをにがはのでもやへ")
_INVISIBLE = dict.fromkeys([0x200B, 0x200C, 0x200D, 0x2060, 0xFEFF, 0x00AD], None)
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")  # exactly Unicode category Cc


def normalize(text: str) -> str:
    """NFKC, lower-case, drop control and zero-width characters, squeeze spaces (for matching)."""
    text = _CONTROL.sub(" ", unicodedata.normalize("NFKC", text).translate(_INVISIBLE))
    return " ".join(text.lower().split())


_KANA_KANJI = re.compile(r"[\u3040-\u30ff\u3400-\u9fff]")


def language(text: str) -> str:
    """ "ja" unless the text is written in Latin letters with no kana or kanji."""
    ja = bool(_KANA_KANJI.search(text)) or not re.search(r"[A-Za-z]", text)
    return "ja" if ja else "en"


def squash(text: str) -> str:
    """NFKC without whitespace: texts that differ only in spacing or width compare equal."""
    return "".join(unicodedata.normalize("NFKC", text).split())


def clean(text: str) -> str:
    """Drop control and zero-width characters but keep the text as written (for display)."""
    text = text.translate(_INVISIBLE)
    return "".join(c for c in text if c in "\n\t" or unicodedata.category(c) != "Cc")


def split_sentences(text: str) -> list[str]:
    """Split Japanese or English text into sentences, keeping each one's punctuation."""
    return [text[a:b] for a, b in sentence_spans(text)]


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of each sentence in text, surrounding whitespace excluded.

    A line break always ends a sentence. A line without kana or kanji is split by sentencex, which
    knows abbreviations ("Sen. Smith", "6 p.m. on", "U.S.", decimals): on UD English-GUM it found
    the boundaries with a precision the old rule did not (benchmarks/sentences.py). A Japanese line
    keeps the rule below: a 。 or ！ inside a quotation or a parenthesis does not end the sentence
    around it, nor does a quotation's closing bracket followed by a particle (「…だ。」と述べた).
    """
    ends: list[int] = []
    for m in re.finditer(r"[^\n]+", text):
        line, at = m.group(0), m.start()
        if _KANA_KANJI.search(line) or not re.search(r"[A-Za-z]", line):
            ends.extend(at + end for end in _japanese_ends(line))
        else:
            for piece in sentencex.segment("en", line):
                at += len(piece)
                ends.append(at)
        ends.append(m.end())
    return _trimmed(text, ends)


def _japanese_ends(line: str) -> list[int]:
    """Where sentences end in one line of Japanese (or of neither script)."""
    quotes = [(m.start(), m.end()) for m in _QUOTED.finditer(line)]
    return [m.end() for m in _SENTENCE_END.finditer(line) if not _inside(line, m, quotes)]


def _trimmed(text: str, ends: list[int]) -> list[tuple[int, int]]:
    """The non-blank stretches between consecutive ends, without their outer whitespace."""
    out, start = [], 0
    for end in [*sorted(set(ends)), len(text)]:
        a, b = start, end
        while a < b and text[a].isspace():
            a += 1
        while b > a and text[b - 1].isspace():
            b -= 1
        if b > a:
            out.append((a, b))
        start = end
    return out


def _inside(text: str, m: re.Match, quotes: list[tuple[int, int]]) -> bool:
    """Whether a sentence end falls within a quotation (or closes one that the sentence goes on
    from)."""
    end = m.end()
    k = bisect.bisect_left(quotes, (end,)) - 1  # the last quotation opening before the end
    if k < 0:
        return False
    a, b = quotes[k]
    return end < b or (end == b and text[end : end + 1] in _PARTICLE)


def find_urls(text: str) -> list[str]:
    """Return the http(s) links in text, in order, without duplicates."""
    seen: dict[str, None] = {}
    for m in URL_RE.finditer(text):
        url = m.group(0)
        # Markdown wraps links in (...) or <...>; a balanced ')' belongs to the URL. Counting
        # once and moving an end index keeps a run of thousands of ')' linear.
        end, opened, closed = len(url), url.count("("), url.count(")")
        while end and url[end - 1] in _URL_TRAIL:
            if url[end - 1] == ")":
                if opened >= closed:
                    break
                closed -= 1
            end -= 1
        url = url[:end]
        if len(url) > len("https://"):
            seen.setdefault(url, None)
    return list(seen)


def is_word_char(c: str) -> bool:
    """True for letters, digits and marks (what lexical matching keeps)."""
    return unicodedata.category(c)[0] in "LNM"


def char_ngrams(text: str) -> list[str]:
    """Character unigrams and bigrams of normalized text; punctuation and spaces break bigrams."""
    grams: list[str] = []
    prev = ""
    for c in normalize(text):
        if is_word_char(c):
            grams.append(c)
            if prev:
                grams.append(prev + c)
            prev = c
        else:
            prev = ""
    return grams
