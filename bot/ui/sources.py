"""Which sources an answer cites, merged per article and link (no discord: the CLI uses it too)."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from index import Answer, Hit

_MARKER = re.compile(r"\[(\d+)\]")
# Japanese sentences follow each other without a space; others get one.
_NO_SPACE_AFTER = re.compile(r"[。！？」』）)\u3000-\u9fff]$")


@dataclass(frozen=True)
class Source:
    """One cited page: the passages of one article quoted through one link."""

    number: int
    url: str | None
    hits: tuple[Hit, ...]

    @property
    def hit(self) -> Hit:
        return self.hits[0]


def cited_sources(answer: Answer) -> tuple[list[Source], dict[int, int]]:
    """The cited hits merged per article and link, numbered in citation order, and the map
    from each cited hit number to its source number."""
    order: dict[tuple[str, str], list[Hit]] = {}
    keys: dict[int, tuple[str, str]] = {}
    for n in citations(answer):
        if not 1 <= n <= len(answer.hits) or n in keys:
            continue
        hit = answer.hits[n - 1]
        url = source_url(hit)
        keys[n] = (hit.article, url or "")
        order.setdefault(keys[n], []).append(hit)
    numbers = {key: i for i, key in enumerate(order, 1)}
    sources = [Source(numbers[k], k[1] or None, tuple(hits)) for k, hits in order.items()]
    return sources, {n: numbers[k] for n, k in keys.items()}


def citations(answer: Answer) -> list[int]:
    """The hit number each answer sentence cites, in order (parsed from the text if need be)."""
    if answer.citations:
        return list(answer.citations)
    return [int(m) for m in _MARKER.findall(answer.text)]


def source_url(hit: Hit) -> str | None:
    """The link a hit is cited by: its first source, if it can be a link."""
    return linkable(hit.sources[0]) if hit.sources else None


def linkable(url: str) -> str | None:
    """The URL if it can be a link (http(s), short, no spaces), with parentheses encoded."""
    if not url.startswith(("https://", "http://")) or len(url) > 512 or re.search(r"\s", url):
        return None
    return url.replace("(", "%28").replace(")", "%29")


def cited_runs(pieces: Sequence[tuple[str, int | None]], marker: Callable[[int], str]) -> str:
    """Sentences joined, each run of them citing one source closed by that source's marker.

    pieces: (sentence, source number or None); marker(number): the marker's text (a plain
    [n] on the command line, a link in Discord). The one rule for both.
    """
    out = ""
    for i, (sentence, number) in enumerate(pieces):
        following = pieces[i + 1][1] if i + 1 < len(pieces) else None
        mark = marker(number) if number and following != number else ""
        sep = " " if out and not _NO_SPACE_AFTER.search(out) else ""
        out += sep + sentence.strip() + mark
    return out
